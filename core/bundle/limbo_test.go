package bundle

import (
	"compress/gzip"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// limboCase is the part of an x509-limbo test case the bundler uses.
type limboCase struct {
	ID                     string   `json:"id"`
	ValidationKind         string   `json:"validation_kind"`
	TrustedCerts           []string `json:"trusted_certs"`
	UntrustedIntermediates []string `json:"untrusted_intermediates"`
	PeerCertificate        string   `json:"peer_certificate"`
	ValidationTime         *string  `json:"validation_time"`
	ExtendedKeyUsage       []string `json:"extended_key_usage"`
	ExpectedResult         string   `json:"expected_result"`
	ExpectedPeerName       *struct {
		Kind  string `json:"kind"`
		Value string `json:"value"`
	} `json:"expected_peer_name"`
	MaxChainDepth *int `json:"max_chain_depth"`
}

func loadLimbo(t testing.TB) []limboCase {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", "x509-limbo", "limbo-core.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Testcases []limboCase `json:"testcases"`
	}
	if err := json.NewDecoder(zr).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc.Testcases
}

func pemCerts(t testing.TB, blocks []string) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for _, s := range blocks {
		b, _ := pem.Decode([]byte(s))
		if b == nil {
			t.Fatalf("bad PEM in case")
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			// Some cases carry deliberately malformed certificates; Go
			// cannot parse them, so neither verifier sees them.
			continue
		}
		out = append(out, c)
	}
	return out
}

// limboSetup is one case as both verifiers see it.
type limboSetup struct {
	roots, inters []*x509.Certificate
	leaf          *x509.Certificate
	now           time.Time
	host          string
	ip            net.IP
}

func setupLimbo(t testing.TB, c limboCase) (*limboSetup, bool) {
	leafs := pemCerts(t, []string{c.PeerCertificate})
	if len(leafs) == 0 {
		return nil, false
	}
	s := &limboSetup{roots: pemCerts(t, c.TrustedCerts), inters: pemCerts(t, c.UntrustedIntermediates), leaf: leafs[0], now: time.Now()}
	if c.ValidationTime != nil {
		tm, err := time.Parse(time.RFC3339, *c.ValidationTime)
		if err != nil {
			t.Fatalf("%s: validation_time: %v", c.ID, err)
		}
		s.now = tm
	}
	if n := c.ExpectedPeerName; n != nil {
		switch n.Kind {
		case "DNS":
			s.host = n.Value
		case "IP":
			s.ip = net.ParseIP(n.Value)
		default:
			return nil, false
		}
	}
	return s, true
}

// goVerify is Go's crypto/x509 on the same case: the baseline.
func goVerify(s *limboSetup) error {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range s.roots {
		roots.AddCert(c)
	}
	for _, c := range s.inters {
		inter.AddCert(c)
	}
	name := s.host
	if s.ip != nil {
		name = s.ip.String()
	}
	_, err := s.leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name,
		CurrentTime: s.now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

// bundleLimbo runs the bundler on a case: the trusted certificates are
// the pool's roots, the untrusted intermediates come with the leaf. A
// success is checked again by Go's verifier with only the returned
// certificates.
func bundleLimbo(c limboCase, s *limboSetup) error {
	var tcs []sdk.TrustCert
	for _, r := range s.roots {
		tcs = append(tcs, sdk.TrustCert{DER: r.Raw, Root: true, Source: "limbo"})
	}
	pool, err := NewPool(tcs, nil)
	if err != nil {
		return err
	}
	b := &Bundler{Pool: pool}
	if c.MaxChainDepth != nil {
		b.Limits.MaxDepth = *c.MaxChainDepth + 2
	}
	req := Request{Chain: append([]*x509.Certificate{s.leaf}, s.inters...), Hostname: s.host, IP: s.ip,
		Now: s.now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bun, err := b.Bundle(ctx, req)
	if err != nil {
		return err
	}
	// Only what the bundle returns: its chain and its root.
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(bun.Root)
	for _, x := range bun.Chain[1:] {
		if !x.Equal(bun.Root) {
			inter.AddCert(x)
		}
	}
	name := s.host
	if s.ip != nil {
		name = s.ip.String()
	}
	if _, err := bun.Chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name,
		CurrentTime: s.now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("returned chain does not verify alone: %w", err)
	}
	if !bun.Chain[0].Equal(s.leaf) {
		return fmt.Errorf("bundle starts with another certificate")
	}
	return nil
}

// TestLimbo runs every x509-limbo case with a server-auth expectation
// through the bundler and through Go's crypto/x509, and fails when the
// bundler gets any family (the id before "::") wrong more often than Go.
func TestLimbo(t *testing.T) {
	type tally struct{ total, bundler, golang int }
	fam := map[string]*tally{}
	var regressions []string
	for _, c := range loadLimbo(t) {
		if c.ValidationKind != "SERVER" {
			continue
		}
		s, ok := setupLimbo(t, c)
		if !ok {
			continue
		}
		f := strings.SplitN(c.ID, "::", 2)[0]
		if fam[f] == nil {
			fam[f] = &tally{}
		}
		tl := fam[f]
		tl.total++
		want := c.ExpectedResult == "SUCCESS"
		bErr := bundleLimbo(c, s)
		gErr := goVerify(s)
		bOK, gOK := (bErr == nil) == want, (gErr == nil) == want
		if bOK {
			tl.bundler++
		}
		if gOK {
			tl.golang++
		}
		if !bOK {
			msg := fmt.Sprintf("%s (want %s; go right: %v): bundler: %v", c.ID, c.ExpectedResult, gOK, bErr)
			if gOK {
				regressions = append(regressions, msg)
			}
			t.Log("wrong:", msg)
		}
	}
	names := make([]string, 0, len(fam))
	for f := range fam {
		names = append(names, f)
	}
	sort.Strings(names)
	t.Logf("%-14s %6s %8s %8s", "family", "cases", "bundler", "go")
	for _, f := range names {
		tl := fam[f]
		t.Logf("%-14s %6d %8d %8d", f, tl.total, tl.bundler, tl.golang)
		if tl.bundler < tl.golang {
			t.Errorf("family %s: bundler right on %d of %d cases, Go on %d", f, tl.bundler, tl.total, tl.golang)
		}
	}
	for _, r := range regressions {
		t.Log("go right, bundler wrong:", r)
	}
	if len(fam) == 0 {
		t.Fatal("no limbo case ran")
	}
}
