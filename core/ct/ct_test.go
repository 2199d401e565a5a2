package ct_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ctgo "github.com/google/certificate-transparency-go"
	"github.com/google/certificate-transparency-go/ctutil"
	cttls "github.com/google/certificate-transparency-go/tls"
	ctx509 "github.com/google/certificate-transparency-go/x509"
	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/core/ca/lint"
	"github.com/pkid/pkid/core/ca/profile"
	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/ct"
	"github.com/pkid/pkid/internal/ctlogtest"
	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/sdk"
)

type memStore struct {
	sdk.CertStore
	recs []*sdk.CertRecord
}

func (m *memStore) Put(_ context.Context, r *sdk.CertRecord) error {
	m.recs = append(m.recs, r)
	return nil
}

// TestIssueWithSunlight issues a certificate under a 2-of-2 policy (two
// operators) against two real Sunlight logs: the precertificate carries
// the poison, the final certificate the two SCTs under the same serial,
// every SCT verifies with ct-go (over the precertificate and embedded),
// both certificates lint clean with zlint's RFC 6962 lints, openssl
// verifies the chain, and the certstore holds one record (the final
// certificate) with the precertificate in its metadata.
func TestIssueWithSunlight(t *testing.T) {
	a, b, _ := sunlights(t)
	t.Logf("Sunlight %s, sequencing period %s", ctlogtest.SunlightVersion, a.Period)
	store := &memStore{}
	src := ct.NewSource(ct.Options{})
	iss := issuer(t, policy(2, 2, 10*time.Second, 1, cfgLog(a.URL, a.KeyDER, "A"), cfgLog(b.URL, b.KeyDER, "B")), src, store)
	cert, err := iss.Sign(context.Background(), ca.SignRequest{CSR: leafCSR(t), Profile: "server", Metadata: json.RawMessage(`{"ticket":"T-1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.SCTs) != 2 || cert.Precertificate == nil {
		t.Fatalf("SCTs %d, precertificate %v", len(cert.SCTs), cert.Precertificate != nil)
	}
	pre, err := x509.ParseCertificate(cert.Precertificate)
	if err != nil {
		t.Fatal(err)
	}
	if pre.SerialNumber.Cmp(cert.Cert.SerialNumber) != 0 {
		t.Errorf("precertificate serial %v, certificate %v", pre.SerialNumber, cert.Cert.SerialNumber)
	}
	if !hasExt(pre, ca.OIDCTPoison, true) || hasExt(pre, ca.OIDCTSCTList, false) {
		t.Error("precertificate: want the critical poison and no SCT list")
	}
	if hasExt(cert.Cert, ca.OIDCTPoison, true) || !hasExt(cert.Cert, ca.OIDCTSCTList, false) {
		t.Error("certificate: want the SCT list and no poison")
	}

	// ct-go, independently of core/ct: each SCT over the precertificate
	// chain, and embedded in the final certificate.
	preCT, _ := ctx509.ParseCertificate(cert.Precertificate)
	leafCT, _ := ctx509.ParseCertificate(cert.DER)
	interCT, _ := ctx509.ParseCertificate(pki.inter.Raw)
	keys := map[string][]byte{a.URL: a.KeyDER, b.URL: b.KeyDER}
	seen := map[string]bool{}
	for _, s := range cert.SCTs {
		var sct ctgo.SignedCertificateTimestamp
		if _, err := cttls.Unmarshal(s.Raw, &sct); err != nil {
			t.Fatal(err)
		}
		pub, err := x509.ParsePKIXPublicKey(keys[s.LogURL])
		if err != nil {
			t.Fatalf("SCT from unexpected log %q", s.LogURL)
		}
		if err := ctutil.VerifySCT(pub, []*ctx509.Certificate{preCT, interCT}, &sct, false); err != nil {
			t.Errorf("%s: precertificate SCT: %v", s.LogURL, err)
		}
		if err := ctutil.VerifySCT(pub, []*ctx509.Certificate{leafCT, interCT}, &sct, true); err != nil {
			t.Errorf("%s: embedded SCT: %v", s.LogURL, err)
		}
		seen[s.LogURL] = true
	}
	if len(seen) != 2 {
		t.Errorf("SCTs from %v, want both logs", seen)
	}
	logs := resolve(t, policy(2, 2, time.Second, 0, cfgLog(a.URL, a.KeyDER, "A"), cfgLog(b.URL, b.KeyDER, "B")))
	vs, err := ct.VerifyEmbedded(cert.Cert, pki.inter, logs)
	if err != nil || len(vs) != 2 {
		t.Fatalf("VerifyEmbedded: %v, %d results", err, len(vs))
	}
	for _, v := range vs {
		if v.Err != nil || v.Log == nil {
			t.Errorf("VerifyEmbedded: %+v", v)
		}
	}

	// The final certificate can be logged too (add-chain, the path of
	// pkid ct submit); those SCTs cover the certificate itself.
	res, err := ct.NewSubmitter(ct.Options{}).Submit(context.Background(), &ct.Policy{Logs: logs, RequiredSCTs: 2, RequiredOperators: 2, Timeout: 10 * time.Second},
		ct.Request{Chain: [][]byte{cert.DER, pki.inter.Raw, pki.root.Raw}})
	if err != nil {
		t.Fatalf("add-chain: %v", err)
	}
	for _, r := range res {
		if err := ctutil.VerifySCT(r.Log.Key, []*ctx509.Certificate{leafCT}, r.SCT, false); err != nil {
			t.Errorf("%s: add-chain SCT: %v", r.Log.URL, err)
		}
	}

	// zlint's RFC 6962 lints, on both.
	l, err := lint.New(profile.Lint{Sources: []string{"RFC6962"}, Level: "info"})
	if err != nil {
		t.Fatal(err)
	}
	for name, der := range map[string][]byte{"precertificate": cert.Precertificate, "certificate": cert.DER} {
		rep, err := l.Lint(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Refusal("info"); err != nil {
			t.Errorf("%s: RFC 6962 lints: %v", name, err)
		}
	}

	// The certstore: one record, the final certificate's, carrying the
	// precertificate and the caller's metadata.
	if len(store.recs) != 1 || !bytes.Equal(store.recs[0].DER, cert.DER) {
		t.Fatalf("store: %d records", len(store.recs))
	}
	var md struct {
		Ticket string `json:"ticket"`
		CT     struct {
			Precertificate []byte   `json:"precertificate"`
			SCTs           []ca.SCT `json:"scts"`
		} `json:"ct"`
	}
	if err := json.Unmarshal(store.recs[0].Metadata, &md); err != nil {
		t.Fatal(err)
	}
	if md.Ticket != "T-1" || !bytes.Equal(md.CT.Precertificate, cert.Precertificate) || len(md.CT.SCTs) != 2 {
		t.Errorf("metadata %s", store.recs[0].Metadata)
	}

	// openssl, as an independent client, verifies the chain and sees the
	// SCTs.
	openssl := testtool.Require(t, "openssl")
	dir := t.TempDir()
	write := func(name string, ders ...[]byte) string {
		var buf bytes.Buffer
		for _, d := range ders {
			buf.Write(pemCert(d))
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, buf.Bytes(), 0o644)
		return p
	}
	out, err := exec.Command(openssl, "verify", "-CAfile", write("root.pem", pki.root.Raw), "-untrusted", write("inter.pem", pki.inter.Raw), write("leaf.pem", cert.DER)).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
	out, err = exec.Command(openssl, "x509", "-noout", "-text", "-in", write("leaf2.pem", cert.DER)).CombinedOutput()
	if err != nil || strings.Count(string(out), "Signed Certificate Timestamp:") != 2 {
		t.Errorf("openssl x509 -text: %v, want two SCTs:\n%s", err, out)
	}
}

// TestPolicy: rejecting and hanging logs are tolerated while the policy
// can still be met, and fatal when it cannot; the error names each log
// and why.
func TestPolicy(t *testing.T) {
	a, b, _ := sunlights(t)
	reject := ctlogtest.NewFakeLog(ctlogtest.Reject)
	defer reject.Close()
	hang := ctlogtest.NewFakeLog(ctlogtest.Hang)
	defer hang.Close()
	A, B := cfgLog(a.URL, a.KeyDER, "A"), cfgLog(b.URL, b.KeyDER, "B")
	R, H := cfgLog(reject.URL, reject.KeyDER, "R"), cfgLog(hang.URL, hang.KeyDER, "H")
	const timeout = 2 * time.Second
	for _, tc := range []struct {
		name    string
		policy  *config.CTPolicy
		wantErr []string // substrings; none: success
	}{
		{"2 of 4, one rejecting, one hanging", policy(2, 2, timeout, 0, A, B, R, H), nil},
		{"3 of 3, one rejecting", policy(3, 2, timeout, 0, A, B, R), []string{" of 3 SCTs", reject.URL + ": HTTP 400", "chain rejected"}},
		// N of N (CFSSL's every-log rule): the first failure ends it,
		// without waiting for the hanging log.
		{"3 of 3, one rejecting, one hanging", policy(3, 2, timeout, 0, A, R, H), []string{" of 3 SCTs", reject.URL + ": HTTP 400", "not awaited"}},
		// The hanging log's wait is the policy timeout: long enough that the
		// live Sunlight log answers within it even on a loaded machine.
		{"2 of 2, one hanging", policy(2, 1, timeout, 0, A, H), []string{"1 of 2 SCTs", hang.URL + ": no answer within 2s"}},
		{"2 operators, one available", policy(2, 2, timeout, 0, A, cfgLog(b.URL, b.KeyDER, "A")), []string{"2 of 2 SCTs from 1 of 2 operators"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := issuer(t, tc.policy, ct.NewSource(ct.Options{}), nil)
			start := time.Now()
			cert, err := iss.Sign(context.Background(), ca.SignRequest{CSR: leafCSR(t), Profile: "server"})
			took := time.Since(start)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(cert.SCTs) != 2 {
					t.Errorf("%d SCTs", len(cert.SCTs))
				}
				// Met without waiting for the hanging log.
				if took >= timeout {
					t.Errorf("took %s: waited for the hanging log", took)
				}
				return
			}
			if err == nil {
				t.Fatal("issued despite an unmet policy")
			}
			if strings.Contains(tc.name, "hanging") && strings.Contains(tc.name, "rejecting") && took >= timeout {
				t.Errorf("took %s: waited for the hanging log after the policy became impossible", took)
			}
			if ca.CodeOf(err) != ca.CodeCTSubmission || !errors.Is(err, ct.ErrPolicy) {
				t.Errorf("code %d, errors.Is(ErrPolicy) %v", ca.CodeOf(err), errors.Is(err, ct.ErrPolicy))
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestTemporalSharding: two Sunlight logs sharded by NotAfter; a
// certificate goes only to the log whose shard covers it (the other is
// not contacted), and a policy needing both fails naming the shard.
func TestTemporalSharding(t *testing.T) {
	testPKI(t)
	split := time.Now().Add(60 * 24 * time.Hour).UTC().Truncate(time.Second)
	early := ctlogtest.StartSunlight(t, ctlogtest.Config{Roots: []*x509.Certificate{pki.root}, Name: "early", NotAfterStart: time.Now().Add(-24 * time.Hour), NotAfterLimit: split})
	late := ctlogtest.StartSunlight(t, ctlogtest.Config{Roots: []*x509.Certificate{pki.root}, Name: "late", NotAfterStart: split, NotAfterLimit: time.Now().AddDate(5, 0, 0)})
	E := cfgLog(early.URL, early.KeyDER, "X")
	E.NotAfterStart, E.NotAfterLimit = time.Now().Add(-24*time.Hour), split
	L := cfgLog(late.URL, late.KeyDER, "X")
	L.NotAfterStart, L.NotAfterLimit = split, time.Now().AddDate(5, 0, 0)

	for _, tc := range []struct {
		name    string
		expiry  time.Duration
		want    string
		wantErr bool
	}{
		{"30 days: early shard", 30 * 24 * time.Hour, early.URL, false},
		{"80 days: late shard", 80 * 24 * time.Hour, late.URL, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := issuer(t, policy(1, 1, 5*time.Second, 0, E, L), ct.NewSource(ct.Options{}), nil)
			cert, err := iss.Sign(context.Background(), ca.SignRequest{CSR: leafCSR(t), Profile: "server", NotAfter: time.Now().Add(tc.expiry)})
			if err != nil {
				t.Fatal(err)
			}
			if len(cert.SCTs) != 1 || cert.SCTs[0].LogURL != tc.want {
				t.Errorf("SCTs %+v, want one from %s", cert.SCTs, tc.want)
			}
		})
	}
	iss := issuer(t, policy(2, 1, 5*time.Second, 0, E, L), ct.NewSource(ct.Options{}), nil)
	_, err := iss.Sign(context.Background(), ca.SignRequest{CSR: leafCSR(t), Profile: "server", NotAfter: time.Now().Add(30 * 24 * time.Hour)})
	if err == nil || !strings.Contains(err.Error(), late.URL+": its shard ["+split.Format(time.RFC3339)) {
		t.Errorf("error %v, want the late log's shard named", err)
	}
	// The log itself enforces its shard too: submitting out of shard is
	// refused by Sunlight.
	Lopen := cfgLog(late.URL, late.KeyDER, "X") // no shard declared
	iss = issuer(t, policy(1, 1, 5*time.Second, 0, Lopen), ct.NewSource(ct.Options{}), nil)
	if _, err := iss.Sign(context.Background(), ca.SignRequest{CSR: leafCSR(t), Profile: "server", NotAfter: time.Now().Add(30 * 24 * time.Hour)}); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("out-of-shard submission to Sunlight: %v, want its 400", err)
	}
}

func hasExt(c *x509.Certificate, id asn1.ObjectIdentifier, critical bool) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(id) {
			return e.Critical == critical
		}
	}
	return false
}

func resolve(t testing.TB, p *config.CTPolicy) []*ct.Log {
	t.Helper()
	pol, err := ct.Resolve(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return pol.Logs
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
