package config

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// FuzzLoad feeds arbitrary text through the whole load path (parse,
// decode, resolve, type checks, plugin bodies, diagnostics rendering);
// nothing may panic, whatever the diagnostics. Input starting with '{' is
// HCL's JSON syntax, anything else native syntax. The text is parsed from
// memory: a temporary file per execution made the target crawl.
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
	f.Add([]byte(`{"keystore": {"file": {"a": {"dir": "/k"}}}, "ca": {"x": {"keystore": "keystore.a", "key": "k"}}}`))
	f.Add([]byte(`pkid { limits { max_sans = 10 } max_body_bytes = 1 listen = "x" }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		// Relative file() paths resolve against testdata/funcs, where the
		// seeds' files are.
		name := "testdata/funcs/fuzz.hcl"
		if bytes.HasPrefix(bytes.TrimSpace(src), []byte("{")) {
			name += ".json"
		}
		c, diags := load([]string{name}, func(p *hclparse.Parser, name string) (*hcl.File, hcl.Diagnostics) {
			if isJSONName(name) {
				return p.ParseJSON(src, name)
			}
			return p.ParseHCL(src, name)
		})
		if c == nil {
			t.Fatal("nil Config")
		}
		diags, _ = checkAll(c, diags)
		_ = c.WriteDiagnostics(io.Discard, diags)
	})
}
