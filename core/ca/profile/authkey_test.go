package profile

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestAuthKeyForms(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "key.hex")
	if err := os.WriteFile(good, []byte("  0A0b0C\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badFile := filepath.Join(dir, "bad.hex")
	if err := os.WriteFile(badFile, []byte("s3cr3t-not-hex\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PKID_TEST_AUTH_KEY", "DEADbeef")
	t.Setenv("PKID_TEST_BAD_KEY", "s3cr3t-not-hex")
	t.Setenv("PKID_TEST_EMPTY_KEY", "")

	for _, tc := range []struct {
		name, value string
		want        []byte
		err         string
	}{
		{"hex lower", "00ff10", []byte{0x00, 0xff, 0x10}, ""},
		{"hex upper", "00FF10", []byte{0x00, 0xff, 0x10}, ""},
		{"env", "env:PKID_TEST_AUTH_KEY", []byte{0xde, 0xad, 0xbe, 0xef}, ""},
		{"file", "file:" + good, []byte{0x0a, 0x0b, 0x0c}, ""},
		{"bad hex", "s3cr3t-not-hex", nil, `auth key "k": key: value is not valid hex`},
		{"odd hex", "abc", nil, `auth key "k": key: value is not valid hex`},
		{"empty", "", nil, `auth key "k": key: value is empty`},
		{"env bad hex", "env:PKID_TEST_BAD_KEY", nil, `environment variable "PKID_TEST_BAD_KEY" is not valid hex`},
		{"env empty", "env:PKID_TEST_EMPTY_KEY", nil, `environment variable "PKID_TEST_EMPTY_KEY" is unset or empty`},
		{"env unset", "env:PKID_TEST_UNSET_KEY_XYZ", nil, `environment variable "PKID_TEST_UNSET_KEY_XYZ" is unset or empty`},
		{"file bad hex", "file:" + badFile, nil, `file "` + badFile + `" is not valid hex`},
		{"file missing", "file:" + filepath.Join(dir, "nope"), nil, "reading key file"},
		{"unknown prefix", "vault:secret/x", nil, `unknown key source "vault:"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			js := `{"signing": {}, "auth_keys": {"k": {"type": "standard", "key": "` + tc.value + `"}}}`
			cfg, err := ParseCFSSL([]byte(js))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Errorf("error leaks key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.AuthKeys["k"]; got.Type != "standard" || !bytes.Equal(got.Key, tc.want) {
				t.Errorf("key = %+v, want %x", got, tc.want)
			}
		})
	}
}

func TestAuthKeyErrors(t *testing.T) {
	for js, want := range map[string]string{
		`{"k": {"type": "hmac", "key": "aa"}}`:  `auth key "k": type: "hmac" is not supported (only "standard")`,
		`{"k": {"key": "aa"}}`:                  `auth key "k": type: "" is not supported`,
		`{"k": {"type": "standard"}}`:           `auth key "k": key: missing`,
		`{"k": {"type": "standard", "key": 1}}`: `auth key "k": key: must be a string`,
		`{"k": "aa"}`:                           `auth key "k": must be a JSON object`,
		`[]`:                                    `auth_keys: must be a JSON object of named keys`,
	} {
		_, err := ParseCFSSL([]byte(`{"signing": {}, "auth_keys": ` + js + `}`))
		if err == nil || !strings.Contains(err.Error(), "signing config: "+want) {
			t.Errorf("%s: err = %v, want %q", js, err, want)
		}
	}
	// A profile naming a key that failed to load gets no second error.
	_, err := ParseCFSSL([]byte(`{"signing": {"default": {"expiry": "1h", "auth_key": "k"}}, "auth_keys": {"k": {"type": "standard", "key": "zz"}}}`))
	if err == nil || strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("err = %v", err)
	}
}

func TestRemotes(t *testing.T) {
	cfg := mustParse(t, `{"signing": {}, "remotes": {"a": "h1:8888,h2:8888, h3:8888", "b": "https://ca.example.com"}}`)
	want := map[string][]string{"a": {"h1:8888", "h2:8888", "h3:8888"}, "b": {"https://ca.example.com"}}
	if !reflect.DeepEqual(cfg.Remotes, want) {
		t.Errorf("remotes = %q", cfg.Remotes)
	}
	for js, want := range map[string]string{
		`{"a": " , "}`: `remote "a": no server given`,
		`{"a": 1}`:     `remote "a": must be a string`,
		`[]`:           `remotes: must be a JSON object`,
	} {
		_, err := ParseCFSSL([]byte(`{"signing": {}, "remotes": ` + js + `}`))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v", js, err)
		}
	}
}
