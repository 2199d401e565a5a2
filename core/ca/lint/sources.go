package lint

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	zlint "github.com/zmap/zlint/v3"
	zl "github.com/zmap/zlint/v3/lint"
)

// DefaultSources are the zlint sources run when a profile names none:
// the RFC sources and the Community lints, suited to an internal PKI.
var DefaultSources = []string{
	string(zl.RFC5280),
	string(zl.RFC5480),
	string(zl.RFC5891),
	string(zl.RFC8813),
	string(zl.RFC3279),
	string(zl.RFC6962),
	string(zl.Community),
}

// zlintVersion pins the import so the lints are registered.
var _ = zlint.Version

var (
	knownOnce sync.Once
	// knownSources maps a lower-cased source name to its zlint spelling.
	knownSources map[string]zl.LintSource
	// sourceNames are the canonical source names, sorted.
	sourceNames []string
)

// loadKnown indexes the sources that have certificate lints.
func loadKnown() {
	knownOnce.Do(func() {
		knownSources = map[string]zl.LintSource{}
		for _, s := range zl.GlobalRegistry().CertificateLints().Sources() {
			knownSources[strings.ToLower(string(s))] = s
			sourceNames = append(sourceNames, string(s))
		}
		sort.Strings(sourceNames)
	})
}

// Sources returns the names of the zlint sources that have certificate
// lints, sorted.
func Sources() []string {
	loadKnown()
	return append([]string(nil), sourceNames...)
}

// resolveSources maps source names (case-insensitive) to zlint sources,
// sorted and without duplicates. It returns an error naming the valid
// sources when one is unknown.
func resolveSources(names []string) (zl.SourceList, error) {
	loadKnown()
	seen := map[zl.LintSource]bool{}
	var out zl.SourceList
	for _, n := range names {
		s, ok := knownSources[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return nil, fmt.Errorf("unknown lint source %q (valid: %s)",
				n, strings.Join(sourceNames, ", "))
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Sort(out)
	return out, nil
}

// resolveLintNames checks lint names against the certificate lints zlint
// knows and returns them sorted without duplicates. An unknown name is an
// error that suggests the closest known names.
func resolveLintNames(names []string) ([]string, error) {
	lookup := zl.GlobalRegistry().CertificateLints()
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if lookup.ByName(n) == nil {
			return nil, unknownLintError(n, lookup.Names())
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// unknownLintError names an unknown lint and the closest known ones.
// Listing all several hundred names would not help; the suggestions
// compare names without their e_/w_/n_ status prefix.
func unknownLintError(name string, known []string) error {
	type cand struct {
		name string
		dist int
	}
	base := stripStatusPrefix(name)
	var cands []cand
	for _, k := range known {
		kb := stripStatusPrefix(k)
		d := editDistance(base, kb)
		if strings.Contains(kb, base) || strings.Contains(base, kb) {
			d = min(d, 1)
		}
		if d <= max(3, len(base)/4) {
			cands = append(cands, cand{k, d})
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].dist != cands[j].dist {
			return cands[i].dist < cands[j].dist
		}
		return cands[i].name < cands[j].name
	})
	if len(cands) > 5 {
		cands = cands[:5]
	}
	if len(cands) == 0 {
		return fmt.Errorf("unknown lint name %q (%d certificate lints known; "+
			"list them with `zlint -list-lints-json`)", name, len(known))
	}
	names := make([]string, len(cands))
	for i, c := range cands {
		names[i] = c.name
	}
	return fmt.Errorf("unknown lint name %q (did you mean %s?)",
		name, strings.Join(names, ", "))
}

// stripStatusPrefix drops zlint's "e_", "w_" or "n_" name prefix.
func stripStatusPrefix(name string) string {
	if len(name) > 2 && name[1] == '_' {
		switch name[0] {
		case 'e', 'w', 'n':
			return name[2:]
		}
	}
	return name
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
