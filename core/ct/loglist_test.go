package ct_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/config"
	"github.com/pkid/pkid/core/ct"
)

func keyPair(t testing.TB) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k, der
}

// logListJSON is a v3 log list: operator A with a usable RFC 6962 log
// (sharded) and a retired one, operator B with a usable tiled log.
func logListJSON(t testing.TB, keys ...[]byte) []byte {
	t.Helper()
	id := func(k []byte) string { s := sha256.Sum256(k); return base64.StdEncoding.EncodeToString(s[:]) }
	b64 := base64.StdEncoding.EncodeToString
	return []byte(fmt.Sprintf(`{"version": "1.0", "log_list_timestamp": "2026-12-01T00:00:00Z", "operators": [
  {"name": "A", "email": ["a@example.com"], "logs": [
    {"description": "A 2027", "log_id": %q, "key": %q, "url": "https://a.example/2027/", "mmd": 86400,
     "state": {"usable": {"timestamp": "2026-01-01T00:00:00Z"}},
     "temporal_interval": {"start_inclusive": "2027-01-01T00:00:00Z", "end_exclusive": "2028-01-01T00:00:00Z"}},
    {"description": "A old", "log_id": %q, "key": %q, "url": "https://a.example/old/", "mmd": 86400,
     "state": {"retired": {"timestamp": "2025-01-01T00:00:00Z"}}}
  ]},
  {"name": "B", "email": ["b@example.com"], "tiled_logs": [
    {"description": "B tiled", "log_id": %q, "key": %q, "submission_url": "https://b.example/", "monitoring_url": "https://b-mon.example/", "mmd": 60,
     "state": {"qualified": {"timestamp": "2026-06-01T00:00:00Z"}}}
  ]}
]}`, id(keys[0]), b64(keys[0]), id(keys[1]), b64(keys[1]), id(keys[2]), b64(keys[2])))
}

func signList(t testing.TB, k *ecdsa.PrivateKey, data []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(data)
	sig, err := ecdsa.SignASN1(rand.Reader, k, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestParseLogList(t *testing.T) {
	_, k1 := keyPair(t)
	_, k2 := keyPair(t)
	_, k3 := keyPair(t)
	signer, signerDER := keyPair(t)
	data := logListJSON(t, k1, k2, k3)
	sig := signList(t, signer, data)

	logs, err := ct.ParseLogList(data, sig, signerDER)
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 2 {
		t.Fatalf("%d logs, want the usable and the qualified one", len(logs))
	}
	a, b := logs[0], logs[1]
	if a.URL != "https://a.example/2027" || a.Operator != "A" || a.NotAfterStart.Year() != 2027 || a.NotAfterLimit.Year() != 2028 || a.ID != sha256.Sum256(k1) {
		t.Errorf("A: %+v", a)
	}
	if b.URL != "https://b.example" || b.Operator != "B" || !b.NotAfterLimit.IsZero() {
		t.Errorf("B: %+v", b)
	}
	if a.Covers(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) || !a.Covers(time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)) || a.Covers(time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Error("A's shard [2027, 2028) not respected")
	}

	// Hostile lists.
	other, _ := keyPair(t)
	tampered := []byte(strings.Replace(string(data), "https://b.example/", "https://evil.example/", 1))
	for _, tc := range []struct {
		name      string
		data, sig []byte
		key       []byte
		want      string
	}{
		{"signed by another key", data, signList(t, other, data), signerDER, "failed to verify signature"},
		{"tampered after signing", tampered, sig, signerDER, "failed to verify signature"},
		{"no signature", data, nil, signerDER, "failed to verify signature"},
		{"not JSON", []byte("<html>"), nil, nil, "failed to parse log list"},
		{"empty", nil, nil, nil, "failed to parse"},
		{"malformed key", []byte(strings.Replace(string(data), base64.StdEncoding.EncodeToString(k1), base64.StdEncoding.EncodeToString(k1[:20]), 1)), nil, nil, "log_id is not the SHA-256 of its key"},
		{"oversized", make([]byte, ct.MaxLogListBytes+1), nil, nil, "at most"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ct.ParseLogList(tc.data, tc.sig, tc.key)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	// A key that is not a CT log key, with a matching log_id.
	_, p384 := func() (*ecdsa.PrivateKey, []byte) {
		k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		d, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		return k, d
	}()
	if _, err := ct.ParseLogList(logListJSON(t, p384, k2, k3), nil, nil); err == nil || !strings.Contains(err.Error(), "P-384") {
		t.Errorf("P-384 log: %v", err)
	}
}

// TestResolveLogList: a ct block's log_list, from a file and over HTTP
// with its .sig, joins the declared logs; a bad signature is an error
// naming the block's file:line:col.
func TestResolveLogList(t *testing.T) {
	_, k1 := keyPair(t)
	_, k2 := keyPair(t)
	_, k3 := keyPair(t)
	signer, signerDER := keyPair(t)
	data := logListJSON(t, k1, k2, k3)
	sig := signList(t, signer, data)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "list.json"), data, 0o644)
	os.WriteFile(filepath.Join(dir, "list.json.sig"), sig, 0o644)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()

	_, declared := keyPair(t)
	for _, src := range []string{filepath.Join(dir, "list.json"), srv.URL + "/list.json"} {
		c := &config.CTPolicy{Logs: []*config.CTLog{{URL: "https://c.example", KeyDER: declared, Operator: "C"}}, LogList: src, LogListKey: signerDER, RequiredSCTs: 2, RequiredOperators: 2}
		c.LogListRange.Filename, c.LogListRange.Start.Line, c.LogListRange.Start.Column = "pkid.hcl", 7, 18
		p, err := ct.Resolve(context.Background(), c, http.DefaultClient)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if len(p.Logs) != 3 || p.Logs[0].URL != "https://c.example" {
			t.Errorf("%s: %d logs", src, len(p.Logs))
		}
	}
	os.WriteFile(filepath.Join(dir, "list.json.sig"), signList(t, signer, []byte("something else")), 0o644)
	c := &config.CTPolicy{LogList: srv.URL + "/list.json", LogListKey: signerDER}
	c.LogListRange.Filename, c.LogListRange.Start.Line, c.LogListRange.Start.Column = "pkid.hcl", 7, 18
	if _, err := ct.Resolve(context.Background(), c, http.DefaultClient); err == nil || !strings.HasPrefix(err.Error(), "pkid.hcl:7:18") || !strings.Contains(err.Error(), "signature") {
		t.Errorf("bad signature: %v", err)
	}
	c.LogList = srv.URL + "/missing.json"
	if _, err := ct.Resolve(context.Background(), c, http.DefaultClient); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing list: %v", err)
	}
}

// FuzzParseLogList: any bytes, signed or not, parse or fail cleanly, and
// whatever parses is a bounded set of usable CT logs.
func FuzzParseLogList(f *testing.F) {
	_, k1 := keyPair(f)
	_, k2 := keyPair(f)
	_, k3 := keyPair(f)
	f.Add(logListJSON(f, k1, k2, k3))
	f.Add([]byte(`{"operators": [{"name": "x", "logs": [null, {"state": {}}], "tiled_logs": [null]}, null]}`))
	f.Add([]byte(`{"operators": [{"logs": [{"state": {"usable": {}}, "key": "AA==", "log_id": "AA=="}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The verification selection is a superset: read-only and
		// retired logs too, within its own bound.
		all, aerr := ct.ParseLogListForVerification(data, nil, nil)
		if aerr == nil && len(all) > ct.MaxVerifyLogs {
			t.Fatalf("%d logs for verification", len(all))
		}
		for _, l := range all {
			if l.Key == nil || l.ID != sha256.Sum256(l.KeyDER) {
				t.Fatalf("bad log for verification %+v", l)
			}
		}
		logs, err := ct.ParseLogList(data, nil, nil)
		if err != nil {
			return
		}
		if aerr == nil && len(all) < len(logs) {
			t.Fatalf("%d logs for verification, %d for submission", len(all), len(logs))
		}
		if len(logs) > config.MaxCTLogs {
			t.Fatalf("%d logs", len(logs))
		}
		for _, l := range logs {
			if l.Key == nil || l.ID != sha256.Sum256(l.KeyDER) || !strings.HasPrefix(l.URL, "http") {
				t.Fatalf("bad log %+v", l)
			}
			if _, err := json.Marshal(l.URL); err != nil {
				t.Fatal(err)
			}
		}
	})
}
