package keystoresplit

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/sdk"
)

// custodians is a test custodian set: name → age identity.
type custodians map[string]*age.X25519Identity

func newCustodians(t testing.TB, names ...string) custodians {
	t.Helper()
	cs := custodians{}
	for _, n := range names {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			t.Fatal(err)
		}
		cs[n] = id
	}
	return cs
}

func (cs custodians) recipients() map[string]string {
	out := map[string]string{}
	for n, id := range cs {
		out[n] = id.Recipient().String()
	}
	return out
}

// testConfig is a keystore block for dir with cs and threshold m.
func testConfig(dir string, m int, cs custodians) map[string]any {
	return map[string]any{"state_dir": dir, "threshold": m, "custodians": cs.recipients(),
		"poll_interval": "50ms", "max_delegation": nil, "audit_file": nil}
}

// newTestStore configures an in-process instance on a new state dir.
func newTestStore(t testing.TB, m int, cs custodians) (*store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "split")
	js, _ := json.Marshal(testConfig(dir, m, cs))
	inst, err := New().Configure(context.Background(), sdk.Config{Kind: sdk.KindKeyStore, Instance: "t", JSON: js})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst.(*instance).store, dir
}

// give delegates key for each named custodian.
func (cs custodians) give(t testing.TB, dir, key string, dur time.Duration, uses int, names ...string) []string {
	t.Helper()
	var ids []string
	for _, n := range names {
		id, err := delegate(delegateRequest{StateDir: dir, Key: key, Custodian: n, Purpose: "test " + n,
			For: dur, Uses: uses, Identities: []age.Identity{cs[n]}})
		if err != nil {
			t.Fatalf("delegate %s: %v", n, err)
		}
		ids = append(ids, id)
	}
	return ids
}

var testDigest = sha256.Sum256([]byte("a certificate"))

func signReq(key string) sdk.SignRequest {
	return sdk.SignRequest{KeyID: key, Digest: testDigest[:], Hash: 5 /* crypto.SHA256 */}
}

// mustSign signs and verifies with an ECDSA key.
func mustSign(t testing.TB, ks sdk.KeyStore, key string) {
	t.Helper()
	sig, err := ks.Sign(context.Background(), signReq(key))
	if err != nil {
		t.Fatalf("Sign(%s): %v", key, err)
	}
	info, err := ks.PublicKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(info.PublicKey.(*ecdsa.PublicKey), testDigest[:], sig) {
		t.Fatal("signature does not verify")
	}
}

// mustBeLocked checks that Sign fails with sdk.ErrLocked saying want.
func mustBeLocked(t testing.TB, ks sdk.KeyStore, key, want string) {
	t.Helper()
	_, err := ks.Sign(context.Background(), signReq(key))
	if !errors.Is(err, sdk.ErrLocked) {
		t.Fatalf("Sign(%s) = %v, want sdk.ErrLocked", key, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("Sign(%s) error %q does not say %q", key, err, want)
	}
}

// refusedWith waits until status.json lists a refusal containing want.
func refusedWith(t testing.TB, s *store, dir, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		s.refresh(true)
		s.mu.Unlock()
		st, err := readStatus(dir)
		if err == nil {
			for _, r := range st.Refused {
				if strings.Contains(r.File+": "+r.Reason, want) {
					return
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, _ := readStatus(dir)
	t.Fatalf("no refusal saying %q; status: %+v", want, st)
}

// run runs a plugin command and returns its code and output.
func run(t testing.TB, p sdk.Plugin, stdin string, name string, args ...string) (int, string, error) {
	t.Helper()
	var out bytes.Buffer
	code, err := p.(sdk.Commander).RunCommand(context.Background(), sdk.CommandRequest{Kind: sdk.KindKeyStore,
		Name: name, Args: args, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &out})
	return code, out.String(), err
}

func configure(t testing.TB, p sdk.Plugin, name, dir string, m int, cs custodians) *store {
	t.Helper()
	js, _ := json.Marshal(testConfig(dir, m, cs))
	inst, err := p.Configure(context.Background(), sdk.Config{Kind: sdk.KindKeyStore, Instance: name, JSON: js})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	return inst.(*instance).store
}

func ageIDs(ids ...*age.X25519Identity) []age.Identity {
	var out []age.Identity
	for _, id := range ids {
		out = append(out, id)
	}
	return out
}

func probeDigest() []byte {
	sum := sha256.Sum256([]byte("pkid health probe"))
	return sum[:]
}

// dropDelegation seals d (defaults filled in) to the running keystore and
// drops it into the inbox, as a hostile or careless writer could.
func dropDelegation(t testing.TB, s *store, dir string, d delegation) {
	t.Helper()
	pub, err := readPublished(dir)
	if err != nil {
		t.Fatal(err)
	}
	d.Version = fileVersion
	if d.ID == "" {
		d.ID = newToken()
	}
	d.Session = pub.Session
	if d.Generation == 0 {
		d.Generation = 1
	}
	if d.Purpose == "" {
		d.Purpose = "hostile"
	}
	if d.IssuedAt.IsZero() {
		d.IssuedAt = time.Now()
	}
	if d.NotAfter.IsZero() {
		d.NotAfter = time.Now().Add(time.Hour)
	}
	if d.Uses == 0 {
		d.Uses = 5
	}
	sealed, err := sealTo(pub.Recipient, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeFile(filepath.Join(dir, inboxDir), newToken()+suffixDelegation, sealed, 0o600, true); err != nil {
		t.Fatal(err)
	}
}

// newOldRunDelegation returns a well-formed delegation of alice's sealed to
// an ephemeral key that is not the running keystore's.
func newOldRunDelegation(t testing.TB, cs custodians, dir string) ([]byte, error) {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(dir, keysDir, "k"+keySuffix))
	kf, _, err := parseKeyFile(data, "k")
	if err != nil {
		t.Fatal(err)
	}
	share, err := kf.openShare("alice", cs["alice"])
	if err != nil {
		t.Fatal(err)
	}
	old, _ := age.GenerateX25519Identity()
	return sealTo(old.Recipient().String(), delegation{Version: 1, ID: newToken(), Session: newToken(), Key: "k",
		Generation: 1, Custodian: "alice", Purpose: "old", IssuedAt: time.Now(), NotAfter: time.Now().Add(time.Hour),
		Uses: 1, Share: share})
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

const hsmPIN = "custodian-pin"

// softHSMConf finds the SoftHSM2 module and writes a SoftHSM2 configuration
// for a fresh token directory. ok is false when SoftHSM2 is not installed;
// under CI=true the test fails instead.
func softHSMConf(t testing.TB) (module, conf string, ok bool) {
	t.Helper()
	if _, ok := testtool.Find(t, "softhsm2-util"); !ok {
		return "", "", false
	}
	for _, p := range []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
		"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so", "/usr/lib64/pkcs11/libsofthsm2.so"} {
		if _, err := os.Stat(p); err == nil {
			module = p
			break
		}
	}
	if module == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("libsofthsm2.so is required under CI=true (apt-get install softhsm2)")
		}
		return "", "", false
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	os.Mkdir(tokens, 0o700)
	conf = filepath.Join(dir, "softhsm2.conf")
	os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"), 0o600)
	return module, conf, true
}

// initToken initialises a SoftHSM2 token labelled label, PIN hsmPIN.
func initToken(t testing.TB, conf, label string) {
	t.Helper()
	cmd := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", hsmPIN, "--so-pin", "so-"+hsmPIN)
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --init-token: %v: %s", err, out)
	}
}
