package cli

import (
	"encoding/json"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

const infoConfig = `{"signing": {"default": {"expiry": "168h"},
  "profiles": {"server": {"expiry": "8760h", "usages": ["signing", "key encipherment", "server auth"]},
    "short": {"expiry": "1h30m", "usages": ["signing", "client auth"]}}}}`

type infoResult struct {
	Certificate string   `json:"certificate"`
	Expiry      string   `json:"expiry"`
	Usages      []string `json:"usages"`
}

func TestInfo(t *testing.T) {
	dir := t.TempDir()
	m := decodeResult(t, pkid(t, "gencert", "-initca", writeFile(t, dir, "ca.json", caJSON)))
	caPEM := writeFile(t, dir, "ca.pem", m["cert"])
	caKey := writeFile(t, dir, "ca-key.pem", m["key"])
	cfg := writeFile(t, dir, "config.json", infoConfig)
	for _, tc := range []struct {
		profile string
		want    infoResult
	}{
		{"", infoResult{Expiry: "168h"}},
		{"server", infoResult{Expiry: "8760h", Usages: []string{"signing", "key encipherment", "server auth"}}},
		{"short", infoResult{Expiry: "1h30m", Usages: []string{"signing", "client auth"}}},
	} {
		r := pkid(t, "info", "-ca", caPEM, "-ca-key", caKey, "-config", cfg, "-profile", tc.profile)
		if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || !strings.HasPrefix(r.stdout, `{"certificate":`) {
			t.Fatalf("profile %q: want one sorted JSON line, got %+v", tc.profile, r)
		}
		var got infoResult
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatal(err)
		}
		tc.want.Certificate = strings.TrimSuffix(m["cert"], "\n")
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("profile %q:\n got %+v\nwant %+v", tc.profile, got, tc.want)
		}
		if strings.HasSuffix(got.Certificate, "\n") {
			t.Errorf("certificate keeps its trailing newline")
		}
	}
	// Without -config: CFSSL's built-in default profile.
	var got infoResult
	json.Unmarshal([]byte(pkid(t, "info", "-ca", caPEM, "-ca-key", caKey).stdout), &got)
	if got.Expiry != "8760h" || len(got.Usages) != 4 {
		t.Errorf("built-in default: %+v", got)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"info", "-ca", caPEM, "-ca-key", caKey, "-config", cfg, "-profile", "nope"}, `"nope"`},
		{[]string{"info", "-ca", caPEM}, "-ca-key"},
		{[]string{"info", "-remote", "ftp://127.0.0.1"}, "scheme must be http or https"},
	} {
		if r := pkid(t, tc.args...); r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: want failure naming %q, got %+v", tc.args, tc.want, r)
		}
	}
}

// The same values as CFSSL's info (CFSSL prints struct order and no
// newline; pkid sorted keys and a newline).
func TestInfoMatchesCFSSL(t *testing.T) {
	cfssl := oracle(t, "cfssl")
	dir := t.TempDir()
	m := decodeResult(t, pkid(t, "gencert", "-initca", writeFile(t, dir, "ca.json", caJSON)))
	caPEM := writeFile(t, dir, "ca.pem", m["cert"])
	caKey := writeFile(t, dir, "ca-key.pem", m["key"])
	cfg := writeFile(t, dir, "config.json", infoConfig)
	for _, p := range []string{"", "server", "short"} {
		out, err := exec.Command(cfssl, "info", "-ca", caPEM, "-ca-key", caKey, "-config", cfg, "-profile", p).Output()
		if err != nil {
			t.Fatalf("cfssl info: %v", err)
		}
		var want, got infoResult
		if err := json.Unmarshal(out, &want); err != nil {
			t.Fatalf("cfssl info output %q: %v", out, err)
		}
		json.Unmarshal([]byte(pkid(t, "info", "-ca", caPEM, "-ca-key", caKey, "-config", cfg, "-profile", p).stdout), &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("profile %q:\n pkid  %+v\n cfssl %+v", p, got, want)
		}
	}
}
