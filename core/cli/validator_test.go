package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/core/acme/validation"
	"github.com/pkid/pkid/internal/dnstest"
)

const (
	vToken = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
	vKeyAu = vToken + ".nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEuFqUDSj0"
)

// validatorPKI writes a CA, a server certificate for 127.0.0.1 and a
// client certificate (PEM files in dir) and returns the client's TLS
// configuration.
func validatorPKI(t *testing.T, dir string) *tls.Config {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "daemon CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	leaf := func(serial int64, eku x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{eku}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	srvDER, srvKey := leaf(2, x509.ExtKeyUsageServerAuth)
	write("server.pem", "CERTIFICATE", srvDER)
	kb, _ := x509.MarshalECPrivateKey(srvKey)
	write("server-key.pem", "EC PRIVATE KEY", kb)
	cliDER, cliKey := leaf(3, x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{cliDER}, PrivateKey: cliKey}}}
}

var validatorListenRe = regexp.MustCompile(`validator \S+ listening on (https://127\.0\.0\.1:\d+)`)

// startValidatorProc runs `pkid validator` and returns its URL.
func startValidatorProc(t *testing.T, args ...string) (url string, cmd *exec.Cmd, log *logBuffer) {
	t.Helper()
	cmd = exec.Command(pkidBinary(t), append([]string{"validator"}, args...)...)
	log = &logBuffer{}
	cmd.Stderr = log
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := validatorListenRe.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case url = <-found:
	case <-time.After(30 * time.Second):
		t.Fatalf("validator did not start: %s", log.String())
	}
	return url, cmd, log
}

// listenSamePort listens on each host with one port for all.
func listenSamePort(t *testing.T, hosts ...string) []net.Listener {
	t.Helper()
	for range 20 {
		first, err := net.Listen("tcp", net.JoinHostPort(hosts[0], "0"))
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(first.Addr().String())
		lns := []net.Listener{first}
		for _, h := range hosts[1:] {
			ln, err := net.Listen("tcp", net.JoinHostPort(h, port))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) == len(hosts) {
			return lns
		}
		for _, ln := range lns {
			ln.Close()
		}
	}
	t.Fatal("no port free on every address")
	return nil
}

// TestValidatorPerspectives runs three `pkid validator` processes, each
// with its own DNS server, and corroborates their views with a local
// primary. A spoofed perspective resolves the name to a server that
// answers a wrong key authorization.
func TestValidatorPerspectives(t *testing.T) {
	dir := t.TempDir()
	clientTLS := validatorPKI(t, dir)

	// The genuine site on 127.0.0.11 and .12, an impostor on .13.
	const genuine1, genuine2, spoofed = "127.0.0.11", "127.0.0.12", "127.0.0.13"
	lns := listenSamePort(t, genuine1, genuine2, spoofed)
	_, httpPort, _ := net.SplitHostPort(lns[0].Addr().String())
	for i, ln := range lns {
		body := vKeyAu
		if i == 2 {
			body = vToken + ".spoofed-by-the-impostor"
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/.well-known/acme-challenge/"+vToken {
				http.NotFound(w, r)
				return
			}
			io.WriteString(w, body)
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
	}

	primaryDNS := dnstest.Start(t)
	primaryDNS.SetA("site.test", genuine1)
	var dnss [3]*dnstest.Server
	var remotes []validation.Validator
	var cmds []*exec.Cmd
	var urls []string
	for i := range dnss {
		dnss[i] = dnstest.Start(t)
		name := fmt.Sprintf("v%d", i+1)
		url, cmd, _ := startValidatorProc(t, "-listen", "127.0.0.1:0", "-name", name,
			"-tls-cert", filepath.Join(dir, "server.pem"), "-tls-key", filepath.Join(dir, "server-key.pem"),
			"-client-ca", filepath.Join(dir, "ca.pem"), "-resolver", dnss[i].Addr,
			"-http-port", httpPort, "-timeout", "3s")
		remotes = append(remotes, validation.NewRemote(name, url, clientTLS))
		cmds = append(cmds, cmd)
		urls = append(urls, url)
	}
	dnss[0].SetA("site.test", genuine1)
	dnss[1].SetA("site.test", genuine2)
	dnss[2].SetA("site.test", spoofed)

	primary := validation.NewLocal(validation.LocalOptions{Name: "primary", Resolver: primaryDNS.Addr, HTTPPort: atoi(t, httpPort), Timeout: 3 * time.Second})
	req := validation.Request{Type: validation.HTTP01, Identifier: validation.Identifier{Type: "dns", Value: "site.test"},
		Token: vToken, KeyAuthorization: vKeyAu, CAAIdentities: []string{"ca.test"}, AccountURI: "https://ca.test/acct/1"}
	decide := func(r validation.Request) validation.Decision {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return validation.Corroborate(ctx, primary, remotes, 2, r)
	}
	mustContain := func(t *testing.T, d validation.Decision, subs ...string) {
		t.Helper()
		if d.Problem == nil {
			t.Fatalf("no problem: %+v", d)
		}
		for _, s := range subs {
			if !strings.Contains(d.Problem.Detail, s) {
				t.Errorf("detail %q lacks %q", d.Problem.Detail, s)
			}
		}
	}

	t.Run("one spoofed perspective is outvoted", func(t *testing.T) {
		d := decide(req)
		if !d.OK {
			t.Fatalf("refused: %+v", d.Problem)
		}
		v3 := d.Views[3]
		if v3.Perspective != "v3" || v3.OK || v3.Problem.Type != validation.ProblemIncorrectResponse ||
			!strings.Contains(v3.Problem.Detail, "spoofed-by-the-impostor") || strings.Join(v3.Addresses, ",") != spoofed {
			t.Errorf("v3 saw %+v %+v", v3, v3.Problem)
		}
		if a := d.Views[2].Addresses; strings.Join(a, ",") != genuine2 {
			t.Errorf("v2 contacted %q", a)
		}
	})

	t.Run("two spoofed perspectives refuse", func(t *testing.T) {
		dnss[1].SetA("site.test", spoofed)
		defer dnss[1].SetA("site.test", genuine2)
		d := decide(req)
		if d.OK || d.Problem.Type != validation.ProblemIncorrectResponse {
			t.Fatalf("decision %+v %+v", d, d.Problem)
		}
		mustContain(t, d, "1 of 3 remote perspectives agreed, quorum 2", "v2 (at 127.0.0.13)", "v3 (at 127.0.0.13)", "spoofed-by-the-impostor")
		if strings.Contains(d.Problem.Detail, "v1") {
			t.Errorf("an agreeing perspective is named: %s", d.Problem.Detail)
		}
	})

	t.Run("CAA seen by one perspective refuses when the quorum cannot be met", func(t *testing.T) {
		dnss[0].SetCAA("site.test", dnstest.CAA{Tag: "issue", Value: "other-ca.test"})
		defer dnss[0].SetCAA("site.test")
		d := decide(req)
		if d.OK || d.Problem.Type != validation.ProblemCAA {
			t.Fatalf("decision %+v %+v", d, d.Problem)
		}
		mustContain(t, d, "v1", "CAA records at site.test", "names another CA", "v3")
	})

	t.Run("CAA seen by one perspective is outvoted by two", func(t *testing.T) {
		dnss[0].SetCAA("site.test", dnstest.CAA{Tag: "issue", Value: "other-ca.test"})
		defer dnss[0].SetCAA("site.test")
		dnss[2].SetA("site.test", genuine2)
		defer dnss[2].SetA("site.test", spoofed)
		d := decide(req)
		if !d.OK || d.Views[1].OK || d.Views[1].Problem.Type != validation.ProblemCAA {
			t.Fatalf("decision %+v, v1 %+v", d.Problem, d.Views[1].Problem)
		}
	})

	t.Run("dns-01 through every resolver", func(t *testing.T) {
		sum := sha256.Sum256([]byte(vKeyAu))
		good := base64.RawURLEncoding.EncodeToString(sum[:])
		primaryDNS.SetTXT("_acme-challenge.site.test", good)
		dnss[0].SetTXT("_acme-challenge.site.test", good)
		dnss[1].SetTXT("_acme-challenge.site.test", good)
		dnss[2].SetTXT("_acme-challenge.site.test", "forged")
		r := req
		r.Type = validation.DNS01
		if d := decide(r); !d.OK || d.Views[3].OK {
			t.Fatalf("decision %+v, v3 %+v", d.Problem, d.Views[3])
		}
		dnss[1].SetTXT("_acme-challenge.site.test", "forged")
		d := decide(r)
		if d.OK {
			t.Fatal("accepted with two forged TXT records")
		}
		mustContain(t, d, "v2", "v3", `"forged"`)
	})

	t.Run("hostile callers", func(t *testing.T) {
		// No client certificate: the handshake fails, nothing is served.
		url := urls[0]
		noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: clientTLS.RootCAs}}}
		if resp, err := noCert.Post(url+"/validate", "application/json", strings.NewReader("{}")); err == nil {
			resp.Body.Close()
			t.Errorf("served without a client certificate: %d", resp.StatusCode)
		}
		// A client certificate of another CA, and the validator's own
		// server certificate (same CA, serverAuth only), are refused too.
		srvPair, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		for name, certs := range map[string][]tls.Certificate{
			"another CA's client certificate": validatorPKI(t, t.TempDir()).Certificates,
			"a server certificate":            {srvPair},
		} {
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
				RootCAs: clientTLS.RootCAs, Certificates: certs, MinVersion: tls.VersionTLS12}}}
			if resp, err := c.Post(url+"/validate", "application/json", strings.NewReader("{}")); err == nil {
				resp.Body.Close()
				t.Errorf("served %s: %d", name, resp.StatusCode)
			}
		}
		authed := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS}}
		resp, err := authed.Post(url+"/validate", "application/json", bytes.NewReader([]byte(`{"type":"http-01","identifier":{"type":"dns","value":"../x"}}`)))
		if err != nil {
			t.Fatal(err)
		}
		var p validation.Problem
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || json.Unmarshal(body, &p) != nil || p.Type != validation.ProblemRejectedID {
			t.Errorf("bad identifier: %d %s", resp.StatusCode, body)
		}
		resp, err = authed.Get(url + "/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("health: %d", resp.StatusCode)
		}
	})

	t.Run("health fails without a resolver", func(t *testing.T) {
		dead, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		deadAddr := dead.LocalAddr().String()
		dead.Close()
		url, _, _ := startValidatorProc(t, "-listen", "127.0.0.1:0", "-name", "deaf",
			"-tls-cert", filepath.Join(dir, "server.pem"), "-tls-key", filepath.Join(dir, "server-key.pem"),
			"-client-ca", filepath.Join(dir, "ca.pem"), "-resolver", deadAddr, "-timeout", "3s")
		authed := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: clientTLS}}
		resp, err := authed.Get(url + "/health")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "resolver") {
			t.Fatalf("health with a dead resolver: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("a perspective that is down counts as refusing", func(t *testing.T) {
		cmds[1].Process.Kill()
		cmds[1].Wait()
		d := decide(req) // v1 agrees, v2 is down, v3 is spoofed
		if d.OK {
			t.Fatal("accepted with one agreeing perspective")
		}
		mustContain(t, d, "v2: perspective v2: unreachable", "v3 (at 127.0.0.13)")
	})
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestValidatorFlags: every mistake is one line on stderr and exit 1,
// before anything listens.
func TestValidatorFlags(t *testing.T) {
	dir := t.TempDir()
	validatorPKI(t, dir)
	base := []string{"-listen", "127.0.0.1:0", "-name", "v", "-resolver", "127.0.0.1:53",
		"-tls-cert", filepath.Join(dir, "server.pem"), "-tls-key", filepath.Join(dir, "server-key.pem"),
		"-client-ca", filepath.Join(dir, "ca.pem")}
	with := func(flag, v string) []string {
		out := append([]string{}, base...)
		for i := 0; i < len(out); i += 2 {
			if out[i] == flag {
				if v == "" {
					return append(out[:i], out[i+2:]...)
				}
				out[i+1] = v
				return out
			}
		}
		return append(out, flag, v)
	}
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	tests := []struct {
		args []string
		want string
	}{
		{with("-resolver", ""), "-resolver is required"},
		{with("-name", ""), "-name is required"},
		{with("-client-ca", ""), "-client-ca is required"},
		{with("-resolver", "127.0.0.1"), `-resolver "127.0.0.1" is not HOST:PORT`},
		{with("-resolver", "127.0.0.1:99999"), "is not HOST:PORT"},
		{with("-http-port", "0"), "-http-port 0 is not a port"},
		{with("-tls-alpn-port", "70000"), "-tls-alpn-port 70000 is not a port"},
		{with("-timeout", "-1s"), "-timeout -1s"},
		{with("-client-ca", notPEM), "no PEM certificate in"},
		{with("-client-ca", filepath.Join(dir, "missing.pem")), "no such file"},
		{with("-tls-key", filepath.Join(dir, "ca.pem")), "server certificate"},
		{with("-listen", "127.0.0.1:99999"), "validator:"},
		{append(base, "extra"), "unexpected arguments"},
	}
	for _, tt := range tests {
		r := pkid(t, append([]string{"validator"}, tt.args...)...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 1 || len(lines) != 1 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want one line containing %q", tt.args, r.code, r.stderr, r.stdout, tt.want)
		}
	}
}
