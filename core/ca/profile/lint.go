package profile

import (
	"encoding/json"
	"strings"
)

// cfsslLintLevels are zlint's status names in ascending order, as CFSSL's
// lint_error_level takes them.
var cfsslLintLevels = []string{"reserved", "NA", "NE", "pass", "info", "warn", "error", "fatal"}

// lint decodes lint_error_level, ignored_lints and ignored_lint_sources.
//
// CFSSL refuses results strictly above lint_error_level while pkid's
// Lint.Level refuses results at or above it, so the level moves up one
// step: "warn" → "error", "error" → "fatal", "info" → "warn", "pass" →
// "info". "NA"/"NE" also become "info" (pkid never refuses passing
// results; warned). "fatal" refuses nothing: linting is disabled
// (warned). "reserved" or absent means no linting in CFSSL; pkid still
// lints at its default "error".
func (l *loader) lint(where string, fs fieldSet) Lint {
	lt := Lint{Level: defaultLintLevel}
	if raw, ok := fs.vals["lint_error_level"]; ok {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			l.fail(where, "lint_error_level", "must be a string, one of %s (numbers are not accepted)", strings.Join(cfsslLintLevels, ", "))
		} else {
			lt = l.lintLevel(where, s)
		}
	}
	lt.IgnoredLints, _ = l.strs(where, fs, "ignored_lints")
	lt.IgnoredSources, _ = l.strs(where, fs, "ignored_lint_sources")
	lt.IgnoredLints = nilIfEmpty(lt.IgnoredLints)
	lt.IgnoredSources = nilIfEmpty(lt.IgnoredSources)
	return lt
}

// lintLevel maps one CFSSL level name (case-insensitive) to pkid's Lint.
func (l *loader) lintLevel(where, s string) Lint {
	level := ""
	for _, n := range cfsslLintLevels {
		if strings.EqualFold(s, n) {
			level = n
		}
	}
	switch level {
	case "reserved":
		return Lint{Level: "error"}
	case "NA", "NE":
		l.warn(where, "lint_error_level", "%q would refuse passing lint results; pkid refuses results at info and above", s)
		return Lint{Level: "info"}
	case "pass":
		return Lint{Level: "info"}
	case "info":
		return Lint{Level: "warn"}
	case "warn":
		return Lint{Level: "error"}
	case "error":
		return Lint{Level: "fatal"}
	case "fatal":
		l.warn(where, "lint_error_level", `"fatal" refuses no lint result; pre-issuance linting is disabled`)
		return Lint{Disabled: true}
	}
	l.fail(where, "lint_error_level", "%q is not one of %s", s, strings.Join(cfsslLintLevels, ", "))
	return Lint{Level: "error"}
}
