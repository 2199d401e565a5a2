package ct_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/ct"
	"github.com/pkid/pkid/internal/ctlogtest"
)

// The test PKI: a root, and an intermediate that issues leaves; Sunlight
// trusts the root.
var pki struct {
	once             sync.Once
	root, inter      *x509.Certificate
	rootKey, interKy crypto.Signer
	err              error
}

func testPKI(t testing.TB) {
	t.Helper()
	pki.once.Do(func() {
		ctx := context.Background()
		rootReq := &csr.Request{CN: "pkid CT test root", Names: []csr.Name{{C: "US", O: "pkid"}}, KeyRequest: &csr.KeyRequest{Algo: "ecdsa", Size: 256}}
		rk, err := rootReq.KeyRequest.Generate()
		if err != nil {
			pki.err = err
			return
		}
		root, _, err := ca.InitCA(ctx, ca.InitCARequest{Request: rootReq, Signer: rk})
		if err != nil {
			pki.err = err
			return
		}
		profiles, err := profile.ParseCFSSL([]byte(`{"signing": {"default": {"expiry": "8760h", "usages": ["digital signature"]},
		  "profiles": {"intermediate": {"expiry": "43800h", "usages": ["cert sign", "crl sign"], "ca_constraint": {"is_ca": true, "max_path_len": 0, "max_path_len_zero": true}}}}}`))
		if err != nil {
			pki.err = err
			return
		}
		rootIss, err := ca.NewIssuer(ca.IssuerConfig{Label: "root", Certificate: root.Cert, Signer: rk, Profiles: profiles})
		if err != nil {
			pki.err = err
			return
		}
		ireq := &csr.Request{CN: "pkid CT test issuing CA", Names: []csr.Name{{C: "US", O: "pkid"}}, KeyRequest: &csr.KeyRequest{Algo: "ecdsa", Size: 256}}
		ik, err := ireq.KeyRequest.Generate()
		if err != nil {
			pki.err = err
			return
		}
		icsr, err := csr.Generate(ireq, ik)
		if err != nil {
			pki.err = err
			return
		}
		inter, err := rootIss.Sign(ctx, ca.SignRequest{CSR: icsr, Profile: "intermediate"})
		if err != nil {
			pki.err = err
			return
		}
		pki.root, pki.inter, pki.rootKey, pki.interKy = root.Cert, inter.Cert, rk, ik
	})
	if pki.err != nil {
		t.Fatal(pki.err)
	}
}

// Three Sunlight logs, started once for the package (A and B by two
// operators, C by a third for the 2-of-3 benchmark).
var shared struct {
	once    sync.Once
	a, b, c *ctlogtest.Log
	err     error
}

func sunlights(t testing.TB) (a, b, c *ctlogtest.Log) {
	t.Helper()
	testPKI(t)
	shared.once.Do(func() {
		if _, shared.err = ctlogtest.BuildBinary(); shared.err != nil {
			return
		}
		for i, p := range []**ctlogtest.Log{&shared.a, &shared.b, &shared.c} {
			if *p, shared.err = ctlogtest.Start(ctlogtest.Config{Roots: []*x509.Certificate{pki.root}, Name: "log" + string(rune('a'+i))}); shared.err != nil {
				return
			}
		}
	})
	if shared.err != nil {
		ctlogtest.Missing(t, shared.err)
	}
	return shared.a, shared.b, shared.c
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, l := range []*ctlogtest.Log{shared.a, shared.b, shared.c} {
		if l != nil {
			l.Close()
		}
	}
	os.Exit(code)
}

// cfgLog is a ct block's log.
func cfgLog(url string, key []byte, operator string) *config.CTLog {
	return &config.CTLog{URL: url, KeyDER: key, Operator: operator}
}

// issuer returns an issuing CA whose "server" profile has policy p
// (nil: no CT), submitting through src.
func issuer(t testing.TB, p *config.CTPolicy, src ca.SCTSource, store *memStore) *ca.Issuer {
	t.Helper()
	testPKI(t)
	profiles, err := profile.ParseCFSSL([]byte(`{"signing": {"default": {"expiry": "2160h", "usages": ["digital signature", "server auth"]},
	  "profiles": {"server": {"expiry": "2160h", "usages": ["digital signature", "server auth"]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	profiles.Profiles["server"].CT = p
	cfg := ca.IssuerConfig{Label: "issuing", Certificate: pki.inter, Chain: []*x509.Certificate{pki.root}, Signer: pki.interKy, Profiles: profiles, SCTs: src}
	if store != nil {
		cfg.Store = store
	}
	iss, err := ca.NewIssuer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// leafCSR is a CSR for a server certificate.
func leafCSR(t testing.TB) []byte {
	t.Helper()
	r := &csr.Request{CN: "www.example.com", Hosts: []string{"www.example.com"}, KeyRequest: &csr.KeyRequest{Algo: "ecdsa", Size: 256}}
	k, err := r.KeyRequest.Generate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := csr.Generate(r, k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func policy(n, ops int, timeout time.Duration, retries int, logs ...*config.CTLog) *config.CTPolicy {
	return &config.CTPolicy{Logs: logs, RequiredSCTs: n, RequiredOperators: ops, Timeout: timeout, Retries: retries}
}

var _ = ct.NewSource
