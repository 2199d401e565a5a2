package csr

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"
)

// testdata/print-defaults-csr.golden is `cfssl print-defaults csr` stdout
// from CFSSL 1.6.5.
func TestDefaultsJSONGolden(t *testing.T) {
	golden := filepath.Join("testdata", "print-defaults-csr.golden")
	if *update {
		writeFile(t, golden, run(t, nil, oracleCFSSL(t), "print-defaults", "csr"))
	}
	if got, want := DefaultsJSON(), readFile(t, golden); !bytes.Equal(got, want) {
		t.Errorf("DefaultsJSON\n got: %q\nwant: %q", got, want)
	}
}

func TestDefaultsOracleLive(t *testing.T) {
	want := run(t, nil, oracleCFSSL(t), "print-defaults", "csr")
	if got := DefaultsJSON(); !bytes.Equal(got, want) {
		t.Errorf("DefaultsJSON\n got: %q\ncfssl: %q", got, want)
	}
}

func TestDefaultsParse(t *testing.T) {
	r, err := Parse(DefaultsJSON())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r, Defaults()) {
		t.Errorf("Parse(DefaultsJSON()) = %+v, want %+v", r, Defaults())
	}
	a := Defaults()
	a.Hosts[0] = "changed"
	a.KeyRequest.Size = 1
	if b := Defaults(); b.Hosts[0] != "example.net" || b.KeyRequest.Size != 256 {
		t.Error("Defaults shares state between calls")
	}
	if _, err := Generate(Defaults(), mustKey(t, "ecdsa", 256)); err != nil {
		t.Error(err)
	}
}
