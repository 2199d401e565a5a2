package cli

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/pgtest"
	"github.com/pkid/pkid/plugins/store-cfssl/cfssldbtest"
	"golang.org/x/crypto/ocsp"
)

// cfsslRun runs the real cfssl in dir (bounded in time) and returns stdout.
func cfsslRun(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, oracle(t, "cfssl"), args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cfssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func parsePEMCert(t *testing.T, s string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(s))
	if b == nil {
		t.Fatalf("no PEM in %q", s)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDBConfigSideBySide shares one CFSSL certdb (made by CFSSL's own
// migrations) between the real cfssl and pkid, on SQLite and PostgreSQL:
// pkid sign records what cfssl revoke, ocsprefresh and crl then use, and
// cfssl sign records what pkid revoke, ocsprefresh, ocspdump, crl,
// certinfo and ocspserve then use.
func TestDBConfigSideBySide(t *testing.T) {
	for _, backend := range []struct {
		name  string
		newDB func(t *testing.T) (driver, dataSource string)
	}{
		{"SQLite", func(t *testing.T) (string, string) { return "sqlite3", cfssldbtest.NewSQLite(t) }},
		{"PostgreSQL", func(t *testing.T) (string, string) {
			dsn := pgtest.Shared(t).NewDatabase(t)
			cfssldbtest.MigratePostgres(t, dsn)
			return "postgres", dsn
		}},
	} {
		t.Run(backend.name, func(t *testing.T) {
			dir := t.TempDir()
			driver, ds := backend.newDB(t)
			db := cfssldbtest.WriteDBConfig(t, dir, driver, ds)
			writeFile(t, dir, "ca-csr.json", `{"CN":"db-config CA","key":{"algo":"ecdsa","size":256}}`)
			var caOut struct{ Cert, Key string }
			if err := json.Unmarshal(cfsslRun(t, dir, "genkey", "-initca", "ca-csr.json"), &caOut); err != nil {
				t.Fatal(err)
			}
			caPEM, caKey := writeFile(t, dir, "ca.pem", caOut.Cert), writeFile(t, dir, "ca-key.pem", caOut.Key)
			caCert := parsePEMCert(t, caOut.Cert)
			writeFile(t, dir, "leaf.json", `{"CN":"db.example.test","hosts":["db.example.test"],"key":{"algo":"ecdsa","size":256}}`)
			var gk struct{ CSR string }
			if err := json.Unmarshal(cfsslRun(t, dir, "genkey", "leaf.json"), &gk); err != nil {
				t.Fatal(err)
			}
			csrFile := writeFile(t, dir, "leaf.csr", gk.CSR)

			// pkid sign records; cfssl revoke, ocsprefresh and crl use it.
			mine := parsePEMCert(t, decodeResult(t, pkid(t, "sign", "-ca", caPEM, "-ca-key", caKey, "-db-config", db, csrFile))["cert"])
			mineAKI := hex.EncodeToString(mine.AuthorityKeyId)
			cfsslRun(t, dir, "revoke", "-db-config", db, "-serial", mine.SerialNumber.String(), "-aki", mineAKI, "-reason", "keyCompromise")
			cfsslRun(t, dir, "ocsprefresh", "-db-config", db, "-ca", caPEM, "-responder", caPEM, "-responder-key", caKey)

			// cfssl sign records; pkid revoke, ocsprefresh, crl use it.
			var signed struct{ Cert string }
			if err := json.Unmarshal(cfsslRun(t, dir, "sign", "-ca", caPEM, "-ca-key", caKey, "-db-config", db, "leaf.csr"), &signed); err != nil {
				t.Fatal(err)
			}
			theirs := parsePEMCert(t, signed.Cert)
			theirsAKI := hex.EncodeToString(theirs.AuthorityKeyId)
			if r := pkid(t, "revoke", "-db-config", db, "-serial", theirs.SerialNumber.String(), "-aki", theirsAKI, "-reason", "superseded"); r.code != 0 {
				t.Fatalf("pkid revoke -db-config: %+v", r)
			}
			if r := pkid(t, "ocsprefresh", "-db-config", db, "-ca", caPEM, "-responder", caPEM, "-responder-key", caKey); r.code != 0 ||
				!strings.Contains(r.stderr, "signed 2") {
				t.Fatalf("pkid ocsprefresh -db-config: %+v", r)
			}

			// Both CLIs' CRLs list both revocations.
			for who, out := range map[string][]byte{
				"cfssl": cfsslRun(t, dir, "crl", "-db-config", db, "-ca", caPEM, "-ca-key", caKey),
				"pkid":  []byte(pkid(t, "crl", "-db-config", db, "-ca", caPEM, "-ca-key", caKey).stdout),
			} {
				der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(out)))
				if err != nil {
					t.Fatalf("%s crl: %v: %q", who, err, out)
				}
				crl, err := x509.ParseRevocationList(der)
				if err != nil || crl.CheckSignatureFrom(caCert) != nil {
					t.Fatalf("%s crl: %v", who, err)
				}
				got := map[string]bool{}
				for _, e := range crl.RevokedCertificateEntries {
					got[e.SerialNumber.String()] = true
				}
				if len(got) != 2 || !got[mine.SerialNumber.String()] || !got[theirs.SerialNumber.String()] {
					t.Fatalf("%s crl lists %v, want %s and %s", who, got, mine.SerialNumber, theirs.SerialNumber)
				}
			}

			// pkid ocspdump prints what pkid ocsprefresh stored: both revoked.
			dump := pkid(t, "ocspdump", "-db-config", db)
			if dump.code != 0 || len(strings.Fields(dump.stdout)) != 2 {
				t.Fatalf("pkid ocspdump -db-config: %+v", dump)
			}
			for _, f := range strings.Fields(dump.stdout) {
				der, _ := base64.StdEncoding.DecodeString(f)
				r, err := ocsp.ParseResponse(der, caCert)
				if err != nil || r.Status != ocsp.Revoked {
					t.Fatalf("dumped response: %+v, %v", r, err)
				}
			}
			if want := cfsslRun(t, dir, "ocspdump", "-db-config", db); len(strings.Fields(string(want))) != 2 {
				t.Fatalf("cfssl ocspdump: %q", want)
			}

			// pkid certinfo finds cfssl's certificate.
			info := pkid(t, "certinfo", "-db-config", db, "-serial", theirs.SerialNumber.String(), "-aki", theirsAKI)
			if info.code != 0 || !strings.Contains(info.stdout, `"common_name": "db.example.test"`) {
				t.Fatalf("pkid certinfo -db-config: %+v", info)
			}

			// pkid ocspserve -db-config answers from the responses cfssl
			// ocsprefresh wrote last.
			cfsslRun(t, dir, "ocsprefresh", "-db-config", db, "-ca", caPEM, "-responder", caPEM, "-responder-key", caKey)
			d := startDaemon(t, "ocspserve", "-db-config", db, "-listen", "127.0.0.1:0")
			for _, c := range []*x509.Certificate{mine, theirs} {
				r, err := ocsp.ParseResponse(ocspGET(t, d.base, c, caCert, crypto.SHA1), caCert)
				if err != nil || r.Status != ocsp.Revoked || r.SerialNumber.Cmp(c.SerialNumber) != 0 {
					t.Fatalf("ocspserve -db-config for %s: %+v, %v", c.SerialNumber, r, err)
				}
			}
		})
	}
}

// TestDBConfigHostile: a bad -db-config is a one-line error naming it,
// exit non-zero, and nothing is written (no certificate is printed either:
// an unrecorded certificate would be a silent failure).
func TestDBConfigHostile(t *testing.T) {
	dir := t.TempDir()
	ca := decodeResult(t, pkid(t, "genkey", "-initca", writeFile(t, dir, "ca.json", caJSON)))
	caPEM, caKey := writeFile(t, dir, "ca.pem", ca["cert"]), writeFile(t, dir, "ca-key.pem", ca["key"])
	leaf := decodeResult(t, pkid(t, "genkey", writeFile(t, dir, "leaf.json", leafJSON)))
	csrFile := writeFile(t, dir, "leaf.csr", leaf["csr"])

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	readOnly := cfssldbtest.NewSQLite(t)
	if err := os.Chmod(readOnly, 0o444); err != nil {
		t.Fatal(err)
	}
	roBefore, _ := os.ReadFile(readOnly)
	empty := writeFile(t, dir, "empty.db", "")
	cfg := func(name, content string) string { return writeFile(t, t.TempDir(), name, content) }
	js := func(driver, ds string) string {
		b, _ := json.Marshal(map[string]string{"driver": driver, "data_source": ds})
		return string(b)
	}
	cases := []struct{ name, file, want string }{
		{"bad JSON", cfg("db.json", `{"driver":"sqlite3",`), "not JSON"},
		{"unknown driver", cfg("db.json", js("oracle", "x")), `unknown driver "oracle"`},
		{"missing file", filepath.Join(dir, "nope.json"), "no such file"},
		{"unreachable postgres", cfg("db.json", js("postgres", fmt.Sprintf("postgres://u:pw-secret@127.0.0.1:%d/db?sslmode=disable", closed))), "unavailable"},
		{"read-only sqlite", cfg("db.json", js("sqlite3", readOnly)), "read-only"},
		{"tables missing", cfg("db.json", js("sqlite3", empty)), "certificates table is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, args := range [][]string{
				{"sign", "-ca", caPEM, "-ca-key", caKey, "-db-config", c.file, csrFile},
				{"revoke", "-db-config", c.file, "-serial", "1", "-aki", "0a"},
			} {
				r := pkid(t, args...)
				lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
				if r.code == 0 || r.stdout != "" || !strings.Contains(lines[0], "-db-config") || !strings.Contains(lines[0], c.want) ||
					strings.Contains(r.stderr, "pw-secret") {
					t.Errorf("pkid %s: exit %d, stdout %q, stderr %q; want a one-line error mentioning -db-config and %q", args[0], r.code, r.stdout, r.stderr, c.want)
				}
			}
		})
	}
	if after, _ := os.ReadFile(readOnly); !bytes.Equal(after, roBefore) {
		t.Error("the read-only database changed")
	}
	if fi, _ := os.Stat(empty); fi.Size() != 0 {
		t.Error("the database without tables was written")
	}
	// -db-config with a pkid configuration is refused, not ignored.
	if r := pkid(t, "sign", "-config", devConfig(t, ""), "-db-config", cfg("db.json", js("sqlite3", empty)), csrFile); r.code == 0 ||
		!strings.Contains(r.stderr, "-db-config goes with -ca and -ca-key") {
		t.Errorf("sign -config -db-config: %+v", r)
	}
}

// TestCertstoreCFSSLBlock: a pkid configuration whose CA records into
// CFSSL's certdb through the builtin "cfssl" certstore (a plugin process):
// pkid issues, cfssl revoke marks it, pkid re-signs its OCSP response and
// lists it on its CRL, and cfssl ocspdump prints pkid's responses.
func TestCertstoreCFSSLBlock(t *testing.T) {
	dbPath := cfssldbtest.NewSQLite(t)
	block := fmt.Sprintf("certstore \"cfssl\" \"main\" {\n  driver        = \"sqlite3\"\n  data_source   = %q\n  unlabelled_ca = \"issuing\"\n}\n", dbPath)
	cfg := nodeConfig(t, block)
	initIssuing(t, cfg)
	dir := filepath.Dir(cfg)
	// A certificate of the same CA key that cfssl sign recorded without
	// a label (issued here through a configuration with another store).
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	other := writeFile(t, dir, "other.hcl", strings.Replace(string(text), block,
		fmt.Sprintf("certstore \"sqlite\" \"main\" {\n  path = %q\n}\n", filepath.Join(dir, "other.db")), 1))
	bare := parsePEMCert(t, decodeResult(t, pkid(t, "gencert", "-config", other, "-label", "issuing", "-profile", "server", writeFile(t, dir, "bare.json", leafJSON)))["cert"])
	insertCFSSLRow(t, dbPath, bare)
	db := cfssldbtest.WriteDBConfig(t, dir, "sqlite3", dbPath)
	m := decodeResult(t, pkid(t, "gencert", "-config", cfg, "-label", "issuing", "-profile", "server", writeFile(t, dir, "leaf.json", leafJSON)))
	leaf := parsePEMCert(t, m["cert"])
	aki := hex.EncodeToString(leaf.AuthorityKeyId)

	// pkid's own listing reads the record back with its profile.
	r := pkid(t, "certstore", "main", "list", "-config", cfg, "-format", "json")
	var recs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &recs); err != nil || len(recs) != 2 {
		t.Fatalf("certstore list: %v %+v", err, r)
	}
	for _, rec := range recs {
		profile, _ := rec["profile"].(string)
		if want := map[bool]string{true: "server", false: ""}[rec["serial"] == leaf.SerialNumber.String()]; profile != want || rec["issuer_label"] != "issuing" {
			t.Fatalf("certstore list: %v", rec)
		}
	}
	cfsslRun(t, dir, "revoke", "-db-config", db, "-serial", leaf.SerialNumber.String(), "-aki", aki, "-reason", "superseded")
	cfsslRun(t, dir, "revoke", "-db-config", db, "-serial", bare.SerialNumber.String(), "-aki", aki, "-reason", "superseded")
	if r := pkid(t, "ocsprefresh", "-config", cfg, "-interval", "96h", "-within", "97h"); r.code != 0 || !strings.Contains(r.stderr, "signed 2") {
		t.Fatalf("ocsprefresh: %+v", r)
	}
	crlOut := pkid(t, "crl", "-config", cfg, "-label", "issuing")
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(crlOut.stdout))
	if err != nil {
		t.Fatalf("crl: %+v", crlOut)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil || len(crl.RevokedCertificateEntries) != 2 {
		t.Fatalf("pkid crl after cfssl revoke: %v %+v", err, crl)
	}
	for _, e := range crl.RevokedCertificateEntries {
		if (e.SerialNumber.Cmp(leaf.SerialNumber) != 0 && e.SerialNumber.Cmp(bare.SerialNumber) != 0) || e.ReasonCode != 4 {
			t.Fatalf("pkid crl entry %v reason %d", e.SerialNumber, e.ReasonCode)
		}
	}
	dump := strings.Fields(string(cfsslRun(t, dir, "ocspdump", "-db-config", db)))
	if len(dump) != 2 {
		t.Fatalf("cfssl ocspdump: %q", dump)
	}
	for _, d := range dump {
		resp, _ := base64.StdEncoding.DecodeString(d)
		if o, err := ocsp.ParseResponse(resp, nil); err != nil || o.Status != ocsp.Revoked || o.RevocationReason != 4 {
			t.Fatalf("cfssl ocspdump of pkid's response: %+v, %v", o, err)
		}
	}
}

// TestServeDBConfigRefused: serve's -db-config is refused with the way to
// use a CFSSL certdb, never ignored.
func TestServeDBConfigRefused(t *testing.T) {
	r := pkid(t, "serve", "-config", devConfig(t, ""), "-db-config", "db.json")
	if r.code == 0 || !strings.Contains(r.stderr, `certstore "cfssl"`) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("serve -db-config: %+v", r)
	}
}

// TestImportCFSSLLabelsByKey: CFSSL rows with an empty ca_label, issued by
// a configured CA's key, are imported under that CA's label, so a revoked
// one is on the CA's CRL.
func TestImportCFSSLLabelsByKey(t *testing.T) {
	dir := t.TempDir()
	cfg := nodeConfig(t, fmt.Sprintf("certstore \"sqlite\" \"main\" {\n  path = %q\n}\n", filepath.Join(dir, "main.db")))
	initIssuing(t, cfg)
	// Another configuration with the same CA recording elsewhere issues
	// the certificate CFSSL's certdb will hold.
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	other := writeFile(t, filepath.Dir(cfg), "other.hcl", strings.ReplaceAll(string(text), filepath.Join(dir, "main.db"), filepath.Join(dir, "other.db")))
	leaf := parsePEMCert(t, decodeResult(t, pkid(t, "gencert", "-config", other, "-label", "issuing", "-profile", "server", writeFile(t, dir, "leaf.json", leafJSON)))["cert"])

	dbPath := cfssldbtest.NewSQLite(t)
	db := cfssldbtest.WriteDBConfig(t, dir, "sqlite3", dbPath)
	// The row goes in with CFSSL's empty label; cfssl revokes it.
	if r := pkid(t, "certstore", "main", "import-cfssl", "-from", db, "-config", cfg); r.code != 0 || !strings.Contains(r.stdout, "0 certificates") {
		t.Fatalf("empty import: %+v", r)
	}
	insertCFSSLRow(t, dbPath, leaf)
	cfsslRun(t, dir, "revoke", "-db-config", db, "-serial", leaf.SerialNumber.String(), "-aki", hex.EncodeToString(leaf.AuthorityKeyId), "-reason", "keyCompromise")
	if r := pkid(t, "certstore", "main", "import-cfssl", "-from", db, "-config", cfg); r.code != 0 || !strings.Contains(r.stdout, "1 certificates (1 revoked)") {
		t.Fatalf("import: %+v", r)
	}
	crlOut := pkid(t, "crl", "-config", cfg, "-label", "issuing")
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(crlOut.stdout))
	if err != nil {
		t.Fatalf("crl: %+v", crlOut)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil || len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("the imported revocation is not on the CA's CRL: %v %+v", err, crl)
	}
}
