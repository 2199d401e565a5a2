package profile

import (
	"errors"
	"testing"
)

func TestLookup(t *testing.T) {
	cfg := DefaultConfig()
	for name, want := range map[string]string{"": "default", "default": "default", "www": "www", "client": "client"} {
		p, err := cfg.Lookup(name)
		if err != nil || p.Name != want {
			t.Errorf("Lookup(%q) = %v, %v", name, p, err)
		}
	}
	// An unknown profile is an error, never the default
	// (docs/differences-from-cfssl.md, "Unknown profiles are errors").
	for _, name := range []string{"server", "WWW", " www", "Default"} {
		p, err := cfg.Lookup(name)
		if p != nil || !errors.Is(err, ErrUnknownProfile) {
			t.Errorf("Lookup(%q) = %v, %v", name, p, err)
		}
	}
	if _, err := cfg.Lookup("nope"); err == nil || err.Error() != `unknown profile "nope"` {
		t.Errorf("message = %v", err)
	}
	// A profile really named "default" wins over the default.
	own := mustParse(t, `{"signing": {"profiles": {"default": {"expiry": "1h", "usages": ["signing"]}}}}`)
	if p, _ := own.Lookup("default"); p != own.Profiles["default"] {
		t.Error(`Lookup("default") ignores the profile named default`)
	}
	if p, _ := own.Lookup(""); p != own.Default {
		t.Error(`Lookup("") is not the default`)
	}
	var nilCfg *Config
	if _, err := nilCfg.Lookup(""); err == nil {
		t.Error("nil config")
	}
	if _, err := (&Config{}).Lookup(""); !errors.Is(err, ErrUnknownProfile) {
		t.Errorf("no default: %v", err)
	}
}
