package profile

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/pkid/pkid/core/duration"
)

// This file holds the field parsers and checks shared by the CFSSL JSON
// importer and the HCL decoder, so both formats mean the same thing.

// Certificate policy qualifier types (Profile.Policies).
const (
	QualifierCPS        = "id-qt-cps"
	QualifierUserNotice = "id-qt-unotice"
)

// defaultLintLevel is pkid's lint level when none is configured.
const defaultLintLevel = "error"

// lintLevels are pkid's Lint.Level values in ascending order.
var lintLevels = []string{"info", "warn", "error", "fatal"}

// parseExpiry parses a profile expiry: a pkid duration above zero.
func parseExpiry(s string) (time.Duration, error) {
	d, err := duration.Parse(s)
	if err != nil {
		return 0, err
	}
	if d == 0 {
		return 0, errors.New("must be greater than zero")
	}
	return d, nil
}

// parseTimestamp parses a not_before/not_after time (RFC 3339).
func parseTimestamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)", s)
	}
	return t, nil
}

// checkWindow reports a fixed validity whose end is not after its start;
// either end may be unset (zero).
func checkWindow(notBefore, notAfter time.Time) error {
	if !notBefore.IsZero() && !notAfter.IsZero() && !notAfter.After(notBefore) {
		return errors.New("must be later than not_before")
	}
	return nil
}

// compileWhitelist compiles a name_whitelist pattern. warning is non-empty
// when the pattern is not anchored at both ends.
func compileWhitelist(s string) (re *regexp.Regexp, warning string, err error) {
	re, err = regexp.Compile(s)
	if err != nil {
		return nil, "", fmt.Errorf("invalid regular expression: %v", err)
	}
	if !anchored(s) {
		warning = fmt.Sprintf("pattern %q is not anchored with ^...$: it matches any name that merely contains a match", s)
	}
	return re, warning, nil
}

// anchored reports whether a pattern is anchored at both ends.
func anchored(s string) bool {
	return strings.HasPrefix(s, "^") && strings.HasSuffix(s, "$") && !strings.HasSuffix(s, `\$`)
}

// normalizeCA applies the ca_constraint rules: a negative max_path_len
// means no limit. ok is false when path length settings are given without
// is_ca (the CFSSL importer ignores them, HCL refuses them).
func normalizeCA(c CAConstraint) (_ CAConstraint, ok bool) {
	if !c.IsCA && (c.MaxPathLen != 0 || c.MaxPathLenZero) {
		return CAConstraint{}, false
	}
	if c.MaxPathLen < 0 {
		c.MaxPathLen = 0
		c.MaxPathLenZero = false
	}
	return c, true
}

// usagesProblem says why a named local profile's usages do not suffice
// (CFSSL's rule: at least one recognised usage), or returns "".
func usagesProblem(p *Profile) string {
	if len(p.Usages) == 0 {
		return "no usages specified"
	}
	if p.KeyUsage == 0 && len(p.ExtKeyUsage) == 0 && len(p.UnknownExtKeyUsage) == 0 {
		return fmt.Sprintf("none of the usages is recognised (%s)", strings.Join(p.Usages, ", "))
	}
	return ""
}

// nilIfEmpty returns nil for an empty slice, so "unset" and "[]" compare
// equal where they mean the same.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// suggest returns the candidate closest to given if it is close enough to
// be a likely typo (edit distance below 3, as HCL uses), else "".
func suggest(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := levenshtein.Distance(given, c, nil); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}
