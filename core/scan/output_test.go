package scan

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// sample is a host with every kind of cell: output, error, a hostile
// reason with control characters, and a long output.
func sample() []*HostResult {
	return []*HostResult{
		{Host: "example.test:443", IP: "127.0.0.1", Grade: GradeWarning, Results: map[string]FamilyResult{
			"Connectivity": {
				"DNSLookup": {Grade: GradeGood, Output: []byte(`["127.0.0.1"]`)},
				"TLSDial":   {Grade: GradeGood},
			},
			"PKI": {
				"ChainExpiration": {Grade: GradeWarning, Output: []byte(`"2027-01-01T00:00:00Z"`), Error: "expires in 25 days"},
				"MultipleCerts":   {Grade: GradeSkipped, Error: "one address\n== forged.test: Good\t<&>"},
			},
			"TLSHandshake": {
				"CipherSuite": {Grade: GradeGood, Output: []byte(`[{"TLS_AES_128_GCM_SHA256":["TLS 1.3"]},{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256":["TLS 1.2"]},{"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256":["TLS 1.2"]}]`)},
			},
		}},
		{Host: "denied.test:443", Grade: GradeBad, Results: map[string]FamilyResult{}, Err: errors.New("denied.test:443: egress: denied.test (10.0.0.1) is not on the allowlist: egress denied")},
	}
}

func TestGolden(t *testing.T) {
	for _, format := range Formats {
		var buf bytes.Buffer
		for _, r := range sample() {
			if err := WriteResult(&buf, format, r); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join("testdata", "output."+format+".golden")
		if *update {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s output differs from %s (go test -update to accept):\n%s", format, path, buf.Bytes())
		}
	}
	if err := WriteResult(&bytes.Buffer{}, "xml", sample()[0]); err == nil || !strings.Contains(err.Error(), "unknown format") {
		t.Errorf("format xml: %v", err)
	}
}

// A table row is one line whatever the scanned server sends.
func TestTableCellsAreOneLine(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteResult(&buf, FormatTable, sample()[0]); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1+1+5 { // summary, header, five scanners
		t.Errorf("%d lines, want 7:\n%s", len(lines), buf.String())
	}
	if strings.Contains(buf.String(), "\t") || strings.Contains(buf.String(), "\n== forged") {
		t.Errorf("a reason's control characters reached the table:\n%s", buf.String())
	}
}
