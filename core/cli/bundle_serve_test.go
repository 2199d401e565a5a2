package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeDevBundle: pkid serve -dev, with its trust plugin in its own
// process, attaches a bundle to sign's result once the dev CAs it created
// at first start have reached the trust directories (the plugin polls
// them and the change crosses the plugin protocol's Watch stream).
func TestServeDevBundle(t *testing.T) {
	d := startDev(t, t.TempDir())
	r := pkid(t, "genkey", writeFile(t, t.TempDir(), "csr.json", `{"CN":"www.example.com","hosts":["www.example.com"],"key":{"algo":"ecdsa","size":256}}`))
	if r.code != 0 {
		t.Fatalf("genkey: %s", r.stderr)
	}
	var gk struct {
		CSR string `json:"csr"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &gk); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"certificate_request": gk.CSR, "bundle": true})
	deadline := time.Now().Add(15 * time.Second)
	var raw []byte
	for {
		resp, err := http.Post(d.base+"/api/v1/cfssl/sign", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("sign: %d %s", resp.StatusCode, raw)
		}
		if strings.Contains(string(raw), `"bundle":{`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	var env struct {
		Result struct {
			Bundle struct {
				Issuer string `json:"issuer"`
				Root   string `json:"root"`
			} `json:"bundle"`
		} `json:"result"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	if env.Result.Bundle.Issuer != "/Organization=pkid dev/CommonName=pkid dev issuing CA" || !strings.HasPrefix(env.Result.Bundle.Root, "-----BEGIN CERTIFICATE-----") {
		t.Fatalf("sign with bundle against serve -dev: %s\nlog:\n%s", raw, d.logText())
	}
}
