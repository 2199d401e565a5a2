package cli

import (
	"os/exec"
	"testing"
)

func TestPrintDefaults(t *testing.T) {
	for _, name := range []string{"list", "config", "csr"} {
		r := pkid(t, "print-defaults", name)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("print-defaults %s: %+v", name, r)
		}
		golden(t, "print-defaults/"+name, r.stdout)
	}
	for _, args := range [][]string{{"print-defaults"}, {"print-defaults", "nope"}} {
		if r := pkid(t, args...); r.code == 0 || r.stdout != "" {
			t.Errorf("%v: want failure, got %+v", args, r)
		}
	}
}

// Byte-identical to CFSSL (list: CFSSL's order is random, pkid's sorted).
func TestPrintDefaultsMatchesCFSSL(t *testing.T) {
	cfssl := oracle(t, "cfssl")
	for _, name := range []string{"config", "csr", "list"} {
		want, err := exec.Command(cfssl, "print-defaults", name).Output()
		if err != nil {
			t.Fatalf("cfssl print-defaults %s: %v", name, err)
		}
		got := pkid(t, "print-defaults", name).stdout
		if name == "list" {
			if len(got) != len(want) || got != defaultsList() {
				t.Errorf("list: pkid %q, cfssl %q", got, want)
			}
			continue
		}
		if got != string(want) {
			t.Errorf("%s: pkid and cfssl differ:\n--- pkid\n%s--- cfssl\n%s", name, got, want)
		}
	}
}
