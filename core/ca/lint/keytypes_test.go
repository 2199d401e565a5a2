package lint

import (
	"crypto/x509"
	"strings"
	"testing"
)

// TestKeyTypesLintClean lints leaves and CA certificates of every key type
// with the default sources (must not refuse) and logs the warnings, and
// what CABF_BR says about the same certificates, for the record.
func TestKeyTypesLintClean(t *testing.T) {
	def := mustNew(t, profileLint{})
	br := mustNew(t, profileLint{Sources: []string{"CABF_BR"}})

	type cert struct {
		name string
		der  []byte
	}
	var certs []cert
	for _, kind := range []struct{ ca, leaf string }{
		{"p256", "p256"},
		{"p384", "p256"},
		{"rsa3072", "rsa2048"},
		{"rsa2048", "rsa2048"},
		{"ed25519", "ed25519"},
	} {
		root := newRoot(t, kind.ca)
		rootTmpl := caTemplate(t, "pkid test root "+kind.ca, root.key.Public(), -1)
		certs = append(certs, cert{"root " + kind.ca,
			mustPre(t, rootTmpl, rootTmpl, root.key.Public(), root.key.Public())})

		subKey := testKey(t, kind.leaf)
		sub := caTemplate(t, "pkid test intermediate "+kind.leaf, subKey.Public(), 0)
		sub.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		certs = append(certs, cert{"intermediate " + kind.leaf + " by " + kind.ca,
			preIssue(t, sub, root, subKey.Public())})

		leaf := leafTemplate(t, subKey.Public())
		certs = append(certs, cert{"leaf " + kind.leaf + " by " + kind.ca,
			preIssue(t, leaf, root, subKey.Public())})
	}
	for _, c := range certs {
		t.Run(c.name, func(t *testing.T) {
			r, err := def.Lint(c.der)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Err(); err != nil {
				t.Errorf("default sources refused: %v", err)
			}
			t.Logf("default: %s", list(r.Findings))
			rb, err := br.Lint(c.der)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("CABF_BR: %s", list(rb.Findings))
		})
	}
}

// mustPre is PreIssuance or fail.
func mustPre(t testing.TB, tmpl, parent *x509.Certificate, pub, issuerPub any) []byte {
	t.Helper()
	der, err := PreIssuance(tmpl, parent, pub, issuerPub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// list renders findings one per line.
func list(fs []Finding) string {
	if len(fs) == 0 {
		return "(none)"
	}
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("\n\t" + f.String())
	}
	return b.String()
}
