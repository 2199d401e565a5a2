package config

import (
	"strings"
	"testing"

	"github.com/pkid/pkid/sdk"
)

// Plugin blocks take the durations core blocks take ("1d", "36h"): the
// plugin receives a Go duration string, and a bad one is an error at the
// attribute's file:line:col.
func TestDecodePluginBodyDuration(t *testing.T) {
	s := sdk.NewSchema().Duration("ttl", sdk.Required, "").Duration("grace", sdk.Optional, "").
		Block("retry", sdk.NestingList, sdk.NewSchema().Duration("every", sdk.Required, ""), false, "")
	for _, c := range []struct {
		name, body string
		want       string // JSON, or the error's text
		line       int    // line of a wanted error
	}{
		{"days", `ttl = "1d"`, `{"grace":null,"retry":[],"ttl":"24h0m0s"}`, 0},
		{"hours and nested", "ttl = \"36h\"\ngrace = \"1d12h\"\nretry { every = \"90m\" }", `{"grace":"36h0m0s","retry":[{"every":"1h30m0s"}],"ttl":"36h0m0s"}`, 0},
		{"bad", "grace = \"1d\"\nttl = \"soon\"", `invalid duration "soon"`, 3},
		{"negative nested", "ttl = \"1h\"\nretry { every = \"-5m\" }", `invalid duration "-5m"`, 3},
		{"number", `ttl = 5`, `invalid duration "5"`, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := loadString(t, "certstore \"x\" \"y\" {\n"+c.body+"\n}\n")
			js, diags := DecodePluginBody(cfg.CertStores[0], s)
			if c.line == 0 {
				if diags.HasErrors() || string(js) != c.want {
					t.Fatalf("JSON %s, diags %v; want %s", js, diags, c.want)
				}
				return
			}
			if !diags.HasErrors() || !strings.Contains(diags.Error(), c.want) || diags[0].Subject.Start.Line != c.line {
				t.Fatalf("diags %v (at %v), want %q at line %d", diags, diags[0].Subject, c.want, c.line)
			}
		})
	}
}
