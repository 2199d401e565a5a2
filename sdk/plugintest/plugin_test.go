package plugintest

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pkid/pkid/sdk"
)

// kitPlugin is a minimal keystore plugin for the plugin-level kit.
type kitPlugin struct{}

type kitInstance struct{}

func (kitInstance) Close() error { return nil }

func (kitPlugin) Info() sdk.Info {
	return sdk.Info{Name: "kit", Version: "0.0.1", Kinds: []string{sdk.KindKeyStore}}
}

func (kitPlugin) Schema(string) *sdk.Schema {
	return sdk.NewSchema().
		String("dir", sdk.Required, "where").
		Number("max", sdk.Optional, "how many").Default("3").
		Block("limits", sdk.NestingSingle, sdk.NewSchema().Bool("strict", sdk.Optional, "strict"), false, "limits")
}

func (kitPlugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	var c struct {
		Dir string `json:"dir"`
		Max *int   `json:"max"`
	}
	if err := cfg.Decode(&c); err != nil {
		return sdk.Errorf(nil, "invalid configuration", err.Error())
	}
	var d sdk.Diagnostics
	if c.Dir == "" {
		d = append(d, sdk.Errorf([]string{"dir"}, "missing dir", "")...)
	}
	if c.Max != nil && *c.Max < 1 {
		d = append(d, sdk.Errorf([]string{"max"}, "max must be at least 1", "")...)
	}
	return d
}

func (p kitPlugin) Configure(ctx context.Context, cfg sdk.Config) (sdk.Instance, error) {
	if err := p.ValidateConfig(ctx, cfg).Err(); err != nil {
		return nil, err
	}
	return kitInstance{}, nil
}

func TestPluginKit(t *testing.T) {
	TestPlugin(t, kitPlugin{}, PluginConfigs{
		Kind:  sdk.KindKeyStore,
		Valid: json.RawMessage(`{"dir":"/tmp/x","max":2}`),
		Invalid: []InvalidConfig{
			{"no dir", json.RawMessage(`{"max":2}`), []string{"dir"}},
			{"max 0", json.RawMessage(`{"dir":"/tmp/x","max":0}`), []string{"max"}},
		},
	})
}

func TestSchemaCheck(t *testing.T) {
	body := func() *sdk.Schema { return sdk.NewSchema().String("a", sdk.Optional, "") }
	for _, c := range []struct {
		name   string
		schema *sdk.Schema
		want   string // "" means no problem
	}{
		{"good", sdk.NewSchema().String("a_b", sdk.Required, "").StringList("c", 0, "").StringMap("d", 0, "").
			Block("e", sdk.NestingMap, body(), false, ""), ""},
		{"object type", sdk.NewSchema().Attr("o", `["object",{"x":"string"}]`, 0, ""), ""},
		{"upper case", sdk.NewSchema().String("Dir", 0, ""), `"Dir" is not`},
		{"dash", sdk.NewSchema().String("max-keys", 0, ""), `"max-keys" is not`},
		{"empty name", sdk.NewSchema().String("", 0, ""), `"" is not`},
		{"twice", sdk.NewSchema().String("a", 0, "").Bool("a", 0, ""), `"a" is defined twice`},
		{"attribute and block", sdk.NewSchema().String("a", 0, "").Block("a", sdk.NestingSingle, body(), false, ""), `"a" is defined twice`},
		{"duration", sdk.NewSchema().Duration("ttl", sdk.Optional, "").Default(`"1d"`), ""},
		{"unknown type", sdk.NewSchema().Attr("a", `"timespan"`, 0, ""), "not a cty JSON type"},
		{"type not JSON", sdk.NewSchema().Attr("a", `string`, 0, ""), "not a cty JSON type"},
		{"default not JSON", sdk.NewSchema().String("a", 0, "").Default("abc"), "not JSON"},
		{"required with default", sdk.NewSchema().String("a", sdk.Required, "").Default(`"x"`), "required attribute"},
		{"no body", sdk.NewSchema().Block("b", sdk.NestingList, nil, false, ""), "has no body"},
		{"nesting 0", sdk.NewSchema().Block("b", 0, body(), false, ""), "has nesting 0"},
		{"nested problem", sdk.NewSchema().Block("b", sdk.NestingSingle, sdk.NewSchema().String("X", 0, ""), false, ""), `"b.X"`},
	} {
		got := strings.Join(schemaCheck(c.schema), "\n")
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("%s: problems %q, want one mentioning %q", c.name, got, c.want)
		}
	}
}

func TestPluginWantDiag(t *testing.T) {
	at := func(sev sdk.Severity, summary string, path ...string) sdk.Diagnostic {
		return sdk.Diagnostic{Severity: sev, Summary: summary, Path: path}
	}
	for _, c := range []struct {
		name  string
		diags sdk.Diagnostics
		ok    bool
	}{
		{"error at path", sdk.Diagnostics{at(sdk.SeverityError, "bad", "dir")}, true},
		{"none", nil, false},
		{"no path", sdk.Diagnostics{at(sdk.SeverityError, "bad")}, false},
		{"other path", sdk.Diagnostics{at(sdk.SeverityError, "bad", "max")}, false},
		{"warning only", sdk.Diagnostics{at(sdk.SeverityWarning, "hm", "dir")}, false},
		{"no summary", sdk.Diagnostics{at(sdk.SeverityError, "", "dir")}, false},
	} {
		if msg := pluginWantDiag(c.diags, []string{"dir"}); (msg == "") != c.ok {
			t.Errorf("%s: pluginWantDiag = %q, want ok=%v", c.name, msg, c.ok)
		}
	}
}
