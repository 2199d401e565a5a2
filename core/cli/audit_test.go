package cli

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pkid/pkid/core/audit"
)

// auditFixture writes an audit log through core/audit (6 records, a
// checkpoint after the 4th, so the last 2 are tail) and its public key.
func auditFixture(t *testing.T) (logPath, keyPath string) {
	t.Helper()
	dir := t.TempDir()
	logPath, keyPath = filepath.Join(dir, "audit.log"), filepath.Join(dir, "checkpoint.pub")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(logPath, audit.Options{CheckpointKey: priv})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 1; i <= 6; i++ {
		if err := l.Append(context.Background(), audit.KindIssuance, map[string]string{"serial": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
		if i == 4 {
			if err := l.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	return logPath, keyPath
}

func auditLines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ls := strings.SplitAfter(string(b), "\n")
	return ls[:len(ls)-1]
}

func TestAuditVerify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func([]string) []string
		code   int
		want   []string // in stdout
	}{
		{"intact", func(ls []string) []string { return ls }, 0,
			[]string{"7 records, 1 valid checkpoints; verified through seq 5; unverified tail: 2 records", "OK: "}},
		{"edited", func(ls []string) []string {
			ls[1] = strings.Replace(ls[1], `"serial":"2"`, `"serial":"X"`, 1)
			return ls
		}, 1, []string{"line 2 (seq 2): edited: its content does not match its hash", "TAMPERED"}},
		{"deleted", func(ls []string) []string { return append(ls[:2], ls[3:]...) }, 1,
			[]string{"line 3 (seq 4): deleted: seq 3 is missing before it", "TAMPERED"}},
		{"reordered", func(ls []string) []string { ls[0], ls[1] = ls[1], ls[0]; return ls }, 1,
			[]string{"line 1 (seq 2): deleted: seq 1 is missing before it", "line 2 (seq 1): reordered: seq 1 comes after seq 2", "TAMPERED"}},
		{"tail deleted", func(ls []string) []string { return ls[:5] }, 0,
			[]string{"verified through seq 5; unverified tail: 0 records", "OK: "}},
		{"torn last write", func(ls []string) []string { return append(ls, ls[0][:30]) }, 0,
			[]string{"torn write: the last line is incomplete", "OK: "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logPath, keyPath := auditFixture(t)
			if err := os.WriteFile(logPath, []byte(strings.Join(tc.change(auditLines(t, logPath)), "")), 0o600); err != nil {
				t.Fatal(err)
			}
			r := pkid(t, "audit", "verify", "-log", logPath, "-key", keyPath)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tc.code, r.stdout, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// The configuration names the log and the key; without -key the .pub
// beside the daemon's key is used, with a warning.
func TestAuditVerifyFromConfig(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	key, err := audit.LoadOrCreateKey(logPath + ".key")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := audit.Open(logPath, audit.Options{CheckpointKey: key})
	l.Append(context.Background(), audit.KindConfig, 1)
	l.Checkpoint(context.Background())
	l.Close()
	cfg := filepath.Join(dir, "pkid.hcl")
	os.WriteFile(cfg, []byte("pkid {\n  audit_log = \""+logPath+"\"\n}\n"), 0o600)
	r := pkid(t, "audit", "verify", "-config", cfg)
	if r.code != 0 || !strings.Contains(r.stdout, "verified through seq 2") || !strings.Contains(r.stderr, "warning: using the public key beside") {
		t.Fatalf("%+v", r)
	}
	// A configuration without audit_log.
	os.WriteFile(cfg, []byte("pkid {\n}\n"), 0o600)
	if r := pkid(t, "audit", "verify", "-config", cfg); r.code != 1 || !strings.Contains(r.stderr, "no audit_log") {
		t.Fatalf("no audit_log: %+v", r)
	}
}

// Hostile and mistaken invocations: one-line errors, bounded work.
func TestAuditVerifyHostile(t *testing.T) {
	logPath, keyPath := auditFixture(t)
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge")
	f, _ := os.Create(huge)
	line := bytes.Repeat([]byte{0xff}, 1<<20)
	for i := 0; i < 8; i++ { // 8 MiB without a newline, then garbage lines
		f.Write(line)
	}
	f.Write([]byte("\n{}\n\x00\x01\n"))
	f.Close()
	badKey := filepath.Join(dir, "bad.pem")
	os.WriteFile(badKey, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stdout+stderr
	}{
		{"huge garbage", []string{"-log", huge, "-key", keyPath}, 1, "line 1: malformed: longer than 65536 bytes"},
		{"missing log", []string{"-log", filepath.Join(dir, "nope"), "-key", keyPath}, 1, "no such file"},
		{"a directory", []string{"-log", dir, "-key", keyPath}, 1, "not a regular file"},
		{"bad key", []string{"-log", logPath, "-key", badKey}, 1, `PEM type "CERTIFICATE"`},
		{"missing key", []string{"-log", logPath, "-key", filepath.Join(dir, "nokey")}, 1, "no such file"},
		{"stray argument", []string{"-log", logPath, "extra"}, 1, "unexpected arguments"},
		{"no config", []string{}, 1, "no configuration"},
		{"chain only", []string{"-log", logPath}, 0, "checkpoint signatures are not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PKID_CONFIG", "")
			r := pkid(t, append([]string{"audit", "verify"}, tc.args...)...)
			if r.code != tc.code || !strings.Contains(r.stdout+r.stderr, tc.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s%s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
			if tc.code == 1 && r.stdout == "" && strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("error is not one line: %q", r.stderr)
			}
		})
	}
}

// A long verification reports progress on stderr (every 100,000 records;
// every 1,000 here); records are written
// here by an independent implementation of the line format (body, then
// the SHA-256 of the body as the last member).
func TestAuditVerifyProgress(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.log")
	var b bytes.Buffer
	prev := strings.Repeat("0", 64)
	defer func(n int64) { auditProgressEvery = n }(auditProgressEvery)
	auditProgressEvery = 1000
	for i := 1; i <= 2500; i++ {
		body := fmt.Sprintf(`{"seq":%d,"time":"2026-01-01T00:00:00Z","kind":"issuance","prev":"%s","data":{"serial":"%d"}}`, i, prev, i)
		sum := sha256.Sum256([]byte(body))
		prev = hex.EncodeToString(sum[:])
		b.WriteString(body[:len(body)-1] + `,"hash":"` + prev + "\"}\n")
	}
	os.WriteFile(path, b.Bytes(), 0o600)
	r := pkid(t, "audit", "verify", "-log", path)
	if r.code != 0 || !strings.Contains(r.stdout, "2500 records") {
		t.Fatalf("%+v", r)
	}
	if n := strings.Count(r.stderr, "records read ("); n != 2 {
		t.Fatalf("%d progress lines, want 2:\n%s", n, r.stderr)
	}
	if r := pkid(t, "audit", "verify", "-log", path, "-quiet"); strings.Contains(r.stderr, "records read") {
		t.Fatalf("-quiet printed progress: %s", r.stderr)
	}
}

// Commands that act without the daemon record what they did in the
// configuration's audit_log: ca init (the key and the CA certificate)
// and revoke (one, and -all), chained with a daemon's records.
func TestCLIOperationsAreAudited(t *testing.T) {
	cfg, dir := configuredCA(t)
	logPath := filepath.Join(dir, "audit", "audit.log")
	body := string(mustRead(t, cfg))
	if strings.Contains(body, "\npkid {\n") {
		body = strings.Replace(body, "\npkid {\n", "\npkid {\n  audit_log = \""+logPath+"\"\n", 1)
	} else {
		body += "\npkid {\n  audit_log = \"" + logPath + "\"\n}\n"
	}
	os.WriteFile(cfg, []byte(body), 0o600)
	if r := pkid(t, "ca", "init", "-config", cfg, "-ca", "issuing", "-cn", "audited CA"); r.code != 0 {
		t.Fatalf("ca init: %+v", r)
	}
	if r := pkid(t, "ca", "init", "-config", cfg, "-ca", "legacy", "-algorithm", "rsa-2048", "-cn", "legacy"); r.code != 0 {
		t.Fatalf("ca init: %+v", r)
	}
	leaf := writeFile(t, dir, "leaf.json", ecLeafJSON)
	var serials []string
	for range 3 {
		m := decodeResult(t, pkid(t, "gencert", "-config", cfg, "-label", "issuing", "-profile", "server", leaf))
		serials = append(serials, mustParsePEM(t, m["cert"]).SerialNumber.String())
	}
	if r := pkid(t, "revoke", "-config", cfg, "-label", "issuing", "-serial", serials[0], "-reason", "keyCompromise"); r.code != 0 {
		t.Fatalf("revoke: %+v", r)
	}
	if r := pkid(t, "revoke", "-config", cfg, "-label", "issuing", "-all", "-reason", "superseded"); r.code != 0 {
		t.Fatalf("revoke -all: %+v", r)
	}
	r := pkid(t, "audit", "verify", "-log", logPath)
	if r.code != 0 || !strings.Contains(r.stdout, "7 records") {
		t.Fatalf("verify: %+v", r)
	}
	var got []string
	for _, line := range auditLines(t, logPath) {
		rec, ok, err := audit.ParseLine([]byte(strings.TrimSuffix(line, "\n")))
		if err != nil || !ok {
			t.Fatal(err)
		}
		var d struct {
			Operation, Serial, Endpoint, CA string
		}
		json.Unmarshal(rec.Data, &d)
		got = append(got, rec.Kind+":"+d.Operation+":"+d.Endpoint)
		if rec.Kind == audit.KindRevocation && (d.CA != "issuing" || !slices.Contains(serials, d.Serial)) {
			t.Errorf("revocation record %s", rec.Data)
		}
	}
	want := "key:generate:cli:ca init issuance::cli:ca init key:generate:cli:ca init issuance::cli:ca init " +
		"revocation::cli:revoke revocation::cli:revoke -all revocation::cli:revoke -all"
	if strings.Join(got, " ") != want {
		t.Fatalf("records %q\nwant     %q", strings.Join(got, " "), want)
	}
}

// The report's wording, with several problems at once.
func TestAuditVerifyGolden(t *testing.T) {
	logPath, keyPath := auditFixture(t)
	ls := auditLines(t, logPath)
	ls[1] = strings.Replace(ls[1], `"serial":"2"`, `"serial":"X"`, 1) // edited
	ls = append(ls[:2], ls[3:]...)                                    // seq 3 deleted
	ls[4], ls[5] = ls[5], ls[4]                                       // the tail reordered
	os.WriteFile(logPath, []byte(strings.Join(ls, "")), 0o600)
	r := pkid(t, "audit", "verify", "-log", logPath, "-key", keyPath, "-quiet")
	if r.code != 1 {
		t.Fatalf("exit %d: %+v", r.code, r)
	}
	golden(t, "audit-verify-tampered", strings.ReplaceAll(r.stdout, logPath, "LOG"))
}
