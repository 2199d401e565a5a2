package keystoresplit

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// pkidBinary builds cmd/pkid once: the daemon test runs the real binary,
// with the split keystore in its own plugin process.
func pkidBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pkid-split-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pkid")
		if out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/pkid").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// TestDaemonSplitRoot is the operator's walk (docs/keystore-split.md,
// "A root and its intermediate: the operator's walk") through the real binary. The ceremony
// splits the root key 2 of 3 (alice and bob hold age identities, carol a
// SoftHSM2 token when there is one) and writes its self-signed
// certificate; the intermediate's key is made in keystore-file by `pkid ca init -csr-only`.
// `pkid serve` runs the root's ca block on keystore "split": while it is
// locked, health says so and a sign request fails at once with a 503 JSON
// error naming the keystore. bob and carol (from her token) delegate
// through the CLI to the daemon's keystore process, and the daemon signs the intermediate with the
// root's "intermediate" profile (`pkid sign -remote`). The daemon's memory
// is then scanned for the root's private scalar: absent from the core,
// present in the split plugin's process (the scan's control). Restarted
// with the intermediate's ca block (on keystore-file) added, the same
// deployment issues a leaf, and openssl verifies leaf, intermediate and
// root; the root is locked again (delegations die with the process).
func TestDaemonSplitRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pkid binary")
	}
	t.Parallel() // mostly waits (build, start-up, health): overlap the kits
	openssl := testtool.Require(t, "openssl")
	bin := pkidBinary(t)
	state := t.TempDir()
	splitDir := filepath.Join(state, "split")
	cs := newCustodians(t, "alice", "bob", "carol")
	idFile := map[string]string{}
	for n, id := range cs {
		idFile[n] = filepath.Join(state, n+".age")
		os.WriteFile(idFile[n], []byte(id.String()+"\n"), 0o600)
	}
	var hsmEnv []string // SOFTHSM2_CONF for every CLI run when carol has a token
	pkidEnv := func(env []string, stdin string, args ...string) (string, string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(append(os.Environ(), hsmEnv...), env...)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	pkid := func(stdin string, args ...string) (string, string, error) { return pkidEnv(nil, stdin, args...) }

	// carol keeps her share on a SoftHSM2 token when there is one (under
	// CI=true there must be): token-recipient and delegate run in the
	// binary's plugin process, which gets SOFTHSM2_CONF and the PIN
	// through pkid's environment allowlist for builtin plugins.
	carol := "carol=" + cs["carol"].Recipient().String()
	carolArgs, carolEnv := []string{"-identity", idFile["carol"]}, []string(nil)
	if module, conf, ok := softHSMConf(t); ok {
		initToken(t, conf, "carol")
		hsmEnv, carolEnv = []string{"SOFTHSM2_CONF=" + conf}, []string{pinEnv + "=" + hsmPIN}
		out, errOut, err := pkidEnv(carolEnv, "", "keystore", "split", "token-recipient", "-pkcs11-module", module, "-token-label", "carol", "-generate")
		if err != nil || !strings.HasPrefix(out, tokenRecipientPrefix) {
			t.Fatalf("token-recipient: %v: %s%s", err, out, errOut)
		}
		carol, carolArgs = "carol="+strings.TrimSpace(out), []string{"-pkcs11-module", module}
	}

	// The ceremony, in a plugin process started by the CLI, with the
	// root's self-signed certificate.
	rootPEM := filepath.Join(state, "root.pem")
	out, errOut, err := pkid("", "keystore", "split", "ceremony", "-dir", splitDir, "-key", "root", "-m", "2",
		"-cert", rootPEM, "-cn", "Split Root CA", "-pathlen", "1", "-custodians",
		"alice="+cs["alice"].Recipient().String()+",bob="+cs["bob"].Recipient().String()+","+carol)
	if err != nil {
		t.Fatalf("ceremony: %v: %s%s", err, out, errOut)
	}
	cliOut := out + errOut
	rootCert := readCert(t, rootPEM)
	if !rootCert.IsCA || rootCert.CheckSignatureFrom(rootCert) != nil || rootCert.Subject.CommonName != "Split Root CA" {
		t.Fatalf("the ceremony's root certificate: CA %v, %v", rootCert.IsCA, rootCert.CheckSignatureFrom(rootCert))
	}
	kf, err := readKeyFile(splitDir, "root")
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := kf.custodian("carol"); carolEnv != nil && (c == nil || c.Kind != kindPKCS11) {
		t.Fatalf("carol in the ceremony's record: %+v", c)
	}
	// alice's and bob's shares (carol's may be on her token).
	shares := map[string][]byte{}
	for _, n := range []string{"alice", "bob"} {
		if shares[n], err = kf.openShare(n, cs[n]); err != nil {
			t.Fatal(err)
		}
	}
	// The test rebuilds the key only to know what to scan memory for.
	whole, err := kf.unlock(shares)
	if err != nil {
		t.Fatal(err)
	}
	scalar := whole.(*ecdsa.PrivateKey).D.FillBytes(make([]byte, 32))
	wipe(whole)

	passFile := filepath.Join(state, "pass")
	os.WriteFile(passFile, []byte("intermediate passphrase\n"), 0o600)
	base := fmt.Sprintf(`
pkid {
  state_dir = %[1]q
  listen    = "127.0.0.1:0"
}
certstore "sqlite" "main" {
  path = "%[1]s/pkid.db"
}
keystore "split" "root" {
  state_dir     = "%[1]s/split"
  poll_interval = "100ms"
}
keystore "file" "inter" {
  dir             = "%[1]s/keys"
  passphrase_file = "%[1]s/pass"
}
ca "root" {
  keystore    = keystore.root
  key         = "root"
  certificate = "%[1]s/root.pem"
  certstore   = certstore.main
  profile "intermediate" {
    usages = ["cert sign", "crl sign"]
    expiry = "8760h"
    ca_constraint {
      is_ca             = true
      max_path_len      = 0
      max_path_len_zero = true
    }
  }
}
`, state)
	issuing := fmt.Sprintf(`
ca "issuing" {
  keystore    = keystore.inter
  key         = "issuing"
  certificate = "%[1]s/issuing.pem"
  certstore   = certstore.main
  profile "server" {
    usages = ["digital signature", "server auth"]
    expiry = "24h"
  }
}
`, state)
	baseCfg, issuingCfg := filepath.Join(state, "pkid.hcl"), filepath.Join(state, "issuing.hcl")
	os.WriteFile(baseCfg, []byte(base), 0o644)
	os.WriteFile(issuingCfg, []byte(issuing), 0o644)

	// The intermediate's key, made in keystore-file, and its CSR.
	csrPEM, errOut, err := pkid("", "ca", "init", "-config", baseCfg, "-config", issuingCfg, "-ca", "issuing", "-csr-only", "-cn", "File Issuing CA")
	if err != nil || !strings.Contains(csrPEM, "CERTIFICATE REQUEST") {
		t.Fatalf("ca init -csr-only: %v: %s%s", err, csrPEM, errOut)
	}
	csrFile := filepath.Join(state, "issuing.csr")
	os.WriteFile(csrFile, []byte(csrPEM), 0o644)

	d := startServe(t, bin, baseCfg)
	waitHealth(t, d.base, "ca.root", "locked")

	// Locked: the root's sign request fails at once, naming the keystore.
	signBody, _ := json.Marshal(map[string]any{"certificate_request": csrPEM, "label": "root", "profile": "intermediate"})
	began := time.Now()
	resp, err := http.Post(d.base+"/api/v1/cfssl/sign", "application/json", bytes.NewReader(signBody))
	if err != nil {
		t.Fatal(err)
	}
	var failed struct {
		Success bool `json:"success"`
		Errors  []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	json.NewDecoder(resp.Body).Decode(&failed)
	resp.Body.Close()
	if took := time.Since(began); resp.StatusCode != http.StatusServiceUnavailable || failed.Success || len(failed.Errors) != 1 ||
		failed.Errors[0].Code != http.StatusServiceUnavailable ||
		!strings.Contains(failed.Errors[0].Message, `keystore "root" is locked`) || took > 3*time.Second {
		t.Fatalf("sign while locked: HTTP %d in %s: %+v", resp.StatusCode, took, failed)
	}

	// Two custodians delegate to the daemon's keystore through the CLI.
	// bob names the directory; carol the configuration, whose split
	// keystore her CLI run configures passively (the daemon runs it).
	for _, c := range []struct {
		name  string
		where []string
		env   []string
	}{
		{"bob", []string{"-dir", splitDir, "-identity", idFile["bob"]}, nil},
		{"carol", append([]string{"-config", baseCfg}, carolArgs...), carolEnv},
	} {
		args := append([]string{"keystore", "split", "delegate"}, c.where...)
		out, errOut, err := pkidEnv(c.env, "", append(args, "-key", "root", "-custodian", c.name,
			"-for", "10m", "-uses", "5", "-purpose", "sign the issuing CA")...)
		if err != nil || !strings.Contains(out, "accepted") {
			t.Fatalf("delegate %s: %v: %s%s", c.name, err, out, errOut)
		}
		cliOut += out + errOut
	}
	out, _, err = pkid("", "keystore", "split", "list", "-config", baseCfg)
	if err != nil || !regexp.MustCompile(`root\s+1\s+2\s+2\s+`).MatchString(out) {
		t.Fatalf("list: %v: %s", err, out)
	}
	waitHealth(t, d.base, "ca.root", "ok")

	// The daemon signs the intermediate with the root, as an operator
	// asks it to.
	host := strings.TrimPrefix(d.base, "http://")
	out, errOut, err = pkid("", "sign", "-remote", host, "-label", "root", "-profile", "intermediate", csrFile)
	if err != nil {
		t.Fatalf("pkid sign -remote: %v: %s%s", err, out, errOut)
	}
	var signed struct {
		Cert string `json:"cert"`
	}
	if err := json.Unmarshal([]byte(out), &signed); err != nil || signed.Cert == "" {
		t.Fatalf("pkid sign -remote printed %q: %v", out, err)
	}
	interPEM := filepath.Join(state, "issuing.pem")
	os.WriteFile(interPEM, []byte(signed.Cert), 0o644)
	inter := readCert(t, interPEM)
	if !inter.IsCA || inter.MaxPathLen != 0 || !inter.MaxPathLenZero || inter.CheckSignatureFrom(rootCert) != nil {
		t.Fatalf("intermediate: CA %v, path length %d, signed by the root: %v", inter.IsCA, inter.MaxPathLen, inter.CheckSignatureFrom(rootCert))
	}

	// The scalar: never in the core, in the split plugin (which signed
	// the intermediate with it and is still unlocked).
	corePID := d.cmd.Process.Pid
	splitPID := pluginChild(t, corePID, "split")
	if found, err := memContains(corePID, scalar); err != nil || found {
		t.Fatalf("core process memory holds the root's scalar: %v, %v", found, err)
	}
	if found, err := memContains(splitPID, scalar); err != nil || !found {
		t.Fatalf("the control failed: split plugin memory (pid %d) does not hold the scalar (%v); the scan proves nothing", splitPID, err)
	}
	// Shares never reach the core either, nor any output or log.
	for n, sh := range shares {
		if found, err := memContains(corePID, sh); err != nil || found {
			t.Fatalf("core process memory holds %s's share: %v, %v", n, found, err)
		}
		for _, enc := range []string{b64(sh), fmt.Sprintf("%x", sh)} {
			if strings.Contains(cliOut, enc) || strings.Contains(d.logs(), enc) {
				t.Fatalf("%s's share appears in the CLI output or the daemon's log", n)
			}
		}
	}
	if !strings.Contains(d.logs(), "plugin") {
		t.Fatalf("the daemon's debug log is empty; the share check proves nothing: %q", d.logs())
	}
	d.stop(t)

	// The intermediate joins the configuration; the daemon issues leaves
	// from it while the root stays locked.
	d = startServe(t, bin, baseCfg, issuingCfg)
	waitHealth(t, d.base, "ca.root", "locked")
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csrDER, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "svc.example.com"},
		DNSNames: []string{"svc.example.com"}}, leafKey)
	body, _ := json.Marshal(map[string]any{"certificate_request": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})),
		"label": "issuing", "profile": "server"})
	resp, err = http.Post(d.base+"/api/v1/cfssl/sign", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Success bool `json:"success"`
		Result  struct {
			Certificate string `json:"certificate"`
		} `json:"result"`
	}
	json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if !env.Success {
		t.Fatalf("leaf sign failed: %+v", env)
	}
	leafFile := filepath.Join(state, "leaf.pem")
	os.WriteFile(leafFile, []byte(env.Result.Certificate), 0o644)
	vout, err := exec.Command(openssl, "verify", "-CAfile", rootPEM, "-untrusted", interPEM, leafFile).CombinedOutput()
	if err != nil || !strings.Contains(string(vout), "leaf.pem: OK") {
		t.Fatalf("openssl verify: %v: %s", err, vout)
	}
	// The control: the leaf does not verify against the root alone.
	if vout, err := exec.Command(openssl, "verify", "-CAfile", rootPEM, leafFile).CombinedOutput(); err == nil {
		t.Fatalf("openssl verified the leaf without its intermediate: %s", vout)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return c
}

type serveProc struct {
	cmd  *exec.Cmd
	base string
	logs func() string
}

var listenRe = regexp.MustCompile(`listening on (https?://127\.0\.0\.1:\d+)`)

func startServe(t *testing.T, bin string, cfgs ...string) *serveProc {
	t.Helper()
	args := []string{"serve"}
	for _, c := range cfgs {
		args = append(args, "-config", c)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "PKID_LOG_LEVEL=debug")
	stdout, _ := cmd.StdoutPipe()
	var logs bytes.Buffer
	var mu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case base := <-found:
		return &serveProc{cmd: cmd, base: base, logs: func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }}
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("daemon did not start: %s", logs.String())
	}
	return nil
}

// stop ends the daemon as an operator does (SIGTERM) and waits for it and
// its plugin processes to exit.
func (d *serveProc) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		t.Fatalf("the daemon did not stop on SIGTERM: %s", d.logs())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// waitHealth waits until the health endpoint reports part as want.
func waitHealth(t *testing.T, base, part, want string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get(base + "/api/v1/cfssl/health")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(b)
		var env struct {
			Result struct {
				Healthy bool              `json:"healthy"`
				Parts   map[string]string `json:"parts"`
			} `json:"result"`
		}
		json.Unmarshal(b, &env)
		got := env.Result.Parts[part]
		if got == "" && env.Result.Healthy {
			got = "ok" // a healthy daemon lists no parts
		}
		if got == want {
			return
		}
	}
	t.Fatalf("health part %s never %q: %s", part, want, last)
}

// pluginChild returns the pid of the child of parent whose command line
// mentions word.
func pluginChild(t *testing.T, parent int, word string) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		fields := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(parent) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), word) {
			return pid
		}
	}
	t.Fatalf("no child of %d mentioning %q", parent, word)
	return 0
}

// memContains scans the readable mappings of pid for the scalar, big-endian
// (as in encodings) or byte-reversed (big.Int words on a little-endian
// machine).
func memContains(pid int, scalar []byte) (bool, error) {
	rev := make([]byte, len(scalar))
	for i, b := range scalar {
		rev[len(scalar)-1-i] = b
	}
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return false, err
	}
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return false, err
	}
	defer mem.Close()
	scanned := 0
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(f[1], "r") {
			continue
		}
		var lo, hi uint64
		if _, err := fmt.Sscanf(f[0], "%x-%x", &lo, &hi); err != nil || hi-lo > 1<<30 {
			continue
		}
		buf := make([]byte, hi-lo)
		n, _ := mem.ReadAt(buf, int64(lo))
		scanned += n
		if bytes.Contains(buf[:n], scalar) || bytes.Contains(buf[:n], rev) {
			return true, nil
		}
	}
	if scanned == 0 {
		return false, fmt.Errorf("read nothing of pid %d's memory", pid)
	}
	return false, nil
}
