package keystoresplit

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkid/pkid/sdk"
)

func genKey(t *testing.T, s *store, id string) {
	t.Helper()
	if _, err := s.GenerateKey(context.Background(), sdk.GenerateKeyRequest{ID: id, Algorithm: sdk.AlgECDSAP256}); err != nil {
		t.Fatal(err)
	}
}

func TestThresholdSigns(t *testing.T) {
	cs := newCustodians(t, "alice", "bob", "carol")
	s, dir := newTestStore(t, 2, cs)
	genKey(t, s, "root")
	mustBeLocked(t, s, "root", "0 of 2 custodian delegations live")
	cs.give(t, dir, "root", time.Hour, 10, "alice")
	mustBeLocked(t, s, "root", "1 of 2 custodian delegations live")
	// A second delegation of the same custodian does not count twice.
	cs.give(t, dir, "root", time.Hour, 10, "alice")
	mustBeLocked(t, s, "root", "1 of 2")
	cs.give(t, dir, "root", time.Hour, 10, "carol")
	mustSign(t, s, "root")
}

func TestExpiryEndsSigning(t *testing.T) {
	cs := newCustodians(t, "alice", "bob", "carol")
	s, dir := newTestStore(t, 2, cs)
	genKey(t, s, "k")
	cs.give(t, dir, "k", time.Hour, 100, "alice")
	cs.give(t, dir, "k", 400*time.Millisecond, 100, "bob")
	mustSign(t, s, "k")
	s.mu.Lock()
	priv := s.keys["k"].signer.(*ecdsa.PrivateKey)
	s.mu.Unlock()
	// The watcher, not a signature, ends the delegation and wipes the key.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		wiped := s.keys["k"].signer == nil
		s.mu.Unlock()
		if wiped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the rebuilt key is still held after expiry")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if priv.D.Sign() != 0 {
		t.Fatal("the expired key's scalar was not zeroed")
	}
	mustBeLocked(t, s, "k", "1 of 2")
}

func TestUsesEndSigning(t *testing.T) {
	cs := newCustodians(t, "alice", "bob")
	s, dir := newTestStore(t, 2, cs)
	genKey(t, s, "k")
	cs.give(t, dir, "k", time.Hour, 3, "alice")
	cs.give(t, dir, "k", time.Hour, 100, "bob")
	// The core's health probe proves the key usable without using it up.
	for range 5 {
		if _, err := s.Sign(context.Background(), sdk.SignRequest{KeyID: "k", Digest: probeDigest(), Hash: 5}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		mustSign(t, s, "k")
	}
	mustBeLocked(t, s, "k", "1 of 2")
}

func TestRevokeEndsSigningAtOnce(t *testing.T) {
	cs := newCustodians(t, "alice", "bob", "carol")
	p := New()
	dir := filepath.Join(t.TempDir(), "s")
	s := configure(t, p, "ca", dir, 2, cs)
	genKey(t, s, "k")
	ids := cs.give(t, dir, "k", time.Hour, 100, "alice", "bob", "carol")
	mustSign(t, s, "k")
	// revoke runs as the CLI does, from another plugin process: the file
	// reaches the running keystore through its inbox.
	cli := New()
	code, out, err := run(t, cli, "", "revoke", "-dir", dir, "-key", "k", "-custodian", "carol")
	if code != 0 || err != nil || !strings.Contains(out, "revoked 1 delegations") {
		t.Fatalf("revoke = %d, %q, %v", code, out, err)
	}
	mustSign(t, s, "k") // alice and bob remain
	// The next signature after a revocation is written sees it, without
	// waiting for the poll.
	b, _ := json.Marshal(revocation{Version: 1, ID: newToken(), Delegation: ids[1]})
	if err := writeFile(filepath.Join(dir, inboxDir), newToken()+suffixRevocation, b, 0o600, true); err != nil {
		t.Fatal(err)
	}
	mustBeLocked(t, s, "k", "1 of 2")
	code, out, err = run(t, cli, "", "list", "-dir", dir)
	if code != 0 || err != nil || !strings.Contains(out, ids[0]) || strings.Contains(out, ids[1]) || !strings.Contains(out, "locked") {
		t.Fatalf("list = %d, %q, %v", code, out, err)
	}
	// A bad invocation is a usage error.
	if code, _, err := run(t, cli, "", "revoke", "-dir", dir); code != 2 || !errors.Is(err, sdk.ErrInvalidArgument) {
		t.Fatalf("revoke without target = %d, %v", code, err)
	}
}

func TestWrongOrTamperedShareNamesCustodian(t *testing.T) {
	cs := newCustodians(t, "alice", "bob", "carol")
	s, dir := newTestStore(t, 2, cs)
	genKey(t, s, "k")
	kfPath := filepath.Join(dir, keysDir, "k"+keySuffix)

	// bob's identity does not open alice's share.
	_, err := delegate(delegateRequest{StateDir: dir, Key: "k", Custodian: "alice", Purpose: "x", For: time.Hour, Uses: 1,
		Identities: ageIDs(cs["bob"])})
	if err == nil || !strings.Contains(err.Error(), `custodian "alice"`) {
		t.Fatalf("wrong identity: %v", err)
	}

	// A delegation carrying a share that is not bob's is refused, naming bob.
	data, _ := os.ReadFile(kfPath)
	kf, _, err := parseKeyFile(data, "k")
	if err != nil {
		t.Fatal(err)
	}
	share, err := kf.openShare("bob", cs["bob"])
	if err != nil {
		t.Fatal(err)
	}
	share[3] ^= 1
	dropDelegation(t, s, dir, delegation{Key: "k", Custodian: "bob", Share: share})
	refusedWith(t, s, dir, `the share of custodian "bob" does not match`)
	mustBeLocked(t, s, "k", "0 of 2")

	// A tampered sealed share in the key file is named too.
	kf.Shares["carol"][len(kf.Shares["carol"])-5] ^= 1
	_, err = kf.openShare("carol", cs["carol"])
	if err == nil || !strings.Contains(err.Error(), `custodian "carol"`) {
		t.Fatalf("tampered sealed share: %v", err)
	}
	// And a key file whose record was edited fails its signature.
	tampered := strings.Replace(string(data), `"threshold": 2`, `"threshold": 3`, 1)
	if _, _, err := parseKeyFile([]byte(tampered), "k"); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("edited record: %v", err)
	}
}

func TestHostileInboxFiles(t *testing.T) {
	cs := newCustodians(t, "alice", "bob")
	s, dir := newTestStore(t, 2, cs)
	genKey(t, s, "k")
	genKey(t, s, "other")
	inbox := filepath.Join(dir, inboxDir)
	write := func(name string, data []byte) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(inbox, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	aliceShare := func(key string) []byte {
		data, _ := os.ReadFile(filepath.Join(dir, keysDir, key+keySuffix))
		kf, _, err := parseKeyFile(data, key)
		if err != nil {
			t.Fatal(err)
		}
		sh, err := kf.openShare("alice", cs["alice"])
		if err != nil {
			t.Fatal(err)
		}
		return sh
	}

	write("garbage.dlg", []byte("\x00\x01 not age at all"))
	refusedWith(t, s, dir, "garbage.dlg: not an age-sealed file")
	write("big.dlg", make([]byte, maxInboxFile+1))
	refusedWith(t, s, dir, "larger than")
	write("what.txt", []byte("hi"))
	refusedWith(t, s, dir, "unknown kind of file")
	// A FIFO must not block the keystore, a symbolic link not be followed.
	if err := syscall.Mkfifo(filepath.Join(inbox, "fifo.dlg"), 0o600); err != nil {
		t.Fatal(err)
	}
	refusedWith(t, s, dir, "fifo.dlg: not a regular file")
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("not for the keystore"), 0o600)
	os.Symlink(secret, filepath.Join(inbox, "link.dlg"))
	refusedWith(t, s, dir, "link.dlg: not a regular file")
	if _, err := os.Stat(secret); err != nil {
		t.Fatal("the link's target was removed")
	}
	write("bad.revoke", []byte(`{"v":1}`))
	refusedWith(t, s, dir, "malformed revocation")

	// Sealed to this run, but malformed inside.
	pub, _ := readPublished(dir)
	junk, _ := sealTo(pub.Recipient, map[string]any{"v": 1, "id": "nope"})
	write("junk.dlg", junk)
	refusedWith(t, s, dir, "junk.dlg: invalid delegation id")
	junk2, _ := sealTo(pub.Recipient, map[string]any{"v": 1, "extra": true})
	write("junk2.dlg", junk2)
	refusedWith(t, s, dir, "junk2.dlg: malformed content")

	// For another key: alice's share of "other" offered as a share of "k"
	// fails the commitment; a delegation for a key not held is refused.
	dropDelegation(t, s, dir, delegation{Key: "k", Custodian: "alice", Share: aliceShare("other")})
	refusedWith(t, s, dir, `the share of custodian "alice" does not match key "k"`)
	dropDelegation(t, s, dir, delegation{Key: "gone", Custodian: "alice", Share: aliceShare("k")})
	refusedWith(t, s, dir, `for key "gone", which this keystore does not hold`)

	// Expired.
	dropDelegation(t, s, dir, delegation{Key: "k", Custodian: "alice", Share: aliceShare("k"),
		IssuedAt: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	refusedWith(t, s, dir, "expired at")

	// Too long.
	dropDelegation(t, s, dir, delegation{Key: "k", Custodian: "alice", Share: aliceShare("k"),
		NotAfter: time.Now().Add(48 * time.Hour)})
	refusedWith(t, s, dir, "lasts longer than max_delegation")

	// Replayed: the same file again after it was accepted.
	ids := cs.give(t, dir, "k", time.Hour, 5, "alice")
	s.mu.Lock()
	s.refresh(true)
	s.mu.Unlock()
	d := delegation{ID: ids[0], Key: "k", Custodian: "alice", Share: aliceShare("k")}
	dropDelegation(t, s, dir, d)
	refusedWith(t, s, dir, "replayed")

	// Sealed to an old ephemeral key: from an earlier run of the keystore.
	old, _ := newOldRunDelegation(t, cs, dir)
	write("old.dlg", old)
	refusedWith(t, s, dir, "old.dlg: sealed to another ephemeral key")

	// None of it stopped the keystore: bob's real delegation unlocks it.
	cs.give(t, dir, "k", time.Hour, 5, "bob")
	mustSign(t, s, "k")
	if ents, _ := os.ReadDir(inbox); len(ents) != 0 {
		t.Fatalf("inbox not emptied: %v", ents)
	}
}

func TestPassiveInstanceDoesNotSign(t *testing.T) {
	cs := newCustodians(t, "alice", "bob")
	s, dir := newTestStore(t, 2, cs)
	genKey(t, s, "k")
	cs.give(t, dir, "k", time.Hour, 5, "alice", "bob")
	mustSign(t, s, "k")
	// A second configuration of the same directory (a CLI run while the
	// daemon serves) is passive: it lists, but neither signs nor replaces
	// the published ephemeral key.
	before, _ := os.ReadFile(filepath.Join(dir, ephemeralFile))
	js := []byte(`{"state_dir":"` + dir + `"}`)
	inst, err := New().Configure(context.Background(), sdk.Config{Kind: sdk.KindKeyStore, Instance: "cli", JSON: js})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	ks := inst.(sdk.KeyStore)
	if keys, err := ks.ListKeys(context.Background()); err != nil || len(keys) != 1 {
		t.Fatalf("ListKeys = %v, %v", keys, err)
	}
	mustBeLocked(t, ks, "k", "another process runs the state directory")
	after, _ := os.ReadFile(filepath.Join(dir, ephemeralFile))
	if string(before) != string(after) {
		t.Fatal("a passive instance replaced the published ephemeral key")
	}
	mustSign(t, s, "k")
	if _, err := s.GenerateKey(context.Background(), sdk.GenerateKeyRequest{ID: "k", Algorithm: sdk.AlgEd25519}); !errors.Is(err, sdk.ErrAlreadyExists) {
		t.Fatalf("duplicate id: %v", err)
	}
	// When the running process goes, the passive one takes the directory
	// over on its next signature, with a new ephemeral key: delegations
	// start afresh.
	s.Close()
	mustBeLocked(t, ks, "k", "0 of 2 custodian delegations live")
	if now, _ := os.ReadFile(filepath.Join(dir, ephemeralFile)); len(now) == 0 || string(now) == string(before) {
		t.Fatal("the new running process published no new ephemeral key")
	}
	cs.give(t, dir, "k", time.Hour, 5, "alice", "bob")
	mustSign(t, ks, "k")
}

// memAudit is an Auditor kept in memory; fail makes Record fail.
type memAudit struct {
	mu   sync.Mutex
	evs  []AuditEvent
	fail bool
}

func (m *memAudit) Record(ev AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("disk full")
	}
	m.evs = append(m.evs, ev)
	return nil
}

func (m *memAudit) Close() error { return nil }

func TestAudit(t *testing.T) {
	cs := newCustodians(t, "alice", "bob")
	// The default: JSON lines in the state directory.
	s, dir := newTestStore(t, 2, cs)
	genKey(t, s, "k")
	cs.give(t, dir, "k", time.Hour, 5, "alice", "bob")
	mustSign(t, s, "k")
	data, err := os.ReadFile(filepath.Join(dir, auditFile))
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var ev AuditEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev.Time.IsZero() || ev.Keystore != "t" {
			t.Fatalf("audit event without time or keystore: %+v", ev)
		}
		switch ev.Event {
		case EventDelegationAccepted:
			if ev.Key != "k" || len(ev.Custodians) != 1 || !strings.HasPrefix(ev.Purpose, "test ") {
				t.Fatalf("delegation event %+v", ev)
			}
		case EventSign:
			if ev.Key != "k" || strings.Join(ev.Custodians, ",") != "alice,bob" || ev.Purpose != "test alice; test bob" {
				t.Fatalf("sign event %+v", ev)
			}
		}
		events = append(events, ev.Event)
	}
	if got := strings.Join(events, " "); got != "delegation.accepted delegation.accepted key.unlocked sign" {
		t.Fatalf("audit events: %s", got)
	}

	// Another Auditor plugs in; when it cannot record, nothing is signed.
	ma := &memAudit{}
	p := New().(*plugin)
	p.audit = func(string) Auditor { return ma }
	s2 := configure(t, p, "m", filepath.Join(t.TempDir(), "m"), 2, cs)
	genKey(t, s2, "k")
	cs.give(t, s2.cfg.StateDir, "k", time.Hour, 5, "alice", "bob")
	mustSign(t, s2, "k")
	ma.mu.Lock()
	n := len(ma.evs)
	ma.fail = true
	ma.mu.Unlock()
	if n != 4 {
		t.Fatalf("custom auditor got %d events", n)
	}
	if _, err := s2.Sign(context.Background(), signReq("k")); err == nil || !strings.Contains(err.Error(), "not signing without an audit record") {
		t.Fatalf("Sign with a failing audit = %v", err)
	}
}

func TestConfigureRefusesTamperedKeyFile(t *testing.T) {
	cs := newCustodians(t, "alice", "bob")
	s, dir := newTestStore(t, 2, cs)
	genKey(t, s, "k")
	s.Close()
	path := filepath.Join(dir, keysDir, "k"+keySuffix)
	data, _ := os.ReadFile(path)
	var kf keyFile
	if err := json.Unmarshal(data, &kf); err != nil {
		t.Fatal(err)
	}
	// Swap bob's recipient for an attacker's: the record no longer
	// carries the key's signature.
	kf.Record.Custodians[1].Recipient = newCustodians(t, "mallory")["mallory"].Recipient().String()
	b, _ := json.Marshal(kf)
	os.WriteFile(path, b, 0o600)
	js, _ := json.Marshal(testConfig(dir, 2, cs))
	_, err := New().Configure(context.Background(), sdk.Config{Kind: sdk.KindKeyStore, Instance: "t", JSON: js})
	if err == nil || !strings.Contains(err.Error(), `key "k"`) || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("Configure with a tampered key file = %v", err)
	}
}
