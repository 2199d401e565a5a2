package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary text through the whole load path; nothing may
// panic, whatever the diagnostics.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"testdata/diag", "testdata/multi", "testdata/funcs"} {
		names, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
		for _, n := range names {
			if b, err := os.ReadFile(n); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`ca "x" { keystore = keystore["a"] key = 1 profile "p" { a = b } }`))
	f.Add([]byte(`keystore "file" "a" { isolation = ["x"] dir = env() }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.hcl")
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		c, diags, _ := loadAll(t, path)
		if c == nil {
			t.Fatal("nil Config")
		}
		_ = c.WriteDiagnostics(io.Discard, diags)
	})
}
