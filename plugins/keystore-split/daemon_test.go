package keystoresplit

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
	keystorefile "github.com/pkid/pkid/plugins/keystore-file"
	"github.com/pkid/pkid/sdk"
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

// ksSigner is a crypto.Signer over a keystore key.
type ksSigner struct {
	ks  sdk.KeyStore
	id  string
	pub crypto.PublicKey
}

func (k ksSigner) Public() crypto.PublicKey { return k.pub }
func (k ksSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return k.ks.Sign(context.Background(), sdk.SignRequest{KeyID: k.id, Digest: digest, Hash: opts.HashFunc()})
}

func caTemplate(cn string, pathLen int) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	return &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: pathLen, MaxPathLenZero: pathLen == 0,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature}
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestDaemonSplitRoot: a root on keystore-split (2 of 3, made by the
// ceremony command of the real binary) signs an intermediate whose key is
// in keystore-file; pkid serve runs both CAs from an HCL configuration
// (the root's block says keystore "split" where it would say "file"), the
// root stays locked until two custodians delegate through the CLI, the
// intermediate issues a leaf, and openssl verifies the chain. Then the
// daemon's memory is scanned for the root's private scalar: absent from
// the core process, present in the split plugin's (the scan's control).
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
	pkid := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// The ceremony, in a plugin process started by the CLI.
	out, err := pkid("", "keystore", "split", "ceremony", "-dir", splitDir, "-key", "root", "-m", "2", "-custodians",
		"alice="+cs["alice"].Recipient().String()+",bob="+cs["bob"].Recipient().String()+",carol="+cs["carol"].Recipient().String())
	if err != nil {
		t.Fatalf("ceremony: %v: %s", err, out)
	}

	cliOut := out
	kfData, _ := os.ReadFile(filepath.Join(splitDir, keysDir, "root"+keySuffix))
	kf, _, err := parseKeyFile(kfData, "root")
	if err != nil {
		t.Fatal(err)
	}
	var shares [][]byte
	for _, n := range []string{"alice", "bob", "carol"} {
		sh, err := kf.openShare(n, cs[n])
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, sh)
	}

	// The root certificate and the intermediate, signed by the split root
	// in this process with two delegations.
	root := configure(t, New(), "root", splitDir, 2, cs)
	cs.give(t, splitDir, "root", time.Hour, 2, "alice", "carol")
	rootInfo, err := root.PublicKey(context.Background(), "root")
	if err != nil {
		t.Fatal(err)
	}
	rootSigner := ksSigner{root, "root", rootInfo.PublicKey}
	rootTmpl := caTemplate("split root", 1)
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootInfo.PublicKey, rootSigner)
	if err != nil {
		t.Fatal(err)
	}
	rootCert, _ := x509.ParseCertificate(rootDER)
	root.mu.Lock()
	scalar := root.keys["root"].signer.(*ecdsa.PrivateKey).D.FillBytes(make([]byte, 32))
	root.mu.Unlock()

	passFile := filepath.Join(state, "pass")
	os.WriteFile(passFile, []byte("intermediate passphrase\n"), 0o600)
	fileCfg, _ := json.Marshal(map[string]any{"dir": filepath.Join(state, "keys"), "passphrase": nil,
		"passphrase_file": passFile, "kdf_work_factor": 10})
	fks, err := keystorefile.New().Configure(context.Background(), sdk.Config{Kind: sdk.KindKeyStore, Instance: "inter", JSON: fileCfg})
	if err != nil {
		t.Fatal(err)
	}
	interInfo, err := fks.(sdk.KeyStore).GenerateKey(context.Background(), sdk.GenerateKeyRequest{ID: "issuing", Algorithm: sdk.AlgECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	fks.Close()
	interDER, err := x509.CreateCertificate(rand.Reader, caTemplate("file intermediate", 0), rootCert, interInfo.PublicKey, rootSigner)
	if err != nil {
		t.Fatal(err)
	}
	mustBeLocked(t, root, "root", "0 of 2") // two uses each, both spent
	root.Close()
	os.WriteFile(filepath.Join(state, "root.pem"), pemCert(rootDER), 0o644)
	os.WriteFile(filepath.Join(state, "issuing.pem"), pemCert(interDER), 0o644)

	cfg := fmt.Sprintf(`
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
}
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
	cfgFile := filepath.Join(state, "pkid.hcl")
	os.WriteFile(cfgFile, []byte(cfg), 0o644)
	if out, err := pkid("", "validate", "-config", cfgFile); err != nil {
		t.Fatalf("validate: %v: %s", err, out)
	}

	d := startServe(t, bin, cfgFile)
	waitHealth(t, d.base, "ca.root", "locked")

	// Two custodians delegate to the daemon's keystore through the CLI.
	// bob names the directory; carol the configuration, whose split
	// keystore her CLI run configures passively (the daemon runs it).
	for n, where := range map[string][]string{"bob": {"-dir", splitDir}, "carol": {"-config", cfgFile}} {
		args := append([]string{"keystore", "split", "delegate"}, where...)
		out, err := pkid("", append(args, "-key", "root", "-custodian", n,
			"-identity", idFile[n], "-for", "10m", "-uses", "5", "-purpose", "daemon test")...)
		if err != nil || !strings.Contains(out, "accepted") {
			t.Fatalf("delegate %s: %v: %s", n, err, out)
		}
		cliOut += out
	}
	out, err = pkid("", "keystore", "split", "list", "-config", cfgFile)
	if err != nil || !regexp.MustCompile(`root\s+1\s+2\s+2\s+`).MatchString(out) {
		t.Fatalf("list: %v: %s", err, out)
	}
	waitHealth(t, d.base, "ca.root", "ok")

	// The intermediate (keystore-file) issues a leaf; openssl verifies
	// the chain up to the split root.
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csrDER, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "svc.example.com"},
		DNSNames: []string{"svc.example.com"}}, leafKey)
	body, _ := json.Marshal(map[string]any{"certificate_request": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})),
		"label": "issuing", "profile": "server"})
	resp, err := http.Post(d.base+"/api/v1/cfssl/sign", "application/json", bytes.NewReader(body))
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
		t.Fatalf("sign failed: %+v", env)
	}
	leafFile := filepath.Join(state, "leaf.pem")
	os.WriteFile(leafFile, []byte(env.Result.Certificate), 0o644)
	vout, err := exec.Command(openssl, "verify", "-CAfile", filepath.Join(state, "root.pem"),
		"-untrusted", filepath.Join(state, "issuing.pem"), leafFile).CombinedOutput()
	if err != nil || !strings.Contains(string(vout), "OK") {
		t.Fatalf("openssl verify: %v: %s", err, vout)
	}

	// The scalar: never in the core, in the split plugin (which signed
	// the health probe with it).
	corePID := d.cmd.Process.Pid
	splitPID := pluginChild(t, corePID, "split")
	if found, err := memContains(corePID, scalar); err != nil || found {
		t.Fatalf("core process memory holds the root's scalar: %v, %v", found, err)
	}
	if found, err := memContains(splitPID, scalar); err != nil || !found {
		t.Fatalf("the control failed: split plugin memory (pid %d) does not hold the scalar (%v); the scan proves nothing", splitPID, err)
	}
	// Shares never reach the core either, nor any output or log.
	for i, sh := range shares {
		if found, err := memContains(corePID, sh); err != nil || found {
			t.Fatalf("core process memory holds share %d: %v, %v", i, found, err)
		}
		for _, enc := range []string{b64(sh), fmt.Sprintf("%x", sh)} {
			if strings.Contains(cliOut, enc) || strings.Contains(d.logs(), enc) {
				t.Fatalf("share %d appears in the CLI output or the daemon's log", i)
			}
		}
	}
	if !strings.Contains(d.logs(), "plugin") {
		t.Fatalf("the daemon's debug log is empty; the share check proves nothing: %q", d.logs())
	}
}

type serveProc struct {
	cmd  *exec.Cmd
	base string
	logs func() string
}

var listenRe = regexp.MustCompile(`listening on (https?://127\.0\.0\.1:\d+)`)

func startServe(t *testing.T, bin, cfg string) *serveProc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-config", cfg)
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
