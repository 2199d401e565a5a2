package lint

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
)

// TestPreIssuanceMatchesReal checks that the lint copy has the very TBS
// the real CA signs: only the signature differs.
func TestPreIssuanceMatchesReal(t *testing.T) {
	tests := []struct {
		ca, leaf string
		alg      x509.SignatureAlgorithm
		wantAlg  x509.SignatureAlgorithm
	}{
		{"p256", "p256", 0, x509.ECDSAWithSHA256},
		{"p384", "p256", 0, x509.ECDSAWithSHA384},
		{"rsa3072", "rsa2048", 0, x509.SHA256WithRSA},
		{"rsa3072", "p256", x509.SHA256WithRSAPSS, x509.SHA256WithRSAPSS},
		{"rsa2048", "ed25519", x509.SHA384WithRSA, x509.SHA384WithRSA},
		{"ed25519", "ed25519", 0, x509.PureEd25519},
	}
	for _, tc := range tests {
		t.Run(tc.ca+"/"+tc.leaf+"/"+tc.alg.String(), func(t *testing.T) {
			ca := newRoot(t, tc.ca)
			pub := testKey(t, tc.leaf).Public()
			tmpl := leafTemplate(t, pub)
			tmpl.SignatureAlgorithm = tc.alg
			real, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := x509.ParseCertificate(real)
			if err != nil {
				t.Fatal(err)
			}
			lc, err := x509.ParseCertificate(preIssue(t, tmpl, ca, pub))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rc.RawTBSCertificate, lc.RawTBSCertificate) {
				t.Error("lint copy TBS differs from the real certificate's")
			}
			if lc.SignatureAlgorithm != tc.wantAlg {
				t.Errorf("signature algorithm %v, want %v", lc.SignatureAlgorithm, tc.wantAlg)
			}
			if !bytes.Equal(lc.AuthorityKeyId, ca.cert.SubjectKeyId) ||
				!bytes.Equal(lc.RawIssuer, ca.cert.RawSubject) {
				t.Error("lint copy issuer name or AKI is not the parent's")
			}
			if lc.CheckSignatureFrom(ca.cert) == nil {
				t.Error("lint copy verifies under the issuer key")
			}
		})
	}
}

// TestPreIssuanceSelfSigned checks that the lint copy of a root has the
// real TBS and is linted as self-signed (no AKI needed), whether parent is
// the template or the parsed certificate, while a self-issued certificate
// under another key (a rollover certificate) is not.
func TestPreIssuanceSelfSigned(t *testing.T) {
	key := testKey(t, "p256")
	tmpl := caTemplate(t, "self", key.Public(), 1)
	real, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := x509.ParseCertificate(real)
	if err != nil {
		t.Fatal(err)
	}
	l := mustNew(t, profileLint{})
	for _, parent := range []*x509.Certificate{tmpl, rc} {
		der := mustPre(t, tmpl, parent, key.Public(), key.Public())
		lc, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rc.RawTBSCertificate, lc.RawTBSCertificate) {
			t.Error("self-signed lint copy TBS differs")
		}
		r, err := l.Lint(der)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Findings) != 0 {
			t.Errorf("root findings: %v", r.Findings)
		}
	}

	// Same name, other key: self-issued, not self-signed. Go writes no AKI
	// for it, which RFC 5280 only allows for self-signed certificates.
	other := testKey(t, "p384")
	der := mustPre(t, tmpl, rc, other.Public(), key.Public())
	r, err := l.Lint(der)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names(r.Findings), "e_ext_authority_key_identifier_no_key_identifier") {
		t.Errorf("rollover findings %v, want the AKI lint", r.Findings)
	}
}

func TestPreIssuanceErrors(t *testing.T) {
	ca := newRoot(t, "p256")
	pub := testKey(t, "p256").Public()
	tmpl := leafTemplate(t, pub)
	tests := []struct {
		name      string
		parent    *x509.Certificate
		issuerPub any
		want      string
	}{
		{"nil parent", nil, ca.key.Public(), "pre-issuance: nil template or parent"},
		{"unsupported key", ca.cert, "not a key", "pre-issuance: unsupported issuer key type string"},
		{"bad algorithm", ca.cert, testKey(t, "ed25519").Public(), "pre-issuance: x509:"},
	}
	tmplAlg := *tmpl
	tmplAlg.SignatureAlgorithm = x509.SHA256WithRSA
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PreIssuance(&tmplAlg, tc.parent, pub, tc.issuerPub)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("err = %v, want prefix %q", err, tc.want)
			}
		})
	}
}
