package scanchecks

import (
	"context"
	"crypto/x509"

	"github.com/pkid/pkid/sdk"
)

func broadFamily() *family {
	return &family{name: "Broad", desc: "Large scale scans of TLS hosts", checks: []*check{
		{"IntermediateCAs", "Intermediate CAs the host serves, and whether each chains to a trusted root (scan a range to survey them)", intermediateCAs},
	}}
}

type intermediate struct {
	Subject string `json:"subject"`
	SHA256  string `json:"sha256"`
	Known   bool   `json:"known"`
}

// intermediateCAs reports the CA certificates the host sends after its
// leaf. CFSSL's scanner takes a CIDR range itself; pkid's runner expands
// ranges into hosts and runs this per host.
func intermediateCAs(ctx context.Context, e *env) error {
	chain, ok, err := leafChain(ctx, e)
	if !ok {
		return err
	}
	pool := x509.NewCertPool()
	for _, c := range chain[1:] {
		pool.AddCert(c)
	}
	var out []intermediate
	var unknown []string
	for _, c := range chain[1:] {
		if !c.IsCA || isSelfSigned(c) {
			continue
		}
		_, verr := c.Verify(x509.VerifyOptions{Roots: e.c.roots, Intermediates: pool, CurrentTime: e.c.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		out = append(out, intermediate{Subject: c.Subject.String(), SHA256: fingerprint(c), Known: verr == nil})
		if verr != nil {
			unknown = append(unknown, c.Subject.String())
		}
	}
	switch {
	case len(out) == 0:
		return e.emit(sdk.GradeSkipped, "the host serves no intermediate CA", []intermediate{})
	case len(unknown) > 0:
		return e.emit(sdk.GradeWarning, "intermediate CAs that chain to no trusted root: "+joinQuoted(unknown), out)
	}
	return e.emit(sdk.GradeGood, "", out)
}

func joinQuoted(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += `"` + x + `"`
	}
	return out
}
