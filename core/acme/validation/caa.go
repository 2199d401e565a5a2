package validation

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// CAAValue is a parsed issue or issuewild property value (RFC 8659
// section 4.2). An empty Issuer grants no issuer ("issue ;").
type CAAValue struct {
	Issuer     string
	Parameters []CAAParameter
}

// CAAParameter is one tag=value parameter, in record order.
type CAAParameter struct {
	Tag, Value string
}

// ParseCAAValue parses an issue/issuewild value:
//
//	issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
//
// with parameters separated by ";" and values of printable ASCII other
// than ";" and space. The issuer is lower-cased. It returns an error for
// anything outside the grammar; such a record authorizes nobody.
func ParseCAAValue(s string) (CAAValue, error) {
	var v CAAValue
	rest := trimWSP(s)
	issuer, params, hasParams := strings.Cut(rest, ";")
	issuer = trimWSP(issuer)
	if issuer != "" {
		if !ldhName(issuer) {
			return v, fmt.Errorf("caa: issuer %q is not a domain name", issuer)
		}
		v.Issuer = strings.ToLower(issuer)
	}
	if !hasParams {
		return v, nil
	}
	params = trimWSP(params)
	if params == "" {
		return v, nil
	}
	for _, p := range strings.Split(params, ";") {
		tag, val, ok := strings.Cut(p, "=")
		if !ok {
			return v, fmt.Errorf("caa: parameter %q has no '='", trimWSP(p))
		}
		tag, val = trimWSP(tag), trimWSP(val)
		if !ldhLabel(tag) {
			return v, fmt.Errorf("caa: parameter tag %q is not letters, digits and hyphens", tag)
		}
		for i := 0; i < len(val); i++ {
			if c := val[i]; c < 0x21 || c > 0x7e || c == ';' {
				return v, fmt.Errorf("caa: parameter %s has a value with %q", tag, c)
			}
		}
		v.Parameters = append(v.Parameters, CAAParameter{Tag: tag, Value: val})
	}
	return v, nil
}

// String formats v as a property value (ParseCAAValue's inverse).
func (v CAAValue) String() string {
	if v.Issuer == "" && len(v.Parameters) == 0 {
		return ";"
	}
	var b strings.Builder
	b.WriteString(v.Issuer)
	for _, p := range v.Parameters {
		b.WriteString("; " + p.Tag + "=" + p.Value)
	}
	return b.String()
}

func trimWSP(s string) string { return strings.Trim(s, " \t") }

// ldhLabel: (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT)).
func ldhLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// ldhName: label *("." label).
func ldhName(s string) bool {
	for _, l := range strings.Split(s, ".") {
		if !ldhLabel(l) {
			return false
		}
	}
	return true
}

// knownCAATags are the property tags this validator understands: a
// critical record with any other tag refuses issuance.
var knownCAATags = map[string]bool{
	"issue": true, "issuewild": true, "iodef": true,
	"issuemail": true, "issuevmc": true, "contactemail": true, "contactphone": true,
}

// errCAALookup marks a failed CAA lookup (refuses issuance).
var errCAALookup = errors.New("caa lookup failed")

// relevantCAA climbs from name toward the root (the root itself is not
// asked) and returns the first non-empty CAA RRset and the name it
// belongs to (RFC 8659 section 3). Aliases are followed by the
// resolver. NXDOMAIN and NODATA continue the climb; any other failure
// wraps errCAALookup.
func (l *Local) relevantCAA(ctx context.Context, name string) ([]*dns.CAA, string, error) {
	labels := dns.SplitDomainName(name)
	for i := range labels {
		x := strings.Join(labels[i:], ".")
		rrs, err := l.res.lookup(ctx, x, dns.TypeCAA)
		if err != nil && !errors.Is(err, errNXDomain) {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, x, fmt.Errorf("%w for %s: %v", errCAALookup, x, err)
		}
		var caas []*dns.CAA
		for _, rr := range rrs {
			if c, ok := rr.(*dns.CAA); ok {
				caas = append(caas, c)
			}
		}
		if len(caas) > 0 {
			return caas, x, nil
		}
	}
	return nil, "", nil
}

// checkCAA refuses when the relevant CAA RRset does not authorize this
// CA (one of req.CAAIdentities) for req's name, account and challenge
// type. No CAA records anywhere up the tree authorize every CA.
func (l *Local) checkCAA(ctx context.Context, req Request) *Problem {
	name := req.Identifier.Value
	caas, at, err := l.relevantCAA(ctx, name)
	if err != nil {
		return problem(ProblemCAA, "%v", err)
	}
	if p := evaluateCAA(caas, req); p != nil {
		p.Detail = fmt.Sprintf("CAA records at %s: %s", at, p.Detail)
		return p
	}
	return nil
}

// evaluateCAA applies one relevant RRset to req.
func evaluateCAA(caas []*dns.CAA, req Request) *Problem {
	var issue, wild []*dns.CAA
	for _, c := range caas {
		tag := strings.ToLower(c.Tag)
		if c.Flag&128 != 0 && !knownCAATags[tag] {
			return problem(ProblemCAA, "unknown critical property %q", c.Tag)
		}
		switch tag {
		case "issue":
			issue = append(issue, c)
		case "issuewild":
			wild = append(wild, c)
		}
	}
	relevant, kind := issue, "issue"
	if req.Wildcard && len(wild) > 0 {
		relevant, kind = wild, "issuewild"
	}
	if len(relevant) == 0 {
		return nil
	}
	var reasons []string
	for _, c := range relevant {
		v, err := ParseCAAValue(c.Value)
		if err != nil {
			reasons = append(reasons, err.Error())
			continue
		}
		why := authorizes(v, req)
		if why == "" {
			return nil
		}
		reasons = append(reasons, fmt.Sprintf("%s %q: %s", kind, c.Value, why))
	}
	return problem(ProblemCAA, "no %s record authorizes this CA (%s): %s",
		kind, strings.Join(req.CAAIdentities, ", "), strings.Join(reasons, "; "))
}

// authorizes returns "" when v names one of req's CA identities and its
// accounturi (RFC 8657 section 3) and validationmethods (section 4)
// parameters admit req, and otherwise why not. A parameter given twice
// makes the record unusable; unknown parameters are ignored.
func authorizes(v CAAValue, req Request) string {
	if v.Issuer == "" {
		return "forbids every CA"
	}
	found := false
	for _, id := range req.CAAIdentities {
		if strings.EqualFold(strings.TrimSuffix(id, "."), v.Issuer) {
			found = true
		}
	}
	if !found {
		return "names another CA"
	}
	seen := map[string]bool{}
	for _, p := range v.Parameters {
		tag := strings.ToLower(p.Tag)
		if tag != "accounturi" && tag != "validationmethods" {
			continue
		}
		if seen[tag] {
			return tag + " given twice"
		}
		seen[tag] = true
		switch tag {
		case "accounturi":
			if p.Value != req.AccountURI {
				return "accounturi names another account"
			}
		case "validationmethods":
			ok := false
			for _, m := range strings.Split(p.Value, ",") {
				if m == req.Type {
					ok = true
				}
			}
			if !ok {
				return "validationmethods excludes " + req.Type
			}
		}
	}
	return ""
}
