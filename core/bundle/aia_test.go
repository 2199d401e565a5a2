package bundle

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

// mapFetcher serves AIA URLs from a map and counts calls.
type mapFetcher struct {
	mu    sync.Mutex
	certs map[string][]*x509.Certificate
	calls []string
}

func (f *mapFetcher) Fetch(ctx context.Context, url string) ([]*x509.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, url)
	if c, ok := f.certs[url]; ok {
		return c, nil
	}
	return nil, errors.New("404")
}

// TestAIA: the intermediate is missing from the pool and the request; the
// leaf's caIssuers URL fetches it, and it is stashed under a name its CN
// cannot steer out of the stash directory.
func TestAIA(t *testing.T) {
	root := issue(t, certSpec{cn: "AIA Root", ca: true}, nil)
	inter := issue(t, certSpec{cn: "../../evil/AIA CA.example", ca: true}, root)
	tmpl := certSpec{cn: "aia.example.com", dns: []string{"aia.example.com"}}
	leaf := issue(t, tmpl, inter)
	// Re-issue the leaf with an AIA URL (certSpec has no field for it).
	leaf = withAIA(t, leaf, inter, "http://127.0.0.1:1/ca.crt")

	pool, err := NewPool([]sdk.TrustCert{{DER: root.cert.Raw, Root: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Without a fetcher: unknown authority.
	if _, err := (&Bundler{Pool: pool}).Bundle(context.Background(), Request{Chain: []*x509.Certificate{leaf.cert}}); CodeOf(err) != CodeUnknownAuthority {
		t.Fatalf("no fetcher: %v", err)
	}
	stash := filepath.Join(t.TempDir(), "stash")
	f := &mapFetcher{certs: map[string][]*x509.Certificate{"http://127.0.0.1:1/ca.crt": {inter.cert}}}
	bun := mustBundle(t, &Bundler{Pool: pool, Fetcher: f, Stash: stash}, Request{Chain: []*x509.Certificate{leaf.cert}})
	if len(bun.Chain) != 2 || !bun.Chain[1].Equal(inter.cert) {
		t.Fatalf("chain %q", names(bun.Chain))
	}
	if !reflect.DeepEqual(f.calls, []string{"http://127.0.0.1:1/ca.crt"}) {
		t.Errorf("fetches %q", f.calls)
	}
	ents, err := os.ReadDir(stash)
	if err != nil || len(ents) != 1 {
		t.Fatalf("stash: %v %v", ents, err)
	}
	name := ents[0].Name()
	if strings.ContainsAny(name, "/\\") || !strings.HasPrefix(name, "evilAIACAexample_") || !strings.HasSuffix(name, ".crt") {
		t.Errorf("stash name %q", name)
	}
	data, _ := os.ReadFile(filepath.Join(stash, name))
	if blk, _ := pem.Decode(data); blk == nil || !inter.cert.Equal(mustParse(t, blk.Bytes)) {
		t.Error("stashed file is not the intermediate")
	}

	// A fetcher that never helps is asked at most MaxFetches times.
	loop := &mapFetcher{certs: map[string][]*x509.Certificate{}}
	_, err = (&Bundler{Pool: pool, Fetcher: loop, Limits: Limits{MaxFetches: 1}}).Bundle(context.Background(), Request{Chain: []*x509.Certificate{leaf.cert}})
	if CodeOf(err) != CodeUnknownAuthority || len(loop.calls) != 1 {
		t.Errorf("useless fetcher: %v after %d calls", err, len(loop.calls))
	}
}

func mustParse(t testing.TB, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func withAIA(t testing.TB, n *node, parent *node, url string) *node {
	t.Helper()
	tmpl := *n.cert
	tmpl.IssuingCertificateURL = []string{url}
	tmpl.Raw, tmpl.RawTBSCertificate, tmpl.RawSubject, tmpl.RawIssuer, tmpl.RawSubjectPublicKeyInfo = nil, nil, nil, nil, nil
	tmpl.Extensions, tmpl.ExtraExtensions = nil, nil
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, parent.cert, n.key.Public(), parent.key)
	if err != nil {
		t.Fatal(err)
	}
	return &node{cert: mustParse(t, der), key: n.key}
}

// TestOutputDetails: hostnames in order without repeats, unknown subject
// attributes by OID, Ed25519's key_size quirk, the omission rule.
func TestOutputDetails(t *testing.T) {
	root := issue(t, certSpec{cn: "Out Root", ca: true}, nil)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject: pkix.Name{CommonName: "b.example.com", ExtraNames: []pkix.AttributeTypeAndValue{
			{Type: asn1.ObjectIdentifier{2, 5, 4, 42}, Value: "Given"},
		}},
		DNSNames:              []string{"a.example.com", "b.example.com", "c.example.com"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(20 * 24 * time.Hour), // expiring
		OCSPServer:            []string{"http://ocsp.example.com"},
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, root.cert, edKey.Public(), root.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf := mustParse(t, der)
	pool, _ := NewPool([]sdk.TrustCert{{DER: root.cert.Raw, Root: true}}, []sdk.Platform{{Name: "p", Weight: 1, AllRoots: true}})
	bun := mustBundle(t, &Bundler{Pool: pool}, Request{Chain: []*x509.Certificate{leaf}, Key: edKey})
	js, err := json.Marshal(bun)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Bundle    string   `json:"bundle"`
		Hostnames []string `json:"hostnames"`
		Subject   string   `json:"subject"`
		KeySize   int      `json:"key_size"`
		KeyType   string   `json:"key_type"`
		Key       string   `json:"key"`
		Signature string   `json:"signature"`
		Status    Status   `json:"status"`
	}
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	if want := []string{"b.example.com", "a.example.com", "c.example.com"}; !reflect.DeepEqual(m.Hostnames, want) {
		t.Errorf("hostnames %q, want %q", m.Hostnames, want)
	}
	if m.Subject != "/CommonName=b.example.com/2.5.4.42=Given" {
		t.Errorf("subject %q", m.Subject)
	}
	if m.KeySize != 32 || m.KeyType != "Ed25519" || m.Signature != "ECDSAWithSHA256" || !strings.HasPrefix(m.Key, "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("key_size %d key_type %q signature %q key %.30q", m.KeySize, m.KeyType, m.Signature, m.Key)
	}
	// OCSP leaf, not a CA, two certificates: the root stays in the bundle.
	if strings.Count(m.Bundle, "BEGIN CERTIFICATE") != 2 {
		t.Errorf("bundle has %d certificates, want leaf and root", strings.Count(m.Bundle, "BEGIN CERTIFICATE"))
	}
	if m.Status.Code != BitExpiring || len(m.Status.ExpiringSKIs) != 1 || len(m.Status.Untrusted) != 0 {
		t.Errorf("status %+v", m.Status)
	}
}

// TestConcurrent: one Bundler serves many goroutines (run with -race).
func TestConcurrent(t *testing.T) {
	p := newCrossPKI(t)
	b := &Bundler{Pool: p.pool(t, p.platforms)}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			fl := []Flavor{Ubiquitous, Optimal}[i%2]
			bun, err := b.Bundle(context.Background(), Request{Chain: []*x509.Certificate{p.leaf.cert}, Flavor: fl})
			if err == nil {
				_, err = json.Marshal(bun)
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
