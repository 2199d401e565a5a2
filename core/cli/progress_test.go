package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
	"github.com/pkid/pkid/sdk"
)

// The helper prints at most one line per progressInterval whatever the
// rate of items, nothing when off, and a summary at the end.
func TestProgressRateLimited(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1000, 0)
	p := newProgress(&buf, true, "revoke -all", "certificates", 10000)
	p.now = func() time.Time { return now }
	p.start, p.last = now, now
	for range 10000 { // 10,000 items over 5 s
		now = now.Add(500 * time.Microsecond)
		p.add(1)
	}
	p.done("3 already revoked")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 11 { // one per 500 ms of 5 s, and the summary
		t.Fatalf("%d lines:\n%s", len(lines), buf.String())
	}
	if lines[0] != "pkid: revoke -all: 1000/10000 certificates (10%, 2000/s)" {
		t.Errorf("first line %q", lines[0])
	}
	if lines[10] != "pkid: revoke -all: done: 10000 certificates in 5s; 3 already revoked" {
		t.Errorf("summary %q", lines[10])
	}
	buf.Reset()
	off := newProgress(&buf, false, "x", "items", 0)
	off.now = p.now
	for range 100 {
		now = now.Add(time.Second)
		off.add(1)
	}
	off.done("")
	if buf.Len() != 0 {
		t.Errorf("progress off printed %q", buf.String())
	}
	var nilp *progress
	nilp.add(1) // commands may leave it nil
	nilp.done("")
}

// pkid revoke -all -progress reports on a captured (non-terminal) stderr,
// rate-limited, with a summary line; without -progress it prints no
// progress there.
func TestRevokeAllProgress(t *testing.T) {
	cfg, dir := configuredCA(t)
	for _, c := range []string{"issuing", "legacy"} {
		if r := pkid(t, "ca", "init", "-config", cfg, "-ca", c, "-cn", c); r.code != 0 {
			t.Fatalf("ca init: %+v", r)
		}
	}
	ca := mustParsePEM(t, string(mustRead(t, filepath.Join(dir, "ca", "issuing.pem"))))
	const n = 400
	putRecords(t, filepath.Join(dir, "pkid.db"), ca, n)

	start := time.Now()
	r := pkid(t, "revoke", "-config", cfg, "-label", "issuing", "-all", "-reason", "superseded", "-progress")
	elapsed := time.Since(start)
	if r.code != 0 {
		t.Fatalf("revoke -all -progress: %+v", r)
	}
	line := regexp.MustCompile(`^pkid: revoke -all: \d+/400 certificates \(\d+%(, \d+/s)?\)$`)
	var progress int
	var summary string
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		switch {
		case line.MatchString(l):
			progress++
		case strings.HasPrefix(l, "pkid: revoke -all: done: "):
			summary = l
		}
	}
	if !strings.HasPrefix(summary, "pkid: revoke -all: done: 400 certificates in ") || !strings.Contains(summary, "0 already revoked") {
		t.Errorf("summary %q in:\n%s", summary, r.stderr)
	}
	if max := int(elapsed/progressInterval) + 1; progress > max {
		t.Errorf("%d progress lines in %v (at most %d):\n%s", progress, elapsed, max, r.stderr)
	}
	if elapsed > 2*progressInterval && progress == 0 {
		t.Errorf("no progress line in %v:\n%s", elapsed, r.stderr)
	}
	t.Logf("%d certificates revoked in %v with %d progress lines", n, elapsed, progress)

	// ocsprefresh over the same store: a summary per CA with -progress.
	r = pkid(t, "ocsprefresh", "-config", cfg, "-label", "issuing", "-progress")
	if r.code != 0 || !regexp.MustCompile(`(?m)^pkid: ocsprefresh issuing: done: \d+ certificates checked in .*; \d+ signed$`).MatchString(r.stderr) {
		t.Errorf("ocsprefresh -progress: %+v", r)
	}
	if r = pkid(t, "ocsprefresh", "-config", cfg, "-label", "issuing"); r.code != 0 || strings.Contains(r.stderr, "pkid: ocsprefresh") {
		t.Errorf("ocsprefresh: %+v", r)
	}

	putRecords(t, filepath.Join(dir, "pkid.db"), ca, 50)
	r = pkid(t, "revoke", "-config", cfg, "-label", "issuing", "-all", "-reason", "superseded")
	if r.code != 0 || strings.Contains(r.stderr, "pkid: revoke -all:") || !strings.Contains(r.stderr, "revoked 50 certificates") {
		t.Errorf("without -progress: %+v", r)
	}
}

// putRecords stores n good certificates of ca straight into the SQLite
// store (DER of a throwaway key: revocation reads only the record).
func putRecords(t *testing.T, path string, ca *x509.Certificate, n int) {
	t.Helper()
	ctx := context.Background()
	st, err := storesqlite.Open(ctx, storesqlite.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var recs []*sdk.CertRecord
	for range n {
		serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 100))
		tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "bulk"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, &sdk.CertRecord{Serial: serial.String(), AKI: hex.EncodeToString(ca.SubjectKeyId), IssuerLabel: "issuing",
			Subject: "CN=bulk", NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter, Status: sdk.StatusGood, DER: der})
	}
	errs, err := st.PutBatch(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
