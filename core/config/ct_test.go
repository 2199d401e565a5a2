package config

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

const (
	ctP256B64 = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2aiZVDGWN51vtNNepT35vRdIP8MvtsD4l1fRKU+bHDgYK+jpFdtWk4Rhxl05eqyXSd/KonZ5/5c9CNQo2fUEIQ=="
	ctP384PEM = `-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEke5jtflM2Eh5WUsvpknStEdcNEtV6Yii
CXldsfTmIaj4cFL2rfGbb5t+GbNI4dDtwRtK6ZbsKb7zOPZE79c6v+tzNSyIHDHO
vqReJyu/5viYIMNfW+CpR4mON7UFzlsz
-----END PUBLIC KEY-----`
	ctRSA1024PEM = `-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCyINsKaXL+AkxRwLeKq1kKSTqI
ua/Xze6Q86dHLprlCA5v+Q7ynXzMXaHObPbvoEeXJhtbtmcQnJKi2bUDotQQx8ij
ZCMytP55qQ3YHvXzS83/9pkIqIombB1qI90vpq3G1+miAOCAk5QCmxBOLSpJoK7G
2vc4PhPJ4pLmlyhM0QIDAQAB
-----END PUBLIC KEY-----`
)

// decodeCTSrc parses src as testdata/ct/ct.hcl (so file() reads
// testdata/ct) and decodes its ct block.
func decodeCTSrc(t *testing.T, src string) (*CTPolicy, hcl.Diagnostics) {
	t.Helper()
	name := filepath.Join("testdata", "ct", "ct.hcl")
	f, diags := hclparse.NewParser().ParseHCL([]byte(src), name)
	if diags.HasErrors() {
		t.Fatalf("parse: %v", diags)
	}
	content, diags := f.Body.Content(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "ct"}}})
	if diags.HasErrors() || len(content.Blocks) != 1 {
		t.Fatalf("no ct block: %v", diags)
	}
	return DecodeCT(content.Blocks[0], evalContext(filepath.Dir(name)))
}

func TestDecodeCT(t *testing.T) {
	p, diags := decodeCTSrc(t, `ct {
  required_scts      = 2
  required_operators = 2
  timeout            = "3s"
  retries            = 1
  log "https://a.example/2026h1/" {
    key             = file("log.pem")
    operator        = "A"
    not_after_start = "2026-01-01T00:00:00Z"
    not_after_limit = "2026-07-01T00:00:00Z"
  }
  log "https://b.example" {
    key      = "`+ctP256B64+`"
    operator = "B"
  }
}`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(p.Logs) != 2 || p.RequiredSCTs != 2 || p.RequiredOperators != 2 || p.Timeout != 3*time.Second || p.Retries != 1 {
		t.Fatalf("%+v", p)
	}
	a := p.Logs[0]
	if a.URL != "https://a.example/2026h1" || a.Operator != "A" || a.NotAfterStart.Year() != 2026 || a.NotAfterLimit.Month() != time.July || len(a.KeyDER) == 0 {
		t.Errorf("log a: %+v", a)
	}
	if b := p.Logs[1]; string(b.KeyDER) != string(a.KeyDER) || b.ID() != a.ID() {
		t.Error("the PEM file and the base64 DER of one key differ")
	}
}

// TestDecodeCTErrors: each mistake is one error at file:line:col.
func TestDecodeCTErrors(t *testing.T) {
	good := `key = "` + ctP256B64 + `"`
	for _, tc := range []struct {
		name, body, want, at string
	}{
		{"no logs", ``, "ct block without logs", "ct.hcl:1,1"},
		{"malformed key", `log "https://a.example" { key = "bm90IGEga2V5" }`, "not a public key", "ct.hcl:2,33"},
		{"not base64", `log "https://a.example" { key = "%%%" }`, "neither PEM nor base64 DER", "ct.hcl:2,33"},
		{"P-384 log key", `log "https://a.example" {
key = <<EOT
` + ctP384PEM + `
EOT
}`, "logs sign with P-256", "ct.hcl:3,7"},
		{"small RSA key", `log "https://a.example" {
key = <<EOT
` + ctRSA1024PEM + `
EOT
}`, "RSA key of 1024 bits", "ct.hcl:3,7"},
		{"missing key", `log "https://a.example" { operator = "A" }`, `"key" is required`, "ct.hcl:2,"},
		{"bad URL", `log "ftp://a.example" { ` + good + ` }`, "Invalid log URL", "ct.hcl:2,5"},
		{"duplicate log", `log "https://a.example" { ` + good + ` }
log "https://a.example/" { ` + good + ` }`, "Duplicate log", "ct.hcl:3,5"},
		{"bad shard", `log "https://a.example" {
` + good + `
not_after_start = "2026-07-01T00:00:00Z"
not_after_limit = "2026-01-01T00:00:00Z"
}`, "not_after_limit must be after not_after_start", "ct.hcl:5,19"},
		{"bad time", `log "https://a.example" {
` + good + `
not_after_start = "July"
}`, "RFC 3339", "ct.hcl:4,19"},
		{"unmeetable count", `required_scts = 2
log "https://a.example" { ` + good + ` }`, "required_scts is 2 but the block declares 1 logs", "ct.hcl:1,1"},
		{"unmeetable operators", `required_scts = 2
log "https://a.example" {
` + good + `
operator = "X"
}
log "https://b.example" {
` + good + `
operator = "X"
}`, "the logs have 1 distinct operators", "ct.hcl:1,1"},
		{"operators above SCTs", `required_scts = 1
required_operators = 2
log "https://a.example" { ` + good + ` }`, "cannot exceed required_scts", "ct.hcl:3,22"},
		{"zero SCTs", `required_scts = 0
log "https://a.example" { ` + good + ` }`, "whole number from 1", "ct.hcl:2,17"},
		{"list key without list", `log_list_key = "` + ctP256B64 + `"
log "https://a.example" { ` + good + ` }`, "log_list_key without log_list", "ct.hcl:2,1"},
		{"bad list key", `log_list = "list.json"
log_list_key = "AAAA"`, "Invalid log_list_key", "ct.hcl:3,16"},
		{"list scheme", `log_list = "ftp://x/list.json"`, "only files and http(s) URLs", "ct.hcl:2,12"},
		{"unknown attribute", `required_sct = 1`, "Unsupported argument", "ct.hcl:2,1"},
		{"log_servers URL", `log_servers = ["ct.example/log"]`, `"ct.example/log" is not an absolute http(s) URL`, "ct.hcl:2,15"},
		{"unmeetable with log_servers", `required_scts = 3
log_servers = ["https://a.example", "https://b.example"]`, "required_scts is 3 but the block declares 2 logs", "ct.hcl:1,1"},
		{"too many log_servers", `log_servers = [` + strings.Repeat(`"https://a.example",`, MaxCTLogs) + `"https://b.example"]`, "at most 64 logs", "ct.hcl:2,15"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := decodeCTSrc(t, "ct {\n"+tc.body+"\n}")
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			var all []string
			found := false
			for _, d := range diags.Errs() {
				d := d.(*hcl.Diagnostic)
				s := fmt.Sprintf("%s:%d,%d: %s: %s", filepath.Base(d.Subject.Filename), d.Subject.Start.Line, d.Subject.Start.Column, d.Summary, d.Detail)
				all = append(all, s)
				if strings.Contains(s, tc.want) && strings.HasPrefix(s, tc.at) {
					found = true
				}
			}
			if !found {
				t.Errorf("want %q at %s, got:\n%s", tc.want, tc.at, strings.Join(all, "\n"))
			}
		})
	}
}

// TestDecodeCTLogList: a relative log_list is the declaring file's
// directory's.
func TestDecodeCTLogList(t *testing.T) {
	p, diags := decodeCTSrc(t, `ct {
  log_list     = "list.json"
  log_list_key = file("log.pem")
}`)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if p.LogList != filepath.Join("testdata", "ct", "list.json") || p.LogListKey == nil || p.LogListRange.Start.Line != 2 {
		t.Errorf("%+v", p)
	}
}
