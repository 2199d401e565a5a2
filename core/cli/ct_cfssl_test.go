package cli

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca/csr"
	"github.com/pkid/pkid/core/ct"
	"github.com/pkid/pkid/internal/ctlogtest"
)

// verifiedSCTLogs verifies the SCTs embedded in certPEM (issued by the
// sunlightCA's root) with the two logs' keys and returns the URLs of the
// logs whose SCTs verified; any other SCT fails the test.
func (s *sunlightCA) verifiedSCTLogs(t *testing.T, who, certPEM string) []string {
	t.Helper()
	c := parsePEMCert(t, certPEM)
	var logs []*ct.Log
	for _, l := range []*ctlogtest.Log{s.a, s.b} {
		cl, err := ct.NewLog(l.URL, l.KeyDER, "", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, cl)
	}
	vs, err := ct.VerifyEmbedded(c, s.cert, logs)
	if err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	var urls []string
	for _, v := range vs {
		if v.Err != nil {
			t.Errorf("%s: SCT from %x: %v", who, v.LogID[:4], v.Err)
			continue
		}
		urls = append(urls, v.Log.URL)
	}
	slices.Sort(urls)
	return urls
}

// TestCFSSLConfigCTLogServers: a CFSSL JSON signing configuration with
// ct_log_servers submits the precertificate to every log and embeds
// their SCTs, with CFSSL's rule that every log must accept, in pkid sign
// -config and in pkid serve with CFSSL's flags, side by side with real
// cfssl sign and cfssl serve against the same two Sunlight logs: both
// embed one SCT per log, and every SCT verifies with the logs' keys. With
// a rejecting log among them both refuse to issue.
func TestCFSSLConfigCTLogServers(t *testing.T) {
	cfssl := oracle(t, "cfssl")
	s := newSunlightCA(t)
	reject := ctlogtest.NewFakeLog(ctlogtest.Reject)
	defer reject.Close()
	cfg := func(name string, logs ...string) string {
		js, _ := json.Marshal(logs)
		return writeFile(t, s.dir, name, `{"signing": {"default": {"expiry": "2160h", "usages": ["digital signature", "server auth"], "ct_log_servers": `+string(js)+`}}}`)
	}
	good := cfg("ct.json", s.a.URL, s.b.URL)
	bad := cfg("ct-reject.json", s.a.URL, reject.URL)
	req := &csr.Request{CN: "cfssl-ct.example.com", Hosts: []string{"cfssl-ct.example.com"}, KeyRequest: csr.DefaultKeyRequest()}
	k, _ := req.KeyRequest.Generate()
	csrPEM, err := csr.Generate(req, k)
	if err != nil {
		t.Fatal(err)
	}
	csrFile := writeFile(t, s.dir, "leaf.csr", string(csrPEM))
	want := []string{s.a.URL, s.b.URL}
	slices.Sort(want)

	t.Run("sign", func(t *testing.T) {
		mine := decodeResult(t, pkid(t, "sign", "-ca", s.caPEM, "-ca-key", s.caKey, "-config", good, csrFile))["cert"]
		if got := s.verifiedSCTLogs(t, "pkid sign", mine); !slices.Equal(got, want) {
			t.Errorf("pkid sign: SCTs from %v, want %v", got, want)
		}
		out, err := cfsslOutput(cfssl, "sign", "-ca", s.caPEM, "-ca-key", s.caKey, "-config", good, csrFile)
		if err != nil {
			t.Fatalf("cfssl sign: %v", err)
		}
		var theirs struct {
			Cert string `json:"cert"`
		}
		if err := json.Unmarshal(out, &theirs); err != nil {
			t.Fatalf("cfssl sign: %v: %s", err, out)
		}
		if got := s.verifiedSCTLogs(t, "cfssl sign", theirs.Cert); !slices.Equal(got, want) {
			t.Errorf("cfssl sign: SCTs from %v, want %v", got, want)
		}
	})

	t.Run("every log must accept", func(t *testing.T) {
		before := reject.Requests.Load()
		r := pkid(t, "sign", "-ca", s.caPEM, "-ca-key", s.caKey, "-config", bad, csrFile)
		// The configuration's warning, then the error on one line.
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code == 0 || r.stdout != "" || len(lines) != 2 || !strings.Contains(lines[0], "warning: default profile: ct_log_servers") ||
			!strings.Contains(lines[1], `"code":10100`) || !strings.Contains(lines[1], reject.URL+": HTTP 400") {
			t.Errorf("pkid sign with a rejecting log: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		// CFSSL fails the same way, with the same code.
		if _, err := cfsslOutput(cfssl, "sign", "-ca", s.caPEM, "-ca-key", s.caKey, "-config", bad, csrFile); err == nil || !strings.Contains(err.Error(), `"code":10100`) {
			t.Errorf("cfssl sign with a rejecting log: %v", err)
		}
		if n := reject.Requests.Load() - before; n != 2 {
			t.Errorf("the rejecting log saw %d submissions, want one from each", n)
		}
	})

	t.Run("serve", func(t *testing.T) {
		body := map[string]any{"certificate_request": string(csrPEM)}
		sign := func(base string) (string, []map[string]any) {
			b, _ := json.Marshal(body)
			c := &http.Client{Timeout: 30 * time.Second}
			resp, err := c.Post(base+"/api/v1/cfssl/sign", "application/json", bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var env struct {
				Success bool `json:"success"`
				Result  struct {
					Certificate string           `json:"certificate"`
					SCTs        []map[string]any `json:"scts"`
				} `json:"result"`
			}
			if err := json.Unmarshal(raw, &env); err != nil || !env.Success {
				t.Fatalf("sign at %s: %v %s", base, err, raw)
			}
			return env.Result.Certificate, env.Result.SCTs
		}
		mineURL, _ := startCFSSL(t, pkidBinary(t), "-ca", s.caPEM, "-ca-key", s.caKey, "-config", good)
		theirsURL, _ := startCFSSL(t, cfssl, "-ca", s.caPEM, "-ca-key", s.caKey, "-config", good)
		mine, scts := sign(mineURL)
		if got := s.verifiedSCTLogs(t, "pkid serve", mine); !slices.Equal(got, want) {
			t.Errorf("pkid serve: SCTs from %v, want %v", got, want)
		}
		var listed []string
		for _, sct := range scts {
			listed = append(listed, sct["log_url"].(string))
			if id, _ := sct["log_id"].(string); id == "" || id == hex.EncodeToString(make([]byte, 32)) {
				t.Errorf("sct without its log ID: %v", sct)
			}
		}
		slices.Sort(listed)
		if !slices.Equal(listed, want) {
			t.Errorf("pkid serve: the sign response lists SCTs from %v, want %v", listed, want)
		}
		theirs, _ := sign(theirsURL)
		if got := s.verifiedSCTLogs(t, "cfssl serve", theirs); !slices.Equal(got, want) {
			t.Errorf("cfssl serve: SCTs from %v, want %v", got, want)
		}
	})
}
