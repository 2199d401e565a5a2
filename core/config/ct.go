package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// CTPolicy is a profile's ct block: where a precertificate goes and how
// many SCTs issuance needs (docs/ct.md).
//
//	ct {
//	  required_scts      = 2
//	  required_operators = 2
//	  log "https://ct.example/2026h1" {
//	    key             = file("log.pem")  # PEM, or base64 DER
//	    operator        = "Example"
//	    not_after_start = "2026-01-01T00:00:00Z"
//	    not_after_limit = "2026-07-01T00:00:00Z"
//	  }
//	  log_list     = "logs.json"           # or an https:// URL (v3 JSON)
//	  log_list_key = file("list-key.pem")  # checks log_list's signature
//	}
type CTPolicy struct {
	Logs []*CTLog
	// LogList is a v3 JSON log list, a file (relative paths resolved
	// against the declaring file's directory) or an http(s) URL; its
	// usable logs join Logs when the policy is put to use.
	LogList string
	// LogListKey is the PEM or base64 DER public key of the list's
	// signer; when set the list's signature (LogList + ".sig") must
	// verify.
	LogListKey []byte
	// RequiredSCTs (default 2) and RequiredOperators (default 1 with one
	// log, else 2, never more than RequiredSCTs).
	RequiredSCTs, RequiredOperators int
	// Timeout bounds one submission attempt to one log (default 10s);
	// Retries is the number of further attempts (default 2).
	Timeout time.Duration
	Retries int
	// LogServers is CFSSL's ct_log_servers: URLs without keys. They are
	// submitted to like Logs, and count under the policy, but their
	// SCTs' signatures cannot be checked (a warning says so).
	LogServers []string

	DefRange, LogListRange hcl.Range
}

// CTLog is one log of a ct block.
type CTLog struct {
	URL string
	// KeyDER is the log's SubjectPublicKeyInfo (ECDSA P-256 or RSA of at
	// least 2048 bits, RFC 6962).
	KeyDER   []byte
	Operator string
	// NotAfterStart and NotAfterLimit are the temporal shard: the log
	// takes certificates whose NotAfter is in [start, limit). Zero: open.
	NotAfterStart, NotAfterLimit time.Time
	DefRange                     hcl.Range
}

// ID is the RFC 6962 log ID: SHA-256 of the key.
func (l *CTLog) ID() [32]byte { return sha256.Sum256(l.KeyDER) }

// Default policy numbers.
const (
	DefaultCTRequiredSCTs = 2
	DefaultCTTimeout      = 10 * time.Second
	DefaultCTRetries      = 2
	// MaxCTLogs bounds the logs of one policy (a log list included), so
	// one issuance starts a bounded number of submissions.
	MaxCTLogs = 64
)

var (
	ctSchema = &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{
			{Name: "required_scts"}, {Name: "required_operators"}, {Name: "timeout"}, {Name: "retries"},
			{Name: "log_list"}, {Name: "log_list_key"}, {Name: "log_servers"},
		},
		Blocks: []hcl.BlockHeaderSchema{{Type: "log", LabelNames: []string{"url"}}},
	}
	ctLogSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "key", Required: true}, {Name: "operator"},
		{Name: "not_after_start"}, {Name: "not_after_limit"},
	}}
)

// DecodeCT decodes a profile's ct block. Every problem is a diagnostic
// at the offending attribute or label (file:line:col).
func DecodeCT(b *hcl.Block, ctx *hcl.EvalContext) (*CTPolicy, hcl.Diagnostics) {
	content, diags := b.Body.Content(ctSchema)
	p := &CTPolicy{DefRange: b.DefRange, Timeout: DefaultCTTimeout, Retries: DefaultCTRetries}
	attrs := content.Attributes
	errf := func(rng hcl.Range, summary, format string, a ...any) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, a...), Subject: rng.Ptr()})
	}
	seen := map[string]hcl.Range{}
	for _, lb := range content.Blocks {
		l, ds := decodeCTLog(lb, ctx)
		diags = append(diags, ds...)
		if l == nil {
			continue
		}
		if prev, ok := seen[l.URL]; ok {
			errf(lb.LabelRanges[0], "Duplicate log", "The log %q was already declared at %s.", l.URL, prev)
			continue
		}
		seen[l.URL] = lb.DefRange
		p.Logs = append(p.Logs, l)
	}
	if len(p.Logs) > MaxCTLogs {
		errf(b.DefRange, "Too many logs", "A ct block may declare at most %d logs; it declares %d.", MaxCTLogs, len(p.Logs))
	}
	intAttr := func(name string, target *int, lo, hi int) {
		a := attrs[name]
		if a == nil {
			return
		}
		var f float64
		ds := decodeAttr(a, ctx, &f)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			return
		}
		if f != float64(int(f)) || int(f) < lo || int(f) > hi {
			errf(a.Expr.Range(), "Invalid "+name, "%s must be a whole number from %d to %d.", name, lo, hi)
			return
		}
		*target = int(f)
	}
	intAttr("required_scts", &p.RequiredSCTs, 1, MaxCTLogs)
	intAttr("required_operators", &p.RequiredOperators, 1, MaxCTLogs)
	intAttr("retries", &p.Retries, 0, 10)
	if a := attrs["timeout"]; a != nil {
		diags = append(diags, decodeDuration(a, ctx, &p.Timeout, false)...)
	}
	if a := attrs["log_list"]; a != nil {
		var s string
		ds := decodeAttr(a, ctx, &s)
		diags = append(diags, ds...)
		p.LogListRange = a.Expr.Range()
		if !ds.HasErrors() {
			resolved, err := logListSource(s, filepath.Dir(a.Expr.Range().Filename))
			if err != nil {
				errf(a.Expr.Range(), "Invalid log_list", "log_list: %v.", err)
			}
			p.LogList = resolved
		}
	}
	if a := attrs["log_list_key"]; a != nil {
		var s string
		ds := decodeAttr(a, ctx, &s)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			der, err := ParseCTKey(s, false)
			if err != nil {
				errf(a.Expr.Range(), "Invalid log_list_key", "log_list_key: %v.", err)
			}
			p.LogListKey = der
		}
		if attrs["log_list"] == nil {
			errf(a.NameRange, "log_list_key without log_list", "log_list_key checks the signature of log_list; set log_list or remove it.")
		}
	}
	if a := attrs["log_servers"]; a != nil {
		diags = append(diags, decodeAttr(a, ctx, &p.LogServers)...)
		if n := len(p.Logs) + len(p.LogServers); n > MaxCTLogs {
			errf(a.Expr.Range(), "Too many logs", "A ct block may name at most %d logs; with log_servers it names %d.", MaxCTLogs, n)
		}
		for _, s := range p.LogServers {
			if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errf(a.Expr.Range(), "Invalid URL", "log_servers: %q is not an absolute http(s) URL.", s)
			}
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "log_servers' SCTs are not verified",
			Detail:  "log_servers (CFSSL's ct_log_servers) name logs without their keys: their SCTs are embedded with their form checked but not their signatures, as CFSSL does; declare them as log \"URL\" { key = ... } blocks to verify them.",
			Subject: a.NameRange.Ptr()})
	}
	if diags.HasErrors() {
		return p, diags
	}
	if len(p.Logs) == 0 && p.LogList == "" && len(p.LogServers) == 0 {
		errf(b.DefRange, "ct block without logs", "Declare at least one log \"URL\" { key = ... } block or a log_list.")
		return p, diags
	}
	if p.RequiredSCTs == 0 {
		p.RequiredSCTs = DefaultCTRequiredSCTs
		if len(p.Logs) == 0 && p.LogList == "" {
			// Only CFSSL's keyless logs: CFSSL's rule, every one of them.
			p.RequiredSCTs = len(p.LogServers)
		}
	}
	if p.RequiredOperators == 0 {
		p.RequiredOperators = min(2, p.RequiredSCTs)
	}
	if p.RequiredOperators > p.RequiredSCTs {
		errf(attrs["required_operators"].Expr.Range(), "Invalid required_operators", "required_operators (%d) cannot exceed required_scts (%d): each SCT comes from one operator.", p.RequiredOperators, p.RequiredSCTs)
	}
	// Without a log list the declared logs are all there is: a policy
	// they cannot meet is a configuration error, not a failed issuance.
	if p.LogList == "" {
		ops := map[string]bool{}
		for _, l := range p.Logs {
			ops[l.Operator] = true
		}
		for _, u := range p.LogServers {
			ops[strings.TrimRight(u, "/")] = true // a keyless log is its own operator
		}
		switch n := len(p.Logs) + len(p.LogServers); {
		case n < p.RequiredSCTs:
			errf(b.DefRange, "CT policy cannot be met", "required_scts is %d but the block declares %d logs.", p.RequiredSCTs, n)
		case len(ops) < p.RequiredOperators:
			errf(b.DefRange, "CT policy cannot be met", "required_operators is %d but the logs have %d distinct operators.", p.RequiredOperators, len(ops))
		}
	}
	return p, diags
}

// logListSource checks a log list's location: an http(s) URL with a
// host, or a file (a relative path is resolved against dir).
func logListSource(s, dir string) (string, error) {
	switch u, err := url.Parse(s); {
	case s == "":
		return "", fmt.Errorf("name a file or an http(s) URL")
	case err == nil && (u.Scheme == "http" || u.Scheme == "https"):
		if u.Host == "" {
			return "", fmt.Errorf("%q has no host", s)
		}
		return s, nil
	case err == nil && u.Scheme != "" && len(u.Scheme) > 1:
		return "", fmt.Errorf("%q: only files and http(s) URLs are read", s)
	}
	if !filepath.IsAbs(s) {
		s = filepath.Join(dir, s)
	}
	return s, nil
}

func decodeCTLog(b *hcl.Block, ctx *hcl.EvalContext) (*CTLog, hcl.Diagnostics) {
	content, diags := b.Body.Content(ctLogSchema)
	raw := b.Labels[0]
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid log URL",
			Detail: fmt.Sprintf("log %q: the label must be the log's absolute http(s) submission URL (without /ct/v1/...).", raw), Subject: b.LabelRanges[0].Ptr()})
	}
	l := &CTLog{URL: strings.TrimRight(raw, "/"), DefRange: b.DefRange}
	attrs := content.Attributes
	if a := attrs["key"]; a != nil {
		var s string
		ds := decodeAttr(a, ctx, &s)
		diags = append(diags, ds...)
		if !ds.HasErrors() {
			der, err := ParseCTKey(s, true)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid log key",
					Detail: fmt.Sprintf("log %q: key: %v.", raw, err), Subject: a.Expr.Range().Ptr()})
			}
			l.KeyDER = der
		}
	}
	diags = append(diags, decodeAttr(attrs["operator"], ctx, &l.Operator)...)
	if l.Operator == "" {
		// A log without an operator is its own operator: it never helps
		// another log reach required_operators.
		l.Operator = l.URL
	}
	ts := func(name string, target *time.Time) {
		a := attrs[name]
		var s string
		ds := decodeAttr(a, ctx, &s)
		diags = append(diags, ds...)
		if a == nil || ds.HasErrors() {
			return
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid " + name,
				Detail: fmt.Sprintf("%s = %q must be an RFC 3339 time such as \"2026-01-01T00:00:00Z\".", name, s), Subject: a.Expr.Range().Ptr()})
			return
		}
		*target = t.UTC()
	}
	ts("not_after_start", &l.NotAfterStart)
	ts("not_after_limit", &l.NotAfterLimit)
	if !l.NotAfterStart.IsZero() && !l.NotAfterLimit.IsZero() && !l.NotAfterLimit.After(l.NotAfterStart) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Empty temporal shard",
			Detail: fmt.Sprintf("log %q: not_after_limit must be after not_after_start.", raw), Subject: attrs["not_after_limit"].Expr.Range().Ptr()})
	}
	return l, diags
}

// ParseCTKey parses a PEM ("PUBLIC KEY") or base64 DER SubjectPublicKeyInfo
// and returns the DER. logKey restricts it to what RFC 6962 logs sign with
// (ECDSA P-256, RSA of at least 2048 bits); a log list's signer may also
// use P-384.
func ParseCTKey(s string, logKey bool) ([]byte, error) {
	s = strings.TrimSpace(s)
	var der []byte
	if strings.HasPrefix(s, "-----BEGIN") {
		blk, rest := pem.Decode([]byte(s))
		if blk == nil {
			return nil, fmt.Errorf("malformed PEM")
		}
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\"", blk.Type)
		}
		if len(strings.TrimSpace(string(rest))) > 0 {
			return nil, fmt.Errorf("trailing data after the PEM block")
		}
		der = blk.Bytes
	} else {
		var err error
		if der, err = base64.StdEncoding.DecodeString(s); err != nil {
			return nil, fmt.Errorf("neither PEM nor base64 DER (use file(\"key.pem\") for a file)")
		}
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("not a public key: %v", err)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && (logKey || k.Curve != elliptic.P384()) {
			return nil, fmt.Errorf("ECDSA key on %s; logs sign with P-256", k.Curve.Params().Name)
		}
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits; at least 2048 are needed", k.N.BitLen())
		}
	default:
		return nil, fmt.Errorf("%T is not a CT log key (ECDSA P-256 or RSA)", pub)
	}
	return der, nil
}
