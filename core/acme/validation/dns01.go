package validation

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/miekg/dns"
)

// dns01 looks up TXT _acme-challenge.NAME (aliases followed) and accepts
// when one record is base64url(SHA-256(key authorization)) (RFC 8555
// section 8.4).
func (l *Local) dns01(ctx context.Context, req Request) *Problem {
	name := "_acme-challenge." + req.Identifier.Value
	sum := sha256.Sum256([]byte(req.KeyAuthorization))
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	rrs, err := l.res.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		if ctx.Err() != nil {
			return problem(ProblemDNS, "TXT %s: timed out", name)
		}
		if errors.Is(err, errNXDomain) {
			return problem(ProblemUnauthorized, "no TXT record at %s (NXDOMAIN)", name)
		}
		return problem(ProblemDNS, "TXT %s: %v", name, err)
	}
	var seen []string
	aliased := 0
	for _, rr := range rrs {
		if txt, ok := rr.(*dns.TXT); ok {
			v := strings.Join(txt.Txt, "")
			if v == want {
				return nil
			}
			if !strings.EqualFold(rr.Header().Name, dns.Fqdn(name)) {
				// Reached through an alias, which may point into a zone
				// only the validator sees: counted, not quoted.
				aliased++
				continue
			}
			if len(seen) < 5 {
				seen = append(seen, excerpt([]byte(v)))
			}
		}
	}
	switch {
	case len(seen) == 0 && aliased == 0:
		return problem(ProblemUnauthorized, "no TXT record at %s", name)
	case len(seen) == 0:
		return problem(ProblemIncorrectResponse, "%d TXT records at the alias of %s, none is %q", aliased, name, want)
	}
	return problem(ProblemIncorrectResponse, "TXT records at %s are %s, want %q", name, strings.Join(seen, ", "), want)
}
