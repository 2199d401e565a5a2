package daemon_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/devtest"

	"github.com/pkid/pkid/core/catalog"
)

// fakeRemote is a remote CA that counts what reaches it: a refused
// request must never be forwarded.
type fakeRemote struct {
	srv  *httptest.Server
	hits atomic.Int64
	// last is the path and body of the last counted request.
	last atomic.Value
	// reply, when set, answers instead of the default success.
	reply func(w http.ResponseWriter, r *http.Request)
}

func newFakeRemote(t *testing.T) *fakeRemote {
	f := &fakeRemote{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			return
		}
		f.hits.Add(1)
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		f.last.Store([2]string{r.URL.Path, string(body)})
		if f.reply != nil {
			f.reply(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"success":true,"result":{"certificate":"REMOTE CERT","usages":[],"expiry":"1h"},"errors":[],"messages":[]}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

const fwdRemoteKeyHex = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

const fwdKeyHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// forwardingConfig is dev mode's configuration with a remote block for
// remote and two forwarding profiles: "fwd" (no local key) and, when
// withKey, "fwdauth" guarded by the local auth_key "k1".
func forwardingConfig(t *testing.T, remote string, withKey bool) *catalog.Loaded {
	t.Helper()
	return forwardingConfigTLS(t, remote, withKey, "")
}

// forwardingConfigTLS is forwardingConfig with extra lines (a tls block)
// in the remote block.
func forwardingConfigTLS(t *testing.T, remote string, withKey bool, remoteExtra string) *catalog.Loaded {
	t.Helper()
	t.Setenv("PKID_TEST_FWD_REMOTE_KEY", fwdRemoteKeyHex)
	profiles := "  profile \"fwd\" {\n    remote = remote.up\n  }\n" +
		"  profile \"fwdkey\" {\n    remote          = remote.up\n    remote_auth_key = \"env:PKID_TEST_FWD_REMOTE_KEY\"\n  }\n"
	pkid := ""
	if withKey {
		profiles += "  profile \"fwdauth\" {\n    remote   = remote.up\n    auth_key = \"k1\"\n  }\n"
		pkid = "  auth_key \"k1\" {\n    key = \"" + fwdKeyHex + "\"\n  }\n"
	}
	loaded, _, _ := devtest.Load(t, devtest.Options{Pkid: pkid,
		Replace: []string{"  profile \"server\" {", profiles + "  profile \"server\" {"},
		Append:  "\nremote \"up\" {\n  urls = [\"" + remote + "\"]\n" + remoteExtra + "}\n"})
	return loaded
}

func authsignBody(t *testing.T, key []byte, inner any) map[string]string {
	b, _ := json.Marshal(inner)
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return map[string]string{"token": base64.StdEncoding.EncodeToString(m.Sum(nil)), "request": base64.StdEncoding.EncodeToString(b)}
}

// TestForwardNativeOpen: a native forwarding profile without local auth
// forwards sign, info and newcert as CFSSL does; a remote that redirects is
// not followed and one whose reply is huge is cut off.
func TestForwardNativeOpen(t *testing.T) {
	up := newFakeRemote(t)
	d, _, _ := startDaemon(t, forwardingConfig(t, up.srv.URL, false))
	api := d.URL() + "/api/v1/cfssl/"
	req := signRequest(t, "fwd.example")
	req["profile"] = "fwd"
	if code, env := post(t, api+"sign", req); code != 200 || !strings.Contains(string(env.Result), "REMOTE CERT") {
		t.Fatalf("sign: %d %+v", code, env)
	}
	if code, env := post(t, api+"info", map[string]string{"profile": "fwd"}); code != 200 || !strings.Contains(string(env.Result), "REMOTE CERT") {
		t.Fatalf("info: %d %+v", code, env)
	}
	if code, env := post(t, api+"newcert", map[string]any{"profile": "fwd", "request": map[string]any{"CN": "n.example", "hosts": []string{"n.example"}}}); code != 200 || !strings.Contains(string(env.Result), "REMOTE CERT") {
		t.Fatalf("newcert: %d %+v", code, env)
	}
	if n := up.hits.Load(); n != 3 {
		t.Fatalf("remote got %d requests, want 3", n)
	}
	// remote_auth_key: the daemon authenticates to the remote with the
	// key from the environment (authsign, HMAC over the inner request).
	req["profile"] = "fwdkey"
	if code, env := post(t, api+"sign", req); code != 200 {
		t.Fatalf("sign via remote_auth_key: %d %+v", code, env)
	}
	last := up.last.Load().([2]string)
	var wr struct{ Token, Request string }
	json.Unmarshal([]byte(last[1]), &wr)
	inner, _ := base64.StdEncoding.DecodeString(wr.Request)
	if last[0] != "/api/v1/cfssl/authsign" || !hmacValid(mustHex(t, fwdRemoteKeyHex), wr.Token, inner) {
		t.Fatalf("remote got %s %s, want authsign under the remote key", last[0], last[1])
	}
	up.hits.Store(3)
	// A local profile still signs locally.
	req["profile"] = "server"
	if code, env := post(t, api+"sign", req); code != 200 || strings.Contains(string(env.Result), "REMOTE CERT") {
		t.Fatalf("local sign: %d %+v", code, env)
	}
	if n := up.hits.Load(); n != 3 {
		t.Fatalf("a local profile reached the remote (%d requests)", n)
	}

	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	req["profile"] = "fwd"
	up.reply = func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}
	if code, env := post(t, api+"sign", req); code < 400 || len(env.Errors) == 0 {
		t.Fatalf("redirecting remote: %d %+v", code, env)
	}
	if elsewhere.Load() != 0 {
		t.Fatal("the redirect was followed to another host")
	}
	up.reply = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"success":true,"result":{"certificate":"`)
		chunk := strings.Repeat("A", 1<<16)
		for range 1 << 10 { // 64 MiB unless cut off
			if _, err := io.WriteString(w, chunk); err != nil {
				return
			}
		}
	}
	code, env := post(t, api+"sign", req)
	if code != http.StatusBadGateway || len(env.Errors) == 0 || !strings.Contains(env.Errors[0].Message, "larger than") {
		t.Fatalf("huge reply: %d %+v", code, env)
	}
}

// TestForwardNativeGuarded: a forwarding profile with a local auth_key
// needs a valid token for it; nothing else reaches the remote.
func TestForwardNativeGuarded(t *testing.T) {
	up := newFakeRemote(t)
	d, _, _ := startDaemon(t, forwardingConfig(t, up.srv.URL, true))
	api := d.URL() + "/api/v1/cfssl/"
	req := signRequest(t, "fwd.example")
	req["profile"] = "fwdauth"
	wrong := []byte("not the key, not the key, not it")
	for _, tc := range []struct {
		name, endpoint string
		body           any
		status         int
		msg            string
	}{
		{"plain sign", "sign", req, http.StatusBadRequest, "authentication required"},
		{"plain newcert", "newcert", map[string]any{"profile": "fwdauth", "request": map[string]any{"CN": "n.example"}}, http.StatusBadRequest, "authentication required"},
		{"forged authsign", "authsign", authsignBody(t, wrong, req), http.StatusBadRequest, "invalid token"},
		{"forged sign wrapper", "sign", authsignBody(t, wrong, req), http.StatusBadRequest, "invalid token"},
		{"absent token", "authsign", map[string]string{"token": "", "request": base64.StdEncoding.EncodeToString([]byte(`{"profile":"fwdauth","certificate_request":"x"}`))}, http.StatusBadRequest, "invalid token"},
		{"forged newcert wrapper", "newcert", authsignBody(t, wrong, map[string]any{"profile": "fwdauth", "request": map[string]any{"CN": "n"}}), http.StatusBadRequest, "invalid token"},
		// Authentication applies everywhere once configured: the open
		// forwarding profile needs it too.
		{"plain sign of fwd", "sign", map[string]string{"certificate_request": req["certificate_request"], "profile": "fwd"}, http.StatusBadRequest, "authentication required"},
	} {
		code, env := post(t, api+tc.endpoint, tc.body)
		if code != tc.status || len(env.Errors) == 0 || !strings.Contains(env.Errors[0].Message, tc.msg) {
			t.Errorf("%s: %d %+v, want %d %q", tc.name, code, env, tc.status, tc.msg)
		}
	}
	if n := up.hits.Load(); n != 0 {
		t.Fatalf("refused requests reached the remote: %d", n)
	}
	key := mustHex(t, fwdKeyHex)
	if code, env := post(t, api+"authsign", authsignBody(t, key, req)); code != 200 || !strings.Contains(string(env.Result), "REMOTE CERT") {
		t.Fatalf("authsign with a valid token: %d %+v", code, env)
	}
	if code, env := post(t, api+"newcert", authsignBody(t, key, map[string]any{"profile": "fwdauth", "request": map[string]any{"CN": "n.example", "hosts": []string{"n.example"}}})); code != 200 || !strings.Contains(string(env.Result), "REMOTE CERT") {
		t.Fatalf("newcert with a valid token: %d %+v", code, env)
	}
	if n := up.hits.Load(); n != 2 {
		t.Fatalf("remote got %d requests, want 2", n)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hmacValid checks a CFSSL token (v1) or pkid v2 token over inner: the
// fake remote is not a pkid server, so the client sends v1.
func hmacValid(key []byte, token string, inner []byte) bool {
	tok, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write(inner)
	return hmac.Equal(tok, m.Sum(nil))
}

// tlsFiles writes a self-signed CA and, under it, a certificate for cn
// (a client certificate), and returns the CA, certificate and key files.
func tlsFiles(t *testing.T, cn string) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn + " CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for f, b := range map[string]*pem.Block{caFile: {Type: "CERTIFICATE", Bytes: caDER}, certFile: {Type: "CERTIFICATE", Bytes: der},
		keyFile: {Type: "PRIVATE KEY", Bytes: kd}} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile
}

// TestForwardMutualTLS: a remote over HTTPS that requires a client
// certificate gets the remote block's (tls cert/key) and is verified
// against its tls ca; without the client certificate, or with a CA that
// did not issue the remote's certificate, nothing is sent and the caller
// gets 502 naming the remote and the TLS failure.
func TestForwardMutualTLS(t *testing.T) {
	clientCA, clientCert, clientKey := tlsFiles(t, "forwarder")
	otherCA, _, _ := tlsFiles(t, "stranger")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(mustRead(t, clientCA))
	var hits atomic.Int64
	var seen atomic.Value
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			return
		}
		hits.Add(1)
		seen.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"success":true,"result":{"certificate":"REMOTE CERT","usages":[],"expiry":"1h"},"errors":[],"messages":[]}`)
	}))
	up.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool, MinVersion: tls.VersionTLS12}
	up.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	up.StartTLS()
	t.Cleanup(up.Close)
	upCA := filepath.Join(t.TempDir(), "up-ca.pem")
	if err := os.WriteFile(upCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	req := signRequest(t, "mtls.example")
	req["profile"] = "fwd"
	for _, tc := range []struct {
		name   string
		tls    string
		status int
		want   string
	}{
		{"client certificate", fmt.Sprintf("  tls {\n    ca   = %q\n    cert = %q\n    key  = %q\n  }\n", upCA, clientCert, clientKey), 200, "REMOTE CERT"},
		{"no client certificate", fmt.Sprintf("  tls {\n    ca = %q\n  }\n", upCA), http.StatusBadGateway, `remote "up" (https://127.0.0.1:`},
		{"wrong CA for the remote", fmt.Sprintf("  tls {\n    ca   = %q\n    cert = %q\n    key  = %q\n  }\n", otherCA, clientCert, clientKey), http.StatusBadGateway, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			d, _, _ := startDaemon(t, forwardingConfigTLS(t, up.URL, false, tc.tls))
			code, env := post(t, d.URL()+"/api/v1/cfssl/sign", req)
			text := string(env.Result)
			if len(env.Errors) > 0 {
				text = env.Errors[0].Message
			}
			if code != tc.status || !strings.Contains(text, tc.want) {
				t.Fatalf("sign: %d %q, want %d with %q", code, text, tc.status, tc.want)
			}
			switch got := hits.Load() - before; {
			case tc.status == 200 && (got != 1 || seen.Load() != "forwarder"):
				t.Fatalf("remote got %d requests from %v, want 1 from forwarder", got, seen.Load())
			case tc.status != 200 && got != 0:
				t.Fatalf("remote got %d requests over a failed handshake", got)
			}
		})
	}
}

// TestForwardByCA: forwarding profiles are per CA block. The same profile
// name on two CAs goes to each CA's own remote, chosen by the request's
// label; a label or profile that names nothing forwards nowhere.
func TestForwardByCA(t *testing.T) {
	up, up2 := newFakeRemote(t), newFakeRemote(t)
	loaded, _, _ := devtest.Load(t, devtest.Options{
		Replace: []string{
			"  profile \"server\" {", "  profile \"fwd\" {\n    remote = remote.up\n  }\n  profile \"server\" {",
			"  profile \"default\" {\n    usages = [\"cert sign\", \"crl sign\"]",
			"  profile \"fwd\" {\n    remote = remote.up2\n  }\n  profile \"default\" {\n    usages = [\"cert sign\", \"crl sign\"]",
		},
		Append: "\nremote \"up\" {\n  urls = [\"" + up.srv.URL + "\"]\n}\nremote \"up2\" {\n  urls = [\"" + up2.srv.URL + "\"]\n}\n"})
	d, _, _ := startDaemon(t, loaded)
	api := d.URL() + "/api/v1/cfssl/"
	for _, tc := range []struct {
		endpoint, label, profile string
		ok                       bool
		up, up2                  int64
	}{
		{"sign", "", "fwd", true, 1, 0},
		{"sign", "issuing", "fwd", true, 1, 0},
		{"sign", "root", "fwd", true, 0, 1},
		{"info", "root", "fwd", true, 0, 1},
		{"sign", "root", "server", false, 0, 0}, // the root CA has no server profile
		{"sign", "nosuch", "fwd", false, 0, 0},
	} {
		t.Run(tc.endpoint+"/"+tc.label+"/"+tc.profile, func(t *testing.T) {
			b1, b2 := up.hits.Load(), up2.hits.Load()
			req := map[string]string{"label": tc.label, "profile": tc.profile}
			if tc.endpoint == "sign" {
				req = signRequest(t, "byca.example")
				req["label"], req["profile"] = tc.label, tc.profile
			}
			code, env := post(t, api+tc.endpoint, req)
			if got := code == http.StatusOK && strings.Contains(string(env.Result), "REMOTE CERT"); got != tc.ok {
				t.Fatalf("%s: %d %+v", tc.endpoint, code, env)
			}
			if !tc.ok && code < 400 {
				t.Fatalf("%s answered %d for what names nothing", tc.endpoint, code)
			}
			if d1, d2 := up.hits.Load()-b1, up2.hits.Load()-b2; d1 != tc.up || d2 != tc.up2 {
				t.Fatalf("remotes got %d and %d requests, want %d and %d", d1, d2, tc.up, tc.up2)
			}
		})
	}
}
