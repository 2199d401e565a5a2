package acme_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge/dns01"
	"github.com/go-acme/lego/v5/challenge/http01"
	"github.com/go-acme/lego/v5/challenge/tlsalpn01"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/registration"
	"github.com/pkid/pkid/internal/dnstest"
	"github.com/pkid/pkid/internal/testtool"
)

// legoUser is lego's view of an ACME account.
type legoUser struct {
	key crypto.Signer
	reg *acme.ExtendedAccount
}

func (u *legoUser) GetEmail() string                       { return "" }
func (u *legoUser) GetRegistration() *acme.ExtendedAccount { return u.reg }
func (u *legoUser) GetPrivateKey() crypto.Signer           { return u.key }

// newLego returns a lego client for a profile of the harness, registered
// (without EAB) unless register is false.
func newLego(t testing.TB, h *harness, profile string, register bool) (*lego.Client, *legoUser) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	u := &legoUser{key: key}
	cfg := lego.NewConfig(u)
	cfg.CADirURL = h.Directory(profile)
	cfg.HTTPClient = h.Client()
	cfg.Certificate.Timeout = 30 * time.Second
	c, err := lego.NewClient(cfg)
	if err != nil {
		t.Fatalf("lego client: %v", err)
	}
	if register {
		reg, err := c.Registration.Register(context.Background(), registration.RegisterOptions{TermsOfServiceAgreed: true})
		if err != nil {
			t.Fatalf("register: %v", err)
		}
		u.reg = reg
	}
	return c, u
}

// certKey is a fresh certificate key.
func certKey() crypto.Signer {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return k
}

// legoPorts serialises tests that bind the validation ports.
var legoPorts sync.Mutex

// verifyChain checks an issued PEM chain with openssl against the dev
// root, the rest of the chain untrusted, for the names.
func verifyChain(t *testing.T, h *harness, chainPEM []byte, names ...string) *x509.Certificate {
	t.Helper()
	return verifyChainRoot(t, h.RootFile, chainPEM, names...)
}

// verifyChainRoot is verifyChain against the root in rootFile.
func verifyChainRoot(t *testing.T, rootFile string, chainPEM []byte, names ...string) *x509.Certificate {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		testtool.Missing(t, "openssl", err)
	}
	dir := t.TempDir()
	var leaf *x509.Certificate
	var rest []byte
	for i, data := 0, chainPEM; ; i++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if i == 0 {
			if leaf, err = x509.ParseCertificate(b.Bytes); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rest = append(rest, pem.EncodeToMemory(b)...)
	}
	if leaf == nil || len(rest) == 0 {
		t.Fatalf("chain has no leaf or no issuer:\n%s", chainPEM)
	}
	leafFile, untrusted := filepath.Join(dir, "leaf.pem"), filepath.Join(dir, "chain.pem")
	os.WriteFile(leafFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}), 0o600)
	os.WriteFile(untrusted, rest, 0o600)
	args := []string{"verify", "-CAfile", rootFile, "-untrusted", untrusted, "-purpose", "sslserver"}
	if len(names) > 0 && !strings.HasPrefix(names[0], "*") {
		args = append(args, "-verify_hostname", names[0])
	}
	out, err := exec.Command(openssl, append(args, leafFile)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), ": OK") {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
	got := strings.Join(leaf.DNSNames, ",")
	if got != strings.Join(names, ",") {
		t.Fatalf("certificate names %q, want %q", got, names)
	}
	return leaf
}

func TestLegoHTTP01(t *testing.T) {
	legoPorts.Lock()
	defer legoPorts.Unlock()
	h := shared
	names := []string{"www.acme.test", "api.acme.test"}
	for _, n := range names {
		h.DNS.SetA(n, "127.0.0.1")
	}
	c, _ := newLego(t, h, "web", true)
	if err := c.Challenge.SetHTTP01Provider(http01.NewProviderServer("127.0.0.1", strconv.Itoa(h.HTTPPort))); err != nil {
		t.Fatal(err)
	}
	res, err := c.Certificate.Obtain(context.Background(), certificate.ObtainRequest{Domains: names, Bundle: true, PrivateKey: certKey()})
	if err != nil {
		t.Fatalf("obtain: %v", err)
	}
	verifyChain(t, h, res.Certificate, names...)
}

func TestLegoTLSALPN01(t *testing.T) {
	legoPorts.Lock()
	defer legoPorts.Unlock()
	h := shared
	names := []string{"alpn.acme.test"}
	h.DNS.SetA(names[0], "127.0.0.1")
	c, _ := newLego(t, h, "web", true)
	if err := c.Challenge.SetTLSALPN01Provider(tlsalpn01.NewProviderServer("127.0.0.1", strconv.Itoa(h.TLSPort))); err != nil {
		t.Fatal(err)
	}
	res, err := c.Certificate.Obtain(context.Background(), certificate.ObtainRequest{Domains: names, Bundle: true, PrivateKey: certKey()})
	if err != nil {
		t.Fatalf("obtain: %v", err)
	}
	verifyChain(t, h, res.Certificate, names...)
}

// txtProvider is a lego dns-01 provider writing TXT records into the
// test's DNS server.
type txtProvider struct{ dns *dnstest.Server }

func (p txtProvider) Present(ctx context.Context, domain, token, keyAuth string) error {
	info := dns01.GetChallengeInfo(ctx, domain, keyAuth)
	p.dns.SetTXT(strings.TrimSuffix(info.EffectiveFQDN, "."), info.Value)
	return nil
}

func (p txtProvider) CleanUp(ctx context.Context, domain, token, keyAuth string) error {
	info := dns01.GetChallengeInfo(ctx, domain, keyAuth)
	p.dns.Delete(strings.TrimSuffix(info.EffectiveFQDN, "."))
	return nil
}

func TestLegoDNS01Wildcard(t *testing.T) {
	h := shared
	// lego's own propagation pre-check, asked of the test's DNS server.
	dns01.SetDefaultClient(dns01.NewClient(&dns01.Options{RecursiveNameservers: []string{h.DNS.Addr}, Timeout: 2 * time.Second}))
	c, _ := newLego(t, h, "web", true)
	err := c.Challenge.SetDNS01Provider(txtProvider{h.DNS}, dns01.DisableAuthoritativeNssPropagationRequirement(),
		dns01.PropagationWait(0, false))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"*.acme.test"}
	res, err := c.Certificate.Obtain(context.Background(), certificate.ObtainRequest{Domains: names, Bundle: true, PrivateKey: certKey()})
	if err != nil {
		t.Fatalf("obtain: %v", err)
	}
	verifyChain(t, h, res.Certificate, names...)
}

// TestCAA: a CAA record naming another CA refuses issuance with the caa
// problem; one naming this CA (caa_identities) allows it.
func TestCAA(t *testing.T) {
	legoPorts.Lock()
	defer legoPorts.Unlock()
	h := shared
	c, _ := newLego(t, h, "web", true)
	if err := c.Challenge.SetHTTP01Provider(http01.NewProviderServer("127.0.0.1", strconv.Itoa(h.HTTPPort))); err != nil {
		t.Fatal(err)
	}
	h.DNS.SetA("caa.acme.test", "127.0.0.1")
	h.DNS.SetCAA("caa.acme.test", dnstest.CAA{Tag: "issue", Value: "other-ca.example"})
	_, err := c.Certificate.Obtain(context.Background(), certificate.ObtainRequest{Domains: []string{"caa.acme.test"}, PrivateKey: certKey()})
	if err == nil || !strings.Contains(err.Error(), "urn:ietf:params:acme:error:caa") {
		t.Fatalf("CAA forbidding pkid: %v", err)
	}
	h.DNS.SetA("caaok.acme.test", "127.0.0.1")
	h.DNS.SetCAA("caaok.acme.test", dnstest.CAA{Tag: "issue", Value: "pkid.test"})
	res, err := c.Certificate.Obtain(context.Background(), certificate.ObtainRequest{Domains: []string{"caaok.acme.test"}, Bundle: true, PrivateKey: certKey()})
	if err != nil {
		t.Fatalf("CAA naming pkid: %v", err)
	}
	verifyChain(t, h, res.Certificate, "caaok.acme.test")
}
