package keystoresplit

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/pkid/pkid/sdk"
)

// ceremonyKey runs the ceremony command for key on dir with alice and bob
// (age) and carol (passphrase), 2 of 3, and returns the public key.
func ceremonyKey(t testing.TB, dir, key string, cs custodians, carolPass string) *ecdsa.PublicKey {
	t.Helper()
	p := New()
	code, out, err := run(t, p, carolPass+"\n", "ceremony", "-dir", dir, "-key", key, "-m", "2", "-work-factor", "10",
		"-custodians", "alice="+cs["alice"].Recipient().String()+",bob="+cs["bob"].Recipient().String()+",carol=passphrase")
	if code != 0 || err != nil {
		t.Fatalf("ceremony = %d, %v: %s", code, err, out)
	}
	block, rest := pem.Decode([]byte(out))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("ceremony printed no public key: %s", out)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// The printed record is the signed record in the key file, and it says
	// who holds which share.
	var printed struct {
		Record    record `json:"record"`
		Signature []byte `json:"signature"`
	}
	if err := json.Unmarshal(rest, &printed); err != nil {
		t.Fatalf("ceremony record: %v: %s", err, rest)
	}
	digest, _ := recordDigest(&printed.Record)
	if err := verifyDigest(pub, digest, printed.Signature); err != nil {
		t.Fatalf("printed record: %v", err)
	}
	var names []string
	for _, c := range printed.Record.Custodians {
		names = append(names, c.Name+"/"+c.Kind)
	}
	if strings.Join(names, ",") != "alice/age,bob/age,carol/passphrase" || printed.Record.Threshold != 2 {
		t.Fatalf("record custodians %v, threshold %d", names, printed.Record.Threshold)
	}
	return pub.(*ecdsa.PublicKey)
}

func TestCeremonyDelegateWithPassphrase(t *testing.T) {
	cs := newCustodians(t, "alice", "bob")
	dir := filepath.Join(t.TempDir(), "s")
	pub := ceremonyKey(t, dir, "root", cs, "carol's long passphrase")

	// Configured afterwards (no custodians: ceremony keys only).
	js, _ := json.Marshal(map[string]any{"state_dir": dir, "poll_interval": "50ms"})
	inst, err := New().Configure(context.Background(), sdk.Config{Kind: sdk.KindKeyStore, Instance: "ca", JSON: js})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	s := inst.(*instance).store
	if _, err := s.GenerateKey(context.Background(), sdk.GenerateKeyRequest{ID: "x", Algorithm: sdk.AlgECDSAP256}); err == nil ||
		!strings.Contains(err.Error(), "ceremony") {
		t.Fatalf("generate without custodians: %v", err)
	}
	info, err := s.PublicKey(context.Background(), "root")
	if err != nil || !pub.Equal(info.PublicKey) {
		t.Fatalf("PublicKey = %v, %v", info, err)
	}

	cli := New()
	// A wrong passphrase is refused, naming carol.
	code, _, err := run(t, cli, "wrong\n", "delegate", "-dir", dir, "-key", "root", "-custodian", "carol", "-for", "1h", "-uses", "2", "-purpose", "sign the intermediate")
	if code != 1 || err == nil || !strings.Contains(err.Error(), `custodian "carol"`) {
		t.Fatalf("wrong passphrase = %d, %v", code, err)
	}
	code, out, err := run(t, cli, "carol's long passphrase\n", "delegate", "-dir", dir, "-key", "root", "-custodian", "carol", "-for", "1h", "-uses", "2", "-purpose", "sign the intermediate")
	if code != 0 || err != nil || !strings.Contains(out, "accepted it") {
		t.Fatalf("delegate carol = %d, %v: %s", code, err, out)
	}
	mustBeLocked(t, s, "root", "1 of 2")
	idFile := filepath.Join(t.TempDir(), "alice.txt")
	os.WriteFile(idFile, []byte(cs["alice"].String()+"\n"), 0o600)
	code, out, err = run(t, cli, "", "delegate", "-dir", dir, "-key", "root", "-custodian", "alice", "-identity", idFile, "-for", "1h", "-uses", "2", "-purpose", "sign the intermediate")
	if code != 0 || err != nil {
		t.Fatalf("delegate alice = %d, %v: %s", code, err, out)
	}
	mustSign(t, s, "root")
	mustSign(t, s, "root")
	mustBeLocked(t, s, "root", "0 of 2") // two uses each

	// Hostile invocations: one-line errors, usage code 2.
	for _, args := range [][]string{
		{"delegate", "-dir", dir, "-key", "root", "-custodian", "alice", "-for", "1h", "-uses", "0", "-purpose", "p", "-identity", idFile},
		{"delegate", "-dir", dir, "-key", "../etc", "-custodian", "alice", "-purpose", "p", "-identity", idFile},
		{"ceremony", "-dir", dir, "-key", "k2", "-m", "1", "-custodians", "a=" + cs["alice"].Recipient().String() + ",b=" + cs["bob"].Recipient().String()},
		{"ceremony", "-dir", dir, "-key", "k2", "-m", "2", "-custodians", "a=age1bogus,b=passphrase"},
		{"ceremony", "-dir", dir, "-key", "k2", "-m", "2", "-custodians", "a=passphrase,b=passphrase"}, // no passphrases on stdin
		{"delegate", "stray"},
		{"rotate", "-dir", dir, "-key", "root", "-m", "5", "-custodians", "a=" + cs["alice"].Recipient().String() + ",b=" + cs["bob"].Recipient().String()},
		{"rotate", "-dir", dir, "-key", "root", "-m", "2", "-custodians", "a=x"},
		{"list", "-keystore", "nope"},
		{"ceremony", "-key", "k3", "-m", "2", "-custodians", "a=" + cs["alice"].Recipient().String() + ",b=" + cs["bob"].Recipient().String()},
		{"ceremony", "-dir", dir, "-key", "k3", "-m", "2", "-work-factor", "40", "-custodians", "a=" + cs["alice"].Recipient().String() + ",b=" + cs["bob"].Recipient().String()},
		{"delegate", "-dir", dir, "-key", "root", "-custodian", "alice", "-for", "-1h", "-identity", idFile},
		{"nosuch"},
	} {
		code, _, err := run(t, cli, "", args[0], args[1:]...)
		if code != 2 || err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v = %d, %v", args, code, err)
		}
	}
	// A second ceremony for the same key id does not replace it.
	if code, _, err := run(t, cli, "", "ceremony", "-dir", dir, "-key", "root", "-m", "2", "-custodians",
		"a="+cs["alice"].Recipient().String()+",b="+cs["bob"].Recipient().String()); code != 1 || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second ceremony = %d, %v", code, err)
	}
	// With no keystore running the directory, delegate and list say so.
	inst.Close()
	if code, _, err := run(t, cli, "", "list", "-dir", dir); code != 1 || err == nil || !strings.Contains(err.Error(), "no running keystore") {
		t.Fatalf("list with nothing running = %d, %v", code, err)
	}
	code, _, err = run(t, cli, "", "delegate", "-dir", dir, "-key", "root", "-custodian", "alice", "-identity", idFile, "-for", "1h", "-uses", "2", "-purpose", "p")
	if code != 1 || err == nil || !strings.Contains(err.Error(), "no keystore process is running") {
		t.Fatalf("delegate with nothing running = %d, %v", code, err)
	}
}

func TestRotate(t *testing.T) {
	cs := newCustodians(t, "alice", "bob", "carol", "dave", "erin")
	s, dir := newTestStore(t, 2, custodians{"alice": cs["alice"], "bob": cs["bob"], "carol": cs["carol"]})
	genKey(t, s, "k")
	before, _ := s.PublicKey(context.Background(), "k")
	oldFile, _ := os.ReadFile(filepath.Join(dir, keysDir, "k"+keySuffix))
	cli := New()
	newSet := "dave=" + cs["dave"].Recipient().String() + ",erin=" + cs["erin"].Recipient().String() + ",frank=passphrase"
	// Locked: rotation needs M live delegations.
	code, _, err := run(t, cli, "frank pass\n", "rotate", "-dir", dir, "-key", "k", "-m", "3", "-custodians", newSet, "-work-factor", "10")
	if code != 1 || err == nil || !strings.Contains(err.Error(), "0 of 2 custodian delegations live") {
		t.Fatalf("rotate while locked = %d, %v", code, err)
	}
	cs.give(t, dir, "k", time.Hour, 10, "alice", "bob")
	code, out, err := run(t, cli, "frank pass\n", "rotate", "-dir", dir, "-key", "k", "-m", "3", "-custodians", newSet, "-work-factor", "10")
	if code != 0 || err != nil || !strings.Contains(out, "rotated") {
		t.Fatalf("rotate = %d, %v: %s", code, err, out)
	}
	// The old delegations ended, the old custodians' shares open nothing.
	mustBeLocked(t, s, "k", "0 of 3")
	if _, err := delegate(delegateRequest{StateDir: dir, Key: "k", Custodian: "alice", Purpose: "p", For: time.Hour, Uses: 1,
		Identities: ageIDs(cs["alice"])}); err == nil || !strings.Contains(err.Error(), `"alice" is not a custodian`) {
		t.Fatalf("old custodian: %v", err)
	}
	cs.give(t, dir, "k", time.Hour, 10, "dave", "erin")
	mustBeLocked(t, s, "k", "2 of 3")
	pass, _ := age.NewScryptIdentity("frank pass")
	if _, err := delegate(delegateRequest{StateDir: dir, Key: "k", Custodian: "frank", Purpose: "p", For: time.Hour, Uses: 5,
		Identities: []age.Identity{pass}}); err != nil {
		t.Fatal(err)
	}
	mustSign(t, s, "k")
	// Putting the first generation's file back does not bring back the
	// old custodians while the keystore runs.
	if err := writeFile(filepath.Join(dir, keysDir), "k"+keySuffix, oldFile, 0o600, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	mustSign(t, s, "k")
	st, _ := readStatus(dir)
	if st == nil || st.Keys["k"].Generation != 2 {
		t.Fatalf("status after putting generation 1 back: %+v", st)
	}
	after, _ := s.PublicKey(context.Background(), "k")
	if !after.PublicKey.(*ecdsa.PublicKey).Equal(before.PublicKey) {
		t.Fatal("rotation changed the key")
	}
}

// TestNoPlaintextKeyOnDisk walks the state directory after a ceremony,
// delegations, signatures and a rotation, looking for the private scalar in
// any encoding we could have written.
func TestNoPlaintextKeyOnDisk(t *testing.T) {
	cs := newCustodians(t, "alice", "bob", "carol")
	s, dir := newTestStore(t, 2, cs)
	genKey(t, s, "k")
	cs.give(t, dir, "k", time.Hour, 10, "alice", "bob")
	mustSign(t, s, "k")
	s.mu.Lock()
	priv := s.keys["k"].signer.(*ecdsa.PrivateKey)
	scalar := priv.D.FillBytes(make([]byte, 32))
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	s.mu.Unlock()
	needles := map[string][]byte{
		"scalar": scalar, "scalar hex": []byte(hex.EncodeToString(scalar)),
		"pkcs8": pkcs8, "pkcs8 base64": []byte(b64(pkcs8)),
	}
	// The shares in the clear must not be on disk either.
	data, _ := os.ReadFile(filepath.Join(dir, keysDir, "k"+keySuffix))
	kf, _, _ := parseKeyFile(data, "k")
	for _, n := range []string{"alice", "bob", "carol"} {
		sh, err := kf.openShare(n, cs[n])
		if err != nil {
			t.Fatal(err)
		}
		needles["share of "+n] = sh
		needles["share of "+n+" base64"] = []byte(b64(sh))
	}
	files := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, _ := os.ReadFile(path)
		for what, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s holds the %s", path, what)
			}
		}
		return nil
	})
	if files < 4 { // key, ephemeral, status, audit, lock
		t.Fatalf("scanned only %d files", files)
	}
}

// TestCeremonySelfSigned: -cert writes the new key's self-signed CA
// certificate, refuses to overwrite one, and bad certificate flags are
// usage errors before any key is made.
func TestCeremonySelfSigned(t *testing.T) {
	cs := newCustodians(t, "alice", "bob")
	dir := filepath.Join(t.TempDir(), "s")
	set := "alice=" + cs["alice"].Recipient().String() + ",bob=" + cs["bob"].Recipient().String()
	certFile := filepath.Join(t.TempDir(), "root.pem")
	for _, args := range [][]string{
		{"-cert", certFile}, // no -cn
		{"-cn", "Root"},     // no -cert
		{"-cert", certFile, "-cn", "Root", "-days", "0"},
		{"-cert", certFile, "-cn", "Root", "-pathlen", "33"},
		{"-cert", certFile, "-cn", strings.Repeat("x", 65)},
	} {
		code, _, err := run(t, New(), "", "ceremony", append([]string{"-dir", dir, "-key", "root", "-m", "2", "-custodians", set}, args...)...)
		if code != 2 || err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v = %d, %v", args, code, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, keysDir, "root"+keySuffix)); err == nil {
		t.Fatal("a refused ceremony made a key")
	}
	code, out, err := run(t, New(), "", "ceremony", "-dir", dir, "-key", "root", "-m", "2", "-custodians", set,
		"-cert", certFile, "-cn", "Split Root", "-days", "30", "-pathlen", "0")
	if code != 0 || err != nil {
		t.Fatalf("ceremony -cert = %d, %v: %s", code, err, out)
	}
	block, _ := pem.Decode([]byte(out))
	pub, _ := x509.ParsePKIXPublicKey(block.Bytes)
	data, _ := os.ReadFile(certFile)
	cb, _ := pem.Decode(data)
	if cb == nil {
		t.Fatalf("no certificate in %s", certFile)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.IsCA || !cert.MaxPathLenZero || cert.Subject.CommonName != "Split Root" || cert.CheckSignatureFrom(cert) != nil ||
		!pub.(*ecdsa.PublicKey).Equal(cert.PublicKey) || cert.NotAfter.Sub(cert.NotBefore) != 30*24*time.Hour ||
		cert.KeyUsage&x509.KeyUsageCertSign == 0 || len(cert.SubjectKeyId) == 0 {
		t.Fatalf("certificate: CA %v, pathlen0 %v, CN %q, validity %s, key usage %v", cert.IsCA, cert.MaxPathLenZero,
			cert.Subject.CommonName, cert.NotAfter.Sub(cert.NotBefore), cert.KeyUsage)
	}
	if !strings.Contains(out, "Wrote the self-signed certificate") {
		t.Fatalf("the ceremony does not say it wrote the certificate: %s", out)
	}
	// A second ceremony does not replace the certificate.
	code, _, err = run(t, New(), "", "ceremony", "-dir", dir, "-key", "other", "-m", "2", "-custodians", set, "-cert", certFile, "-cn", "X")
	if code != 1 || err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("ceremony over an existing certificate = %d, %v", code, err)
	}
	if after, _ := os.ReadFile(certFile); !bytes.Equal(after, data) {
		t.Fatal("the certificate was replaced")
	}
}
