package cfsslimport

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	storecfssl "github.com/pkid/pkid/plugins/store-cfssl"
	"github.com/pkid/pkid/plugins/store-cfssl/cfssldbtest"
	storesqlite "github.com/pkid/pkid/plugins/store-sqlite"
	"github.com/pkid/pkid/sdk"
)

func TestBlock(t *testing.T) {
	abs, _ := filepath.Abs("certs.db")
	absJSON, _ := filepath.Abs("db.json")
	for _, c := range []struct {
		from string
		want map[string]any
	}{
		{"sqlite:certs.db", map[string]any{"driver": "sqlite3", "data_source": abs}},
		{"postgres://u@h/db", map[string]any{"driver": "postgres", "data_source": "postgres://u@h/db"}},
		{"postgresql://u@h/db", map[string]any{"driver": "postgres", "data_source": "postgresql://u@h/db"}},
		{"db.json", map[string]any{"db_config": absJSON}},
	} {
		b, err := Block(c.from, true)
		if err != nil {
			t.Fatalf("%s: %v", c.from, err)
		}
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if got["read_only"] != true {
			t.Errorf("%s: not read-only: %s", c.from, b)
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %v", c.from, k, got[k], v)
			}
		}
	}
	if _, err := Block(filepath.Join(t.TempDir(), "missing"), true); err == nil || !strings.Contains(err.Error(), "want sqlite:PATH") {
		t.Errorf("a missing plain path: %v", err)
	}
}

// TestImport copies a CFSSL certdb into a pkid store twice: certificates,
// revocations and responses arrive once; a row whose certificate does not
// parse is skipped and reported.
func TestImport(t *testing.T) {
	ctx := context.Background()
	path := cfssldbtest.NewSQLite(t)
	src, err := storecfssl.Open(ctx, storecfssl.Options{DBConfig: storecfssl.DBConfig{Driver: "sqlite3", DataSource: path}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := storesqlite.Open(ctx, storesqlite.Options{Path: filepath.Join(t.TempDir(), "pkid.db"), BusyTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var recs []*sdk.CertRecord
	for i := range 3 {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(1000 + i)), Subject: pkix.Name{CommonName: "a.example.test"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), AuthorityKeyId: []byte{1, 2, 3, 4}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		rec := &sdk.CertRecord{Serial: tmpl.SerialNumber.String(), AKI: hex.EncodeToString(tmpl.AuthorityKeyId), IssuerLabel: "cfssl",
			Subject: "CN=a.example.test", NotBefore: tmpl.NotBefore, NotAfter: tmpl.NotAfter, DER: der}
		if i == 1 {
			rec.Status, rec.RevocationReason, rec.RevokedAt = sdk.StatusRevoked, 4, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		}
		if i == 2 {
			rec.DER = []byte{0x30, 0x03, 0x02, 0x01, 0x00} // not a certificate
		}
		if err := src.Put(ctx, rec); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	resp := &sdk.OCSPRecord{Serial: recs[0].Serial, AKI: recs[0].AKI, Response: []byte{0x30, 0x03, 0x0a, 0x01, 0x00}, NextUpdate: time.Now().Add(time.Hour)}
	if err := src.PutOCSP(ctx, resp); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		var progress bytes.Buffer
		st, err := Import(ctx, src, dst, &progress, Options{IssuerLabel: func(aki string) string {
			if aki == "01020304" {
				return "issuing"
			}
			return ""
		}})
		if err != nil {
			t.Fatal(err)
		}
		if st != (Stats{Certificates: 2, Revoked: 1, OCSP: 1, Skipped: 1}) || !strings.Contains(progress.String(), "skipped certificate serial 1002") {
			t.Fatalf("round %d: %+v, progress %q", round, st, progress.String())
		}
	}
	got, err := dst.Get(ctx, recs[1].Serial, recs[1].AKI)
	if err != nil || got.Status != sdk.StatusRevoked || got.RevocationReason != 4 || !got.RevokedAt.Equal(recs[1].RevokedAt) || got.IssuerLabel != "issuing" {
		t.Fatalf("revoked record imported as %+v, %v", got, err)
	}
	o, err := dst.GetOCSP(ctx, resp.Serial, resp.AKI)
	if err != nil || !bytes.Equal(o.Response, resp.Response) {
		t.Fatalf("response imported as %+v, %v", o, err)
	}
	if _, err := dst.Get(ctx, recs[2].Serial, recs[2].AKI); err == nil {
		t.Fatal("the row that is not a certificate was imported")
	}
}
