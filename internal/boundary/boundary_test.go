package boundary

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// known are today's violations of Rules in this repository, each with the
// issue that removes it. An entry that no longer fires fails the test too,
// so the list only shrinks.
var known = map[string]string{}

// repoRoot finds the root module's directory above the test's.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && modulePath(data) == Module {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod of %s above the test", Module)
		}
		dir = parent
	}
}

// TestRepository holds this repository to Rules.
func TestRepository(t *testing.T) {
	pkgs, err := Load(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	// The rules are only as good as the tree they see: the packages they
	// name must have been found (a loader finding nothing passes nothing).
	have := map[string]bool{}
	for _, p := range pkgs {
		have[p.Path] = true
	}
	for _, want := range []string{
		Module + "/sdk", Module + "/core/ca", Module + "/core/catalog", Module + "/core/jobs",
		Module + "/plugins/store-postgres", Module + "/plugins/keystore-file", "example.com/pkid-plugin-memory",
	} {
		if !have[want] {
			t.Errorf("package %s not found by Load", want)
		}
	}
	if !have[Module+"/sdk/rpc"] {
		t.Logf("sdk/rpc does not exist yet: rule sdk-author-no-host has nothing to forbid")
	}

	fired := map[string]bool{}
	for _, v := range Check(pkgs, Rules) {
		fired[v.Key()] = true
		if _, ok := known[v.Key()]; !ok {
			t.Errorf("%v\n\trule %s: %s", v, v.Rule, why(v.Rule))
		}
	}
	for k, issue := range known {
		if !fired[k] {
			t.Errorf("allow-listed %q (%s) no longer happens: remove it from known", k, issue)
		}
	}
}

func why(rule string) string {
	for _, r := range Rules {
		if r.Name == rule {
			return r.Why
		}
	}
	return ""
}

// TestFixtures runs the checker on small trees under testdata, each
// breaking one rule (clean breaks none), and wants exactly the violations
// listed: the test above can fail.
func TestFixtures(t *testing.T) {
	const m = Module
	tests := []struct {
		tree string
		want []string // Violation.String()
	}{
		{"sdk-imports-core", []string{
			"sdk-no-core: " + m + "/sdk imports " + m + "/core/config (via " + m + "/sdk/internal/wire)",
			"sdk-no-core: " + m + "/sdk/internal/wire imports " + m + "/core/config",
		}},
		{"sdk-imports-plugin", []string{
			"sdk-no-core: " + m + "/sdk imports " + m + "/plugins/store-x",
		}},
		{"sdk-imports-host", []string{
			"sdk-author-no-host: " + m + "/sdk imports " + m + "/sdk/rpc",
		}},
		{"plugin-imports-core", []string{
			"plugins-no-core: example.com/keystore-z imports " + m + "/core/config (via example.com/keystore-z/internal/cfg)",
			"plugins-no-core: example.com/keystore-z/internal/cfg imports " + m + "/core/config",
			"plugins-no-core: " + m + "/plugins/keystore-x imports " + m + "/core/pluginhost",
		}},
		{"core-imports-pgx", []string{
			"core-no-pgx: " + m + "/core/leader imports github.com/jackc/pgx/v5/pgxpool",
		}},
		{"core-imports-plugin", []string{
			"core-no-plugins: " + m + "/core/server imports " + m + "/plugins/store-x",
		}},
		{"ca-imports-http", []string{
			"ca-no-http: " + m + "/core/ca imports net/http",
			"ca-no-http: " + m + "/core/ca/csr imports " + m + "/core/cli",
			"ca-no-http: " + m + "/core/ca/ocsp imports " + m + "/core/server",
		}},
		{"cli-imports-server", []string{
			"cli-no-server: " + m + "/core/cli imports " + m + "/core/server",
		}},
		{"clean", nil},
	}
	for _, tt := range tests {
		t.Run(tt.tree, func(t *testing.T) {
			pkgs, err := Load(filepath.Join("testdata", tt.tree))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range Check(pkgs, Rules) {
				got = append(got, v.String())
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("violations:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
			}
		})
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"core/...", "core", true},
		{"core/...", "core/ca", true},
		{"core/...", "corex", false},
		{"core/...", "core2/ca", false},
		{"sdk", "sdk", true},
		{"sdk", "sdk/rpc", false},
		{"net/http/...", "net/http/httptest", true},
		{"net/http/...", "net/httpx", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.path); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}
