package config

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/diag")

// TestDiagnosticsGolden loads each testdata/diag/*.hcl file (or directory)
// through the whole load path and compares the rendered diagnostics with the
// .golden file beside it. Paths are relative so the output is stable.
func TestDiagnosticsGolden(t *testing.T) {
	t.Setenv("PKID_TEST_KEY_DIR", "/var/lib/pkid/keys")
	os.Unsetenv("PKID_TEST_SURELY_UNSET")

	entries, err := os.ReadDir("testdata/diag")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() && !strings.HasSuffix(name, ".hcl") {
			continue
		}
		n++
		base := strings.TrimSuffix(name, ".hcl")
		t.Run(base, func(t *testing.T) {
			path := filepath.Join("testdata/diag", name)
			c, diags, _ := loadAll(t, path)
			if !diags.HasErrors() {
				t.Errorf("no error diagnostics for %s", path)
			}
			got := render(t, c, diags)
			golden := filepath.Join("testdata/diag", base+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d golden cases found", n)
	}
}
