package lint

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	zl "github.com/zmap/zlint/v3/lint"

	"github.com/pkid/pkid/core/ca/profile"
)

// Linter runs one profile's lint settings. It is safe for concurrent use;
// build it once per profile (New caches the expensive part anyway).
type Linter struct {
	registry zl.Registry
	level    zl.LintStatus
	disabled bool
	// lints and config are the registry's, taken once: zlint's
	// LintCertificateEx sorts every lint name (Registry.Names) on each
	// call just to size a map.
	lints  []*zl.CertificateLint
	config zl.Configuration
	// smallKey is smallKeyLint's registration when the selection holds
	// it: Lint runs its search itself (smallkey.go), not zlint's.
	smallKey *zl.CertificateLint
}

// registryCache holds one filtered registry per distinct lint selection:
// filtering zlint's global registry costs about as much as linting a
// certificate (~0.4 ms), and the CA builds a Linter per issuance.
var registryCache = struct {
	sync.Mutex
	m map[string]zl.Registry
}{m: map[string]zl.Registry{}}

// New returns a Linter for cfg. An empty Level means "error"; nil or empty
// Sources mean DefaultSources. It returns an error for an unknown level,
// an unknown source name in Sources or IgnoredSources (listing the valid
// ones) or an unknown lint name in IgnoredLints (suggesting close names).
// A disabled cfg is still validated, so a typo does not hide until the
// profile is re-enabled.
func New(cfg profile.Lint) (*Linter, error) {
	level, err := parseLevel(cfg.Level)
	if err != nil {
		return nil, err
	}
	srcNames := cfg.Sources
	if len(srcNames) == 0 {
		srcNames = DefaultSources
	}
	include, err := resolveSources(srcNames)
	if err != nil {
		return nil, err
	}
	exclude, err := resolveSources(cfg.IgnoredSources)
	if err != nil {
		return nil, fmt.Errorf("ignored sources: %w", err)
	}
	ignored, err := resolveLintNames(cfg.IgnoredLints)
	if err != nil {
		return nil, fmt.Errorf("ignored lints: %w", err)
	}
	ignored = withSignatureLints(ignored)
	reg, err := filteredRegistry(include, exclude, ignored)
	if err != nil {
		return nil, err
	}
	l := &Linter{registry: reg, level: level, disabled: cfg.Disabled, config: reg.GetConfiguration()}
	for _, cl := range reg.CertificateLints().Lints() {
		if cl.Name == smallKeyLint {
			l.smallKey = cl
			continue
		}
		l.lints = append(l.lints, cl)
	}
	return l, nil
}

// SignatureLints are the zlint lints that verify the certificate's
// signature. A PreIssuance copy carries a throwaway signature, so they
// cannot say anything about the real certificate; New always leaves them
// out. (e_cert_issued_by_compromised_emudhra_ca checks the signature
// against eight compromised P-384 keys and was also ~75% of the linting
// time for an ECDSA leaf.)
var SignatureLints = []string{"e_cert_issued_by_compromised_emudhra_ca"}

// withSignatureLints adds the registered SignatureLints to the sorted
// names, keeping them sorted and unique.
func withSignatureLints(names []string) []string {
	lookup := zl.GlobalRegistry().CertificateLints()
	out := append([]string(nil), names...)
	for _, n := range SignatureLints {
		if lookup.ByName(n) != nil && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// filteredRegistry returns the cached registry for a normalised (sorted,
// de-duplicated) selection, building it on first use.
func filteredRegistry(include, exclude zl.SourceList, ignored []string) (zl.Registry, error) {
	key := cacheKey(include, exclude, ignored)
	registryCache.Lock()
	defer registryCache.Unlock()
	if reg, ok := registryCache.m[key]; ok {
		return reg, nil
	}
	reg, err := zl.GlobalRegistry().Filter(zl.FilterOptions{
		IncludeSources: include,
		ExcludeSources: exclude,
		ExcludeNames:   ignored,
	})
	if err != nil {
		return nil, fmt.Errorf("filter zlint registry: %w", err)
	}
	registryCache.m[key] = reg
	return reg, nil
}

// cacheKey encodes a lint selection; the inputs are already sorted.
func cacheKey(include, exclude zl.SourceList, ignored []string) string {
	join := func(l zl.SourceList) string {
		s := make([]string, len(l))
		for i, v := range l {
			s[i] = string(v)
		}
		return strings.Join(s, ",")
	}
	return join(include) + "|" + join(exclude) + "|" + strings.Join(ignored, ",")
}

// Level returns the status at or above which findings refuse issuance:
// "info", "warn", "error" or "fatal".
func (l *Linter) Level() string { return l.level.String() }

// Disabled reports whether the linter is turned off.
func (l *Linter) Disabled() bool { return l.disabled }

// Lint parses certDER with zcrypto and runs the selected lints on it. The
// report holds every finding of status info or above, sorted by lint name;
// call Report.Err to decide on refusal. A PreIssuance copy of a
// self-signed certificate is linted as self-signed. A disabled Linter returns an empty
// report without parsing. It returns an error only when certDER does not
// parse.
func (l *Linter) Lint(certDER []byte) (*Report, error) {
	r := &Report{Level: l.level.String()}
	if l.disabled {
		return r, nil
	}
	c, err := zx509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("parse certificate for lint: %w", err)
	}
	// zcrypto marks self-signed only what verifies under its own key; a
	// PreIssuance copy of a root is signed by a throwaway key instead.
	if !c.SelfSigned && bytes.Equal(c.RawSubject, c.RawIssuer) && signedBySelfThrowaway(certDER) {
		c.SelfSigned = true
	}
	l.run(c, r)
	return r, nil
}

// LintUnsigned lints certDER, a certificate whose signature is a
// placeholder (core/ca lints the exact to-be-signed bytes before the CA
// key signs them), as Lint does; selfSigned says whether the real
// certificate will be self-signed, which zcrypto cannot tell without a
// signature. Errors as Lint's.
func (l *Linter) LintUnsigned(certDER []byte, selfSigned bool) (*Report, error) {
	r := &Report{Level: l.level.String()}
	if l.disabled {
		return r, nil
	}
	c, err := zx509.ParseCertificate(certDER)
	if err != nil {
		return nil, fmt.Errorf("parse certificate for lint: %w", err)
	}
	c.SelfSigned = selfSigned
	l.run(c, r)
	return r, nil
}

// run executes the selected lints on c into r, as zlint's
// LintCertificateEx does (same lints, same configuration, same framework
// filters in CertificateLint.Execute).
func (l *Linter) run(c *zx509.Certificate, r *Report) {
	add := func(cl *zl.CertificateLint, res *zl.LintResult) {
		if res == nil || res.Status < zl.Notice {
			return
		}
		r.Findings = append(r.Findings, Finding{
			Name:    cl.Name,
			Source:  string(cl.Source),
			Status:  res.Status.String(),
			Details: res.Details,
		})
	}
	for _, cl := range l.lints {
		add(cl, cl.Execute(c, l.config))
	}
	if l.smallKey != nil {
		// Community source: no framework filter applies; effective for
		// every certificate (zlint's EffectiveDate is zero).
		add(l.smallKey, smallKeyResult(c))
	}
	sort.Slice(r.Findings, func(i, j int) bool {
		return r.Findings[i].Name < r.Findings[j].Name
	})
}

// parseLevel maps a profile level to a zlint status. It returns an error
// for anything but "", "info", "warn", "error" or "fatal" (any case).
func parseLevel(s string) (zl.LintStatus, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "error":
		return zl.Error, nil
	case "info":
		return zl.Notice, nil
	case "warn":
		return zl.Warn, nil
	case "fatal":
		return zl.Fatal, nil
	}
	return 0, fmt.Errorf("unknown lint level %q (valid: info, warn, error, fatal)", s)
}
