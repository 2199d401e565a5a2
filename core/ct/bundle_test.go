package ct_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/core/bundle"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/ct"
	"github.com/pkid/pkid/internal/ctlogtest"
	"github.com/pkid/pkid/sdk"
)

// listEntry is one log of a test log list.
type listEntry struct {
	log   *ctlogtest.Log
	state string // "usable", "retired", ...
	at    time.Time
}

// sunlightList writes a v3 log list of the given Sunlight logs, each its
// own operator, and returns its path.
func sunlightList(t testing.TB, entries ...listEntry) string {
	t.Helper()
	var ops []string
	for i, e := range entries {
		id := sha256.Sum256(e.log.KeyDER)
		at := e.at
		if at.IsZero() {
			at = time.Now().Add(-24 * time.Hour)
		}
		ops = append(ops, fmt.Sprintf(`{"name": "op%d", "email": ["op%d@example.com"], "logs": [{"description": "log %d", "log_id": %q, "key": %q, "url": %q, "mmd": 60, "state": {%q: {"timestamp": %q}}}]}`,
			i, i, i, base64.StdEncoding.EncodeToString(id[:]), base64.StdEncoding.EncodeToString(e.log.KeyDER), e.log.URL+"/", e.state, at.UTC().Format(time.RFC3339)))
	}
	data := fmt.Sprintf(`{"version": "1.0", "log_list_timestamp": %q, "operators": [%s]}`, time.Now().UTC().Format(time.RFC3339), strings.Join(ops, ","))
	p := filepath.Join(t.TempDir(), "log_list.json")
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// bundleWith bundles leaf (issued by the test intermediate) against the
// test root, verifying SCTs with v (nil: none).
func bundleWith(t *testing.T, v bundle.SCTVerifier, leaf *x509.Certificate) (*bundle.Bundle, map[string]json.RawMessage) {
	t.Helper()
	pool, err := bundle.NewPool([]sdk.TrustCert{{DER: pki.root.Raw, Root: true, Source: "test"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle.Bundler{Pool: pool}
	if v != nil {
		b.SCTs = v
	}
	out, err := b.Bundle(context.Background(), bundle.Request{Chain: []*x509.Certificate{leaf, pki.inter}, Flavor: bundle.Optimal})
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	return out, m
}

// TestBundlerVerifiesSCTs: the bundler, given a v3 log list, verifies the
// SCTs real Sunlight logs issued for a certificate and reports each log's
// result in "scts" and in status messages: both verified; a certificate
// re-signed with another name but the same SCT list (tampered) fails
// both; a log missing from the list is an unknown log; a log retired
// before the SCT was issued fails it; a certificate without SCTs, or a
// bundler without a log list, gives CFSSL's output unchanged.
func TestBundlerVerifiesSCTs(t *testing.T) {
	a, b, _ := sunlights(t)
	iss := issuer(t, policy(2, 2, 10*time.Second, 1, cfgLog(a.URL, a.KeyDER, "A"), cfgLog(b.URL, b.KeyDER, "B")), ct.NewSource(ct.Options{}), nil)
	cert, err := iss.Sign(context.Background(), ca.SignRequest{CSR: leafCSR(t), Profile: "server"})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := iss.Sign(context.Background(), ca.SignRequest{CSR: leafCSR(t), Profile: "default"})
	if err != nil {
		t.Fatal(err)
	}
	both := ct.NewLogListVerifier(sunlightList(t, listEntry{log: a, state: "usable"}, listEntry{log: b, state: "usable"}), nil, nil)
	if err := both.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, cfsslKeys := bundleWith(t, nil, plain.Cert)

	t.Run("valid", func(t *testing.T) {
		out, m := bundleWith(t, both, cert.Cert)
		if len(out.SCTs) != 2 {
			t.Fatalf("scts %+v", out.SCTs)
		}
		urls := []string{}
		for _, r := range out.SCTs {
			if r.Result != bundle.SCTVerified {
				t.Errorf("%s: %s", r.LogURL, r.Result)
			}
			urls = append(urls, r.LogURL)
		}
		slices.Sort(urls)
		if want := []string{a.URL, b.URL}; !slices.Equal(urls, want) && !slices.Equal(urls, []string{b.URL, a.URL}) {
			t.Errorf("logs %v, want %v", urls, want)
		}
		for _, msg := range out.Status.Messages {
			if strings.Contains(msg, "SCT") {
				t.Errorf("message %q for valid SCTs", msg)
			}
		}
		if _, ok := m["scts"]; !ok {
			t.Error(`no "scts" field`)
		}
		var got []map[string]any
		json.Unmarshal(m["scts"], &got)
		if len(got) != 2 || got[0]["result"] != "verified" || got[0]["log_id"] == "" || got[0]["timestamp"] == "" {
			t.Errorf("scts JSON %s", m["scts"])
		}
	})

	t.Run("tampered", func(t *testing.T) {
		forged := resign(t, cert.Cert, "evil.example.com")
		out, _ := bundleWith(t, both, forged)
		if len(out.SCTs) != 2 {
			t.Fatalf("scts %+v", out.SCTs)
		}
		for _, r := range out.SCTs {
			if !strings.HasPrefix(r.Result, "invalid: SCT signature does not verify") {
				t.Errorf("%s: %q, want invalid", r.LogURL, r.Result)
			}
		}
		if n := countMessages(out, "is invalid: SCT signature does not verify"); n != 2 {
			t.Errorf("%d invalid-SCT messages in %q", n, out.Status.Messages)
		}
	})

	t.Run("unknown log", func(t *testing.T) {
		onlyA := ct.NewLogListVerifier(sunlightList(t, listEntry{log: a, state: "usable"}), nil, nil)
		out, _ := bundleWith(t, onlyA, cert.Cert)
		results := map[string]int{}
		for _, r := range out.SCTs {
			results[r.Result]++
			if r.Result == bundle.SCTUnknownLog && r.LogURL != "" {
				t.Errorf("unknown log with URL %q", r.LogURL)
			}
		}
		if results[bundle.SCTVerified] != 1 || results[bundle.SCTUnknownLog] != 1 {
			t.Errorf("results %v", results)
		}
		bid := sha256.Sum256(b.KeyDER)
		if n := countMessages(out, fmt.Sprintf("an SCT from a log not in the CT log list (log ID %x)", bid)); n != 1 {
			t.Errorf("messages %q", out.Status.Messages)
		}
	})

	t.Run("retired log", func(t *testing.T) {
		v := ct.NewLogListVerifier(sunlightList(t, listEntry{log: a, state: "usable"}, listEntry{log: b, state: "retired", at: time.Now().Add(-time.Hour)}), nil, nil)
		out, _ := bundleWith(t, v, cert.Cert)
		for _, r := range out.SCTs {
			want := "verified"
			if r.LogURL == b.URL {
				want = "invalid: SCT timestamp"
			}
			if !strings.HasPrefix(r.Result, want) {
				t.Errorf("%s: %q, want %q", r.LogURL, r.Result, want)
			}
		}
	})

	t.Run("no SCTs", func(t *testing.T) {
		out, m := bundleWith(t, both, plain.Cert)
		if out.SCTs != nil {
			t.Errorf("scts %+v", out.SCTs)
		}
		if !sameKeys(m, cfsslKeys) {
			t.Errorf("fields %v, want CFSSL's %v", keys(m), keys(cfsslKeys))
		}
	})

	t.Run("no log list", func(t *testing.T) {
		out, m := bundleWith(t, nil, cert.Cert)
		if out.SCTs != nil || !sameKeys(m, cfsslKeys) {
			t.Errorf("without a verifier: scts %v, fields %v", out.SCTs, keys(m))
		}
		if countMessages(out, "SCT") != 0 {
			t.Errorf("messages %q", out.Status.Messages)
		}
	})

	t.Run("malformed list", func(t *testing.T) {
		bad := resignWith(t, plain.Cert, "bad.example.com", pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}, Value: mustASN1(t, []byte{0, 5, 1, 2})})
		out, _ := bundleWith(t, both, bad)
		if out.SCTs == nil || len(out.SCTs) != 0 || countMessages(out, "embedded SCT list is malformed") != 1 {
			t.Errorf("scts %v, messages %q", out.SCTs, out.Status.Messages)
		}
	})

	t.Run("unreadable list", func(t *testing.T) {
		v := ct.NewLogListVerifier(filepath.Join(t.TempDir(), "missing.json"), nil, nil)
		out, _ := bundleWith(t, v, cert.Cert)
		if len(out.SCTs) != 2 || !strings.HasPrefix(out.SCTs[0].Result, "not verified: the CT log list could not be read") {
			t.Errorf("scts %+v", out.SCTs)
		}
	})

	// A list URL that fails is not fetched again by every request; once
	// it can be read (Load, as at start), SCTs verify.
	t.Run("list URL", func(t *testing.T) {
		list, err := os.ReadFile(sunlightList(t, listEntry{log: a, state: "usable"}, listEntry{log: b, state: "usable"}))
		if err != nil {
			t.Fatal(err)
		}
		var fetches atomic.Int32
		var up atomic.Bool
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fetches.Add(1)
			if !up.Load() {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			w.Write(list)
		}))
		defer srv.Close()
		v := ct.NewLogListVerifier(srv.URL+"/log_list.json", nil, srv.Client())
		for range 3 {
			out, _ := bundleWith(t, v, cert.Cert)
			if len(out.SCTs) != 2 || !strings.Contains(out.SCTs[0].Result, "503") {
				t.Fatalf("scts %+v", out.SCTs)
			}
		}
		if n := fetches.Load(); n != 1 {
			t.Errorf("%d fetches for three requests while the list is down", n)
		}
		up.Store(true)
		if err := v.Load(context.Background()); err != nil {
			t.Fatal(err)
		}
		out, _ := bundleWith(t, v, cert.Cert)
		if len(out.SCTs) != 2 || out.SCTs[0].Result != bundle.SCTVerified || out.SCTs[1].Result != bundle.SCTVerified {
			t.Errorf("scts %+v", out.SCTs)
		}
	})
}

func countMessages(b *bundle.Bundle, sub string) int {
	n := 0
	for _, m := range b.Status.Messages {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

func keys(m map[string]json.RawMessage) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sameKeys(a, b map[string]json.RawMessage) bool { return slices.Equal(keys(a), keys(b)) }

func mustASN1(t testing.TB, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// resign is what a forger with the CA's key, or a CA bug, produces: a
// certificate for another name carrying c's SCT list.
func resign(t testing.TB, c *x509.Certificate, name string) *x509.Certificate {
	t.Helper()
	for _, e := range c.Extensions {
		if e.Id.Equal(ca.OIDCTSCTList) {
			return resignWith(t, c, name, e)
		}
	}
	t.Fatal("no SCT list to copy")
	return nil
}

func resignWith(t testing.TB, c *x509.Certificate, name string, ext pkix.Extension) *x509.Certificate {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, KeyUsage: c.KeyUsage, ExtKeyUsage: c.ExtKeyUsage,
		ExtraExtensions: []pkix.Extension{ext},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pki.inter, c.PublicKey, pki.interKy)
	if err != nil {
		t.Fatal(err)
	}
	out, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzEmbeddedSCTs: the SCT list extension of an untrusted certificate
// (the bundle endpoint's input) parses or fails cleanly, within MaxSCTs.
func FuzzEmbeddedSCTs(f *testing.F) {
	f.Add(mustASN1(f, []byte{0, 0}))
	f.Add(mustASN1(f, []byte{0, 5, 1, 2}))
	f.Add([]byte{4, 0x81})
	sct := append([]byte{0}, make([]byte, 32+8)...)
	sct = append(sct, 0, 0, 4, 3, 0, 1, 0)
	f.Add(mustASN1(f, append([]byte{0, byte(len(sct) + 2), 0, byte(len(sct))}, sct...)))
	f.Fuzz(func(t *testing.T, value []byte) {
		c := &x509.Certificate{Extensions: []pkix.Extension{{Id: ca.OIDCTSCTList, Value: value}}}
		scts, err := ct.EmbeddedSCTs(c)
		if err != nil {
			return
		}
		if len(scts) > ct.MaxSCTs {
			t.Fatalf("%d SCTs", len(scts))
		}
		for _, s := range scts {
			if s == nil {
				t.Fatal("nil SCT")
			}
		}
	})
}

// TestKeylessLogs: CFSSL's ct_log_servers (log_servers) are submitted to
// without keys: under N of N both Sunlight logs' SCTs are embedded, with
// their real log IDs, and verify with the keys the test knows; under a
// native 1-of-2 policy a rejecting keyless log is tolerated; under N of N
// it fails issuance.
func TestKeylessLogs(t *testing.T) {
	a, b, _ := sunlights(t)
	reject := ctlogtest.NewFakeLog(ctlogtest.Reject)
	defer reject.Close()
	keyed := resolve(t, policy(2, 2, time.Second, 0, cfgLog(a.URL, a.KeyDER, "A"), cfgLog(b.URL, b.KeyDER, "B")))
	for _, tc := range []struct {
		name    string
		servers []string
		n       int
		want    []string // logs whose SCTs are embedded; nil: issuance fails
	}{
		{"N of N", []string{a.URL, b.URL + "/"}, 2, []string{a.URL, b.URL}},
		{"1 of 2, one rejecting", []string{reject.URL, a.URL}, 1, []string{a.URL}},
		{"N of N, one rejecting", []string{a.URL, reject.URL}, 2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &config.CTPolicy{LogServers: tc.servers, RequiredSCTs: tc.n, RequiredOperators: 1, Timeout: 10 * time.Second}
			cert, err := issuer(t, p, ct.NewSource(ct.Options{}), nil).Sign(context.Background(), ca.SignRequest{CSR: leafCSR(t), Profile: "server"})
			if tc.want == nil {
				if err == nil || ca.CodeOf(err) != ca.CodeCTSubmission || !strings.Contains(err.Error(), reject.URL+": HTTP 400") {
					t.Fatalf("err %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range cert.SCTs {
				got = append(got, s.LogURL)
				var want [32]byte
				for _, l := range keyed {
					if l.URL == s.LogURL {
						want = l.ID
					}
				}
				if string(s.LogID) != string(want[:]) {
					t.Errorf("%s: log ID %x, want %x", s.LogURL, s.LogID, want)
				}
			}
			want := slices.Sorted(slices.Values(tc.want))
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("SCTs from %v, want %v", got, want)
			}
			vs, err := ct.VerifyEmbedded(cert.Cert, pki.inter, keyed)
			if err != nil || len(vs) != len(tc.want) {
				t.Fatalf("VerifyEmbedded: %v, %d", err, len(vs))
			}
			for _, v := range vs {
				if v.Err != nil {
					t.Errorf("embedded SCT: %v", v.Err)
				}
			}
		})
	}
}
