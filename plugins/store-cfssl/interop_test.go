package storecfssl

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkid/pkid/internal/testtool"
	"github.com/pkid/pkid/plugins/store-cfssl/cfssldbtest"
	"github.com/pkid/pkid/sdk"
	"golang.org/x/crypto/ocsp"
)

// cfsslCA is a CA made by the real cfssl, with its files on disk.
type cfsslCA struct {
	bin, dir, cert, key string
	c                   *x509.Certificate
	signer              crypto.Signer
}

// run runs the real cfssl in the CA's directory with a time bound.
func (ca *cfsslCA) run(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ca.bin, args...)
	cmd.Dir = ca.dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cfssl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func newCFSSLCA(t *testing.T) *cfsslCA {
	t.Helper()
	ca := &cfsslCA{bin: testtool.Oracle(t, "cfssl"), dir: t.TempDir()}
	write := func(name string, data []byte) string {
		p := filepath.Join(ca.dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("ca-csr.json", []byte(`{"CN":"cfssl interop CA","key":{"algo":"ecdsa","size":256}}`))
	var out struct{ Cert, Key string }
	if err := json.Unmarshal(ca.run(t, "genkey", "-initca", "ca-csr.json"), &out); err != nil {
		t.Fatal(err)
	}
	ca.cert, ca.key = write("ca.pem", []byte(out.Cert)), write("ca-key.pem", []byte(out.Key))
	b, _ := pem.Decode([]byte(out.Cert))
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := pem.Decode([]byte(out.Key))
	k, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ca.c, ca.signer = c, k
	return ca
}

// pkidRecord issues a leaf under ca in Go and records it as pkid's issuer
// does (subject, every SAN, profile, metadata).
func (ca *cfsslCA) pkidRecord(t *testing.T, cn string) *sdk.CertRecord {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"pkid"}},
		DNSNames: []string{cn}, EmailAddresses: []string{"ops@example.test"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour),
		AuthorityKeyId: ca.c.SubjectKeyId, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.c, key.Public(), ca.signer)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &sdk.CertRecord{
		Serial: c.SerialNumber.String(), AKI: hex.EncodeToString(c.AuthorityKeyId), IssuerLabel: "primary",
		Subject: c.Subject.String(), SANs: []string{cn, "ops@example.test"}, NotBefore: c.NotBefore, NotAfter: c.NotAfter,
		Status: sdk.StatusGood, Profile: "server", DER: der, Metadata: json.RawMessage(`{"request":"r1"}`),
	}
}

// TestCFSSLInterop shares one certdb between the real cfssl and the store,
// on each backend: cfssl sign's rows read back through the store, and rows
// the store writes read by cfssl ocsprefresh, revoke, crl and ocspdump.
func TestCFSSLInterop(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := context.Background()
			ca := newCFSSLCA(t)
			dbc := b.newDB(t)
			dbConfig := cfssldbtest.WriteDBConfig(t, ca.dir, dbc.Driver, dbc.DataSource)
			s := openTest(t, dbc)

			// 1. cfssl sign -db-config records a certificate; the store reads it.
			if err := os.WriteFile(filepath.Join(ca.dir, "leaf-csr.json"),
				[]byte(`{"CN":"cfssl.example.test","hosts":["cfssl.example.test","192.0.2.9"],"key":{"algo":"ecdsa","size":256}}`), 0o600); err != nil {
				t.Fatal(err)
			}
			var gk struct{ CSR string }
			if err := json.Unmarshal(ca.run(t, "genkey", "leaf-csr.json"), &gk); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(ca.dir, "leaf.csr"), []byte(gk.CSR), 0o600); err != nil {
				t.Fatal(err)
			}
			var signed struct{ Cert string }
			if err := json.Unmarshal(ca.run(t, "sign", "-ca", ca.cert, "-ca-key", ca.key, "-db-config", dbConfig, "leaf.csr"), &signed); err != nil {
				t.Fatal(err)
			}
			pb, _ := pem.Decode([]byte(signed.Cert))
			leaf, err := x509.ParseCertificate(pb.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			cfsslKey := hex.EncodeToString(leaf.AuthorityKeyId)
			got, err := s.Get(ctx, leaf.SerialNumber.String(), cfsslKey)
			if err != nil {
				t.Fatalf("Get of cfssl's row: %v", err)
			}
			if !bytes.Equal(got.DER, leaf.Raw) || got.Subject != leaf.Subject.String() || got.Status != sdk.StatusGood ||
				!got.NotAfter.Equal(leaf.NotAfter) || !got.NotBefore.Equal(leaf.NotBefore) || got.Profile != "" ||
				strings.Join(got.SANs, ",") != "cfssl.example.test,192.0.2.9" || got.CreatedAt.IsZero() || len(got.Metadata) != 0 {
				t.Fatalf("cfssl's row read as %+v", got)
			}

			// 2. The store writes a certificate; cfssl's readers take it.
			rec := ca.pkidRecord(t, "pkid.example.test")
			if err := s.Put(ctx, rec); err != nil {
				t.Fatal(err)
			}
			back, err := s.Get(ctx, rec.Serial, rec.AKI)
			if err != nil || back.Profile != "server" || string(back.Metadata) != `{"request":"r1"}` || back.Subject != rec.Subject {
				t.Fatalf("pkid's row read back as %+v, %v", back, err)
			}
			ca.run(t, "ocsprefresh", "-db-config", dbConfig, "-ca", ca.cert, "-responder", ca.cert, "-responder-key", ca.key)
			for _, c := range []struct{ serial, aki string }{{rec.Serial, rec.AKI}, {leaf.SerialNumber.String(), cfsslKey}} {
				o, err := s.GetOCSP(ctx, c.serial, c.aki)
				if err != nil {
					t.Fatalf("GetOCSP after cfssl ocsprefresh: %v", err)
				}
				r, err := ocsp.ParseResponse(o.Response, ca.c)
				if err != nil || r.Status != ocsp.Good || r.SerialNumber.String() != c.serial {
					t.Fatalf("cfssl's response for %s: %+v, %v", c.serial, r, err)
				}
			}

			// 3. cfssl revoke on pkid's row; the store sees it.
			ca.run(t, "revoke", "-db-config", dbConfig, "-serial", rec.Serial, "-aki", rec.AKI, "-reason", "keyCompromise")
			back, err = s.Get(ctx, rec.Serial, rec.AKI)
			if err != nil || back.Status != sdk.StatusRevoked || back.RevocationReason != 1 || time.Since(back.RevokedAt) > time.Minute {
				t.Fatalf("after cfssl revoke: %+v, %v", back, err)
			}

			// 4. The store revokes cfssl's row; cfssl crl lists both.
			if err := s.Revoke(ctx, sdk.RevokeRequest{Serial: leaf.SerialNumber.String(), AKI: cfsslKey, Reason: 4}); err != nil {
				t.Fatal(err)
			}
			crlDER := mustBase64(t, ca.run(t, "crl", "-db-config", dbConfig, "-ca", ca.cert, "-ca-key", ca.key))
			crl, err := x509.ParseRevocationList(crlDER)
			if err != nil {
				t.Fatal(err)
			}
			// (CFSSL 1.6.5's CRL entries carry no reason code.)
			revoked := map[string]bool{}
			for _, e := range crl.RevokedCertificateEntries {
				revoked[e.SerialNumber.String()] = true
			}
			if len(revoked) != 2 || !revoked[rec.Serial] || !revoked[leaf.SerialNumber.String()] {
				t.Fatalf("cfssl crl lists %v, want %s and %s", revoked, rec.Serial, leaf.SerialNumber)
			}

			// 5. A response the store writes is what cfssl ocspdump prints.
			resp, err := s.GetOCSP(ctx, rec.Serial, rec.AKI)
			if err != nil {
				t.Fatal(err)
			}
			resp.Response = append([]byte(nil), resp.Response...)
			resp.NextUpdate = time.Now().Add(time.Hour)
			if err := s.PutOCSP(ctx, resp); err != nil {
				t.Fatal(err)
			}
			dump := string(ca.run(t, "ocspdump", "-db-config", dbConfig))
			if n := len(strings.Fields(dump)); n != 2 || !strings.Contains(dump, base64Std(resp.Response)) {
				t.Fatalf("cfssl ocspdump printed %d responses, want 2 including the store's:\n%s", n, dump)
			}
		})
	}
}
