package ca_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
	"github.com/pkid/pkid/sdk"
)

var (
	crlOIDDelta     = asn1.ObjectIdentifier{2, 5, 29, 27}
	crlOIDIDP       = asn1.ObjectIdentifier{2, 5, 29, 28}
	crlOIDFreshest  = asn1.ObjectIdentifier{2, 5, 29, 46}
	crlTestThisTime = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)
)

type crlKeyType struct {
	name string
	gen  func() (crypto.Signer, error)
	alg  x509.SignatureAlgorithm
}

var crlKeyTypes = []crlKeyType{
	{"ecdsa-p256", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }, x509.ECDSAWithSHA256},
	{"ecdsa-p384", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P384(), rand.Reader) }, x509.ECDSAWithSHA384},
	{"rsa-2048", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 2048) }, x509.SHA256WithRSA},
	{"ed25519", func() (crypto.Signer, error) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}, x509.PureEd25519},
}

// crlCA is a self-signed CA with cRLSign and a subject key identifier.
type crlCA struct {
	cert *x509.Certificate
	key  crypto.Signer
}

var (
	crlCAsMu sync.Mutex
	crlCAs   = map[string]crlCA{}
)

// newCRLCA returns (once per key type and usage) a CA certificate created
// with x509.CreateCertificate.
func newCRLCA(t testing.TB, kt crlKeyType, usage x509.KeyUsage) crlCA {
	t.Helper()
	crlCAsMu.Lock()
	defer crlCAsMu.Unlock()
	id := fmt.Sprintf("%s/%d", kt.name, usage)
	if c, ok := crlCAs[id]; ok {
		return c
	}
	key, err := kt.gen()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pkid crl test CA " + kt.name, Organization: []string{"pkid"}, Country: []string{"US"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Date(2060, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:              usage,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.SubjectKeyId) == 0 {
		t.Fatal("test CA has no subject key identifier")
	}
	c := crlCA{cert, key}
	crlCAs[id] = c
	return c
}

// crlTestEntries returns n entries: serials of 1 to 20 bytes (small ones
// and ones needing a leading zero included; also negative, zero, 126- and
// 127-octet ones), reasons 0..10 except 7,
// revocation times with sub-second parts, one after 2050 and one before
// 1950 when n is large enough.
func crlTestEntries(n int) []ca.CRLEntry {
	reasons := []int{0, 1, 2, 3, 4, 5, 6, 8, 9, 10}
	r := mrand.New(mrand.NewPCG(uint64(n), 7))
	out := make([]ca.CRLEntry, n)
	for i := range out {
		var serial *big.Int
		switch i % 5 {
		case 0:
			serial = big.NewInt(int64(i + 1))
		case 1:
			serial = new(big.Int).Lsh(big.NewInt(int64(0x80+i)), 8) // high bit set: leading zero
		default:
			b := make([]byte, 1+r.IntN(20))
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			b[0] |= 1
			if len(b) == 20 {
				b[0] &= 0x7f
			}
			serial = new(big.Int).SetBytes(b)
			serial.Add(serial, big.NewInt(int64(i)<<8))
		}
		switch i {
		case 7:
			serial = big.NewInt(-12345) // negative: off the fast path
		case 8:
			serial = new(big.Int)
		case 9:
			serial = new(big.Int).Lsh(big.NewInt(1), 8*127-1) // 128 content octets (long-form length): off the fast path
		case 10:
			serial = new(big.Int).Lsh(big.NewInt(1), 8*126-1) // 126 octets, high bit set: the longest fast one
		}
		at := crlTestThisTime.Add(-time.Duration(r.Int64N(int64(3 * 365 * 24 * time.Hour)))).In(time.FixedZone("X", 3600))
		switch i {
		case 3:
			at = time.Date(2051, 6, 1, 12, 0, 0, 0, time.UTC)
		case 4:
			at = time.Date(1949, 12, 31, 23, 59, 59, 0, time.UTC)
		case 5:
			at = time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)
		case 6:
			at = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		out[i] = ca.CRLEntry{Serial: serial, RevokedAt: at, Reason: reasons[i%len(reasons)]}
	}
	return out
}

func crlIter(entries []ca.CRLEntry) func(func(ca.CRLEntry) error) error {
	return func(yield func(ca.CRLEntry) error) error {
		for _, e := range entries {
			if err := yield(e); err != nil {
				return err
			}
		}
		return nil
	}
}

func crlTemplate(delta bool) ca.CRLTemplate {
	t := ca.CRLTemplate{
		Number:            new(big.Int).Lsh(big.NewInt(0x1234567), 100),
		ThisUpdate:        crlTestThisTime,
		NextUpdate:        crlTestThisTime.Add(7 * 24 * time.Hour),
		DistributionPoint: "http://crl.example.com/ca.crl",
		FreshestCRL:       "http://crl.example.com/ca-delta.crl",
	}
	if delta {
		t.DeltaBase = big.NewInt(41)
		t.Number = big.NewInt(42)
		t.DistributionPoint = "http://crl.example.com/ca-delta.crl"
	}
	return t
}

func crlExt(rl *x509.RevocationList, oid asn1.ObjectIdentifier) *pkix.Extension {
	for i := range rl.Extensions {
		if rl.Extensions[i].Id.Equal(oid) {
			return &rl.Extensions[i]
		}
	}
	return nil
}

// crlFullNameURI decodes distributionPoint [0] { fullName [0] { [6] URI } }.
func crlFullNameURI(t *testing.T, der []byte) string {
	t.Helper()
	var dp, full, uri asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &dp); err != nil || len(rest) > 0 || dp.Class != asn1.ClassContextSpecific || dp.Tag != 0 || !dp.IsCompound {
		t.Fatalf("distributionPoint: %v %x", err, der)
	}
	if rest, err := asn1.Unmarshal(dp.Bytes, &full); err != nil || len(rest) > 0 || full.Class != asn1.ClassContextSpecific || full.Tag != 0 || !full.IsCompound {
		t.Fatalf("fullName: %v %x", err, dp.Bytes)
	}
	if rest, err := asn1.Unmarshal(full.Bytes, &uri); err != nil || len(rest) > 0 || uri.Class != asn1.ClassContextSpecific || uri.Tag != 6 || uri.IsCompound {
		t.Fatalf("uniformResourceIdentifier: %v %x", err, full.Bytes)
	}
	return string(uri.Bytes)
}

func crlIDPURI(t *testing.T, v []byte) string {
	t.Helper()
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(v, &seq); err != nil || len(rest) > 0 || seq.Tag != asn1.TagSequence {
		t.Fatalf("issuingDistributionPoint: %v %x", err, v)
	}
	return crlFullNameURI(t, seq.Bytes)
}

func crlFreshestURI(t *testing.T, v []byte) string {
	t.Helper()
	var seqOf, dp asn1.RawValue
	if rest, err := asn1.Unmarshal(v, &seqOf); err != nil || len(rest) > 0 || seqOf.Tag != asn1.TagSequence {
		t.Fatalf("freshestCRL: %v %x", err, v)
	}
	if rest, err := asn1.Unmarshal(seqOf.Bytes, &dp); err != nil || len(rest) > 0 || dp.Tag != asn1.TagSequence {
		t.Fatalf("freshestCRL DistributionPoint: %v %x", err, seqOf.Bytes)
	}
	return crlFullNameURI(t, dp.Bytes)
}

// checkCRL parses der and checks it against what was asked.
func checkCRL(t *testing.T, der []byte, c crlCA, tmpl ca.CRLTemplate, want []ca.CRLEntry, alg x509.SignatureAlgorithm) *x509.RevocationList {
	t.Helper()
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("ParseRevocationList: %v", err)
	}
	if err := rl.CheckSignatureFrom(c.cert); err != nil {
		t.Fatalf("CheckSignatureFrom: %v", err)
	}
	if rl.SignatureAlgorithm != alg {
		t.Errorf("signature algorithm %v, want %v", rl.SignatureAlgorithm, alg)
	}
	if !bytes.Equal(rl.RawIssuer, c.cert.RawSubject) {
		t.Errorf("issuer %x, want %x", rl.RawIssuer, c.cert.RawSubject)
	}
	if rl.Number == nil || rl.Number.Cmp(tmpl.Number) != 0 {
		t.Errorf("number %v, want %v", rl.Number, tmpl.Number)
	}
	if !rl.ThisUpdate.Equal(tmpl.ThisUpdate.Truncate(time.Second)) || !rl.NextUpdate.Equal(tmpl.NextUpdate.Truncate(time.Second)) {
		t.Errorf("thisUpdate %v nextUpdate %v, want %v %v", rl.ThisUpdate, rl.NextUpdate, tmpl.ThisUpdate, tmpl.NextUpdate)
	}
	if !bytes.Equal(rl.AuthorityKeyId, c.cert.SubjectKeyId) {
		t.Errorf("AKI %x, want %x", rl.AuthorityKeyId, c.cert.SubjectKeyId)
	}
	if len(rl.RevokedCertificateEntries) != len(want) {
		t.Fatalf("%d entries, want %d", len(rl.RevokedCertificateEntries), len(want))
	}
	for i, got := range rl.RevokedCertificateEntries {
		w := want[i]
		if got.SerialNumber.Cmp(w.Serial) != 0 {
			t.Fatalf("entry %d: serial %x, want %x", i, got.SerialNumber, w.Serial)
		}
		if !got.RevocationTime.Equal(w.RevokedAt.Truncate(time.Second)) {
			t.Fatalf("entry %d: time %v, want %v", i, got.RevocationTime, w.RevokedAt)
		}
		if got.ReasonCode != w.Reason {
			t.Fatalf("entry %d: reason %d, want %d", i, got.ReasonCode, w.Reason)
		}
		if w.Reason == 0 && len(got.Extensions) != 0 {
			t.Fatalf("entry %d: reason 0 carries extensions %v", i, got.Extensions)
		}
	}
	delta, idp, fresh := crlExt(rl, crlOIDDelta), crlExt(rl, crlOIDIDP), crlExt(rl, crlOIDFreshest)
	if tmpl.DeltaBase != nil {
		if delta == nil || !delta.Critical {
			t.Fatalf("deltaCRLIndicator missing or not critical: %+v", delta)
		}
		var base *big.Int
		if rest, err := asn1.Unmarshal(delta.Value, &base); err != nil || len(rest) > 0 || base.Cmp(tmpl.DeltaBase) != 0 {
			t.Errorf("deltaCRLIndicator %x (%v), want %v", delta.Value, err, tmpl.DeltaBase)
		}
		if fresh != nil {
			t.Error("freshestCRL on a delta CRL")
		}
	} else {
		if delta != nil {
			t.Error("deltaCRLIndicator on a full CRL")
		}
		if fresh == nil || fresh.Critical {
			t.Fatalf("freshestCRL missing or critical: %+v", fresh)
		}
		if got := crlFreshestURI(t, fresh.Value); got != tmpl.FreshestCRL {
			t.Errorf("freshestCRL %q, want %q", got, tmpl.FreshestCRL)
		}
	}
	if idp == nil || !idp.Critical {
		t.Fatalf("issuingDistributionPoint missing or not critical: %+v", idp)
	}
	if got := crlIDPURI(t, idp.Value); got != tmpl.DistributionPoint {
		t.Errorf("issuingDistributionPoint %q, want %q", got, tmpl.DistributionPoint)
	}
	return rl
}

func encodeCRL(t *testing.T, c crlCA, tmpl ca.CRLTemplate, entries []ca.CRLEntry, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	info, err := ca.EncodeCRL(context.Background(), &buf, ca.EncodeCRLRequest{Template: tmpl, Issuer: c.cert, Signer: c.key, Entries: crlIter(entries), TempDir: dir})
	if err != nil {
		t.Fatalf("EncodeCRL: %v", err)
	}
	if info.Entries != int64(len(entries)) || info.Bytes != int64(buf.Len()) {
		t.Errorf("info %d entries %d bytes, want %d %d", info.Entries, info.Bytes, len(entries), buf.Len())
	}
	if info.Number.Cmp(tmpl.Number) != 0 || !info.ThisUpdate.Equal(tmpl.ThisUpdate) || !info.NextUpdate.Equal(tmpl.NextUpdate) {
		t.Errorf("info %+v", info)
	}
	return buf.Bytes()
}

func crlDirEmpty(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("spill files left in %s: %v", dir, left)
	}
}

func TestEncodeCRL(t *testing.T) {
	for _, kt := range crlKeyTypes {
		c := newCRLCA(t, kt, x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
		for _, n := range []int{0, 1, 1000} {
			for _, delta := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%d/delta=%v", kt.name, n, delta), func(t *testing.T) {
					dir := t.TempDir()
					entries := crlTestEntries(n)
					tmpl := crlTemplate(delta)
					der := encodeCRL(t, c, tmpl, entries, dir)
					rl := checkCRL(t, der, c, tmpl, entries, kt.alg)
					if n == 1000 {
						// The times around 2050 round-trip through both encodings.
						if !rl.RevokedCertificateEntries[3].RevocationTime.Equal(entries[3].RevokedAt) {
							t.Errorf("2051 entry: %v", rl.RevokedCertificateEntries[3].RevocationTime)
						}
					}
					crlDirEmpty(t, dir)
				})
			}
		}
	}
}

// TestEncodeCRLMatchesStdlib: the same input through
// x509.CreateRevocationList gives the same parsed CRL field by field and
// the very same TBSCertList bytes (and, Ed25519 being deterministic, the
// same CRL).
func TestEncodeCRLMatchesStdlib(t *testing.T) {
	for _, kt := range crlKeyTypes {
		c := newCRLCA(t, kt, x509.KeyUsageCertSign|x509.KeyUsageCRLSign|x509.KeyUsageDigitalSignature)
		for _, tc := range []struct {
			n     int
			delta bool
		}{{0, false}, {300, false}, {0, true}, {300, true}} {
			n, delta := tc.n, tc.delta
			t.Run(fmt.Sprintf("%s/%d/delta=%v", kt.name, n, delta), func(t *testing.T) {
				entries := crlTestEntries(n)
				tmpl := crlTemplate(delta)
				ours := encodeCRL(t, c, tmpl, entries, t.TempDir())

				std := &x509.RevocationList{Number: tmpl.Number, ThisUpdate: tmpl.ThisUpdate, NextUpdate: tmpl.NextUpdate}
				for _, e := range entries {
					std.RevokedCertificateEntries = append(std.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: e.Serial, RevocationTime: e.RevokedAt, ReasonCode: e.Reason})
				}
				if delta {
					std.ExtraExtensions = append(std.ExtraExtensions, pkix.Extension{Id: crlOIDDelta, Critical: true, Value: crlMustMarshal(t, tmpl.DeltaBase)})
				}
				uri := func(s string) asn1.RawValue {
					u := crlMustMarshal(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(s)})
					full := crlMustMarshal(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: u})
					return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: full}
				}
				std.ExtraExtensions = append(std.ExtraExtensions, pkix.Extension{Id: crlOIDIDP, Critical: true,
					Value: crlMustMarshal(t, asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: crlMustMarshal(t, uri(tmpl.DistributionPoint))})})
				if !delta {
					dp := crlMustMarshal(t, asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: crlMustMarshal(t, uri(tmpl.FreshestCRL))})
					std.ExtraExtensions = append(std.ExtraExtensions, pkix.Extension{Id: crlOIDFreshest,
						Value: crlMustMarshal(t, asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: dp})})
				}
				stdDER, err := x509.CreateRevocationList(rand.Reader, std, c.cert, c.key)
				if err != nil {
					t.Fatal(err)
				}
				a := checkCRL(t, ours, c, tmpl, entries, kt.alg)
				b := checkCRL(t, stdDER, c, tmpl, entries, kt.alg)

				if !bytes.Equal(a.RawIssuer, b.RawIssuer) || a.Number.Cmp(b.Number) != 0 || !a.ThisUpdate.Equal(b.ThisUpdate) ||
					!a.NextUpdate.Equal(b.NextUpdate) || !bytes.Equal(a.AuthorityKeyId, b.AuthorityKeyId) || a.SignatureAlgorithm != b.SignatureAlgorithm {
					t.Errorf("header differs:\nours %+v\nstd  %+v", a, b)
				}
				if len(a.Extensions) != len(b.Extensions) {
					t.Fatalf("extensions %v vs %v", a.Extensions, b.Extensions)
				}
				for i := range a.Extensions {
					x, y := a.Extensions[i], b.Extensions[i]
					if !x.Id.Equal(y.Id) || x.Critical != y.Critical || !bytes.Equal(x.Value, y.Value) {
						t.Errorf("extension %d: %v vs %v", i, x, y)
					}
				}
				if len(a.RevokedCertificateEntries) != len(b.RevokedCertificateEntries) {
					t.Fatalf("entries %d vs %d", len(a.RevokedCertificateEntries), len(b.RevokedCertificateEntries))
				}
				for i := range a.RevokedCertificateEntries {
					x, y := a.RevokedCertificateEntries[i], b.RevokedCertificateEntries[i]
					if x.SerialNumber.Cmp(y.SerialNumber) != 0 || !x.RevocationTime.Equal(y.RevocationTime) || x.ReasonCode != y.ReasonCode || !bytes.Equal(x.Raw, y.Raw) {
						t.Fatalf("entry %d: %+v vs %+v", i, x, y)
					}
				}
				if !bytes.Equal(a.RawTBSRevocationList, b.RawTBSRevocationList) {
					t.Errorf("TBSCertList differs from x509.CreateRevocationList's")
				}
				if kt.alg == x509.PureEd25519 && !bytes.Equal(ours, stdDER) {
					t.Errorf("Ed25519 CRL differs from x509.CreateRevocationList's")
				}
			})
		}
	}
}

func crlMustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEncodeCRLOpenSSL has openssl, an independent parser, verify the
// signature and list the extensions.
func TestEncodeCRLOpenSSL(t *testing.T) {
	openssl := requireOpenSSL(t)
	for _, kt := range crlKeyTypes {
		c := newCRLCA(t, kt, x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
		for _, delta := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/delta=%v", kt.name, delta), func(t *testing.T) {
				dir := t.TempDir()
				entries := crlTestEntries(1000)
				tmpl := crlTemplate(delta)
				der := encodeCRL(t, c, tmpl, entries, t.TempDir())
				crlFile := filepath.Join(dir, "ca.crl")
				if err := os.WriteFile(crlFile, der, 0o644); err != nil {
					t.Fatal(err)
				}
				caPEM := filepath.Join(dir, "ca.pem")
				if err := os.WriteFile(caPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}), 0o644); err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command(openssl, "crl", "-inform", "DER", "-in", crlFile, "-noout", "-text", "-CAfile", caPEM).CombinedOutput()
				if err != nil {
					t.Fatalf("openssl crl: %v\n%s", err, out)
				}
				text := string(out)
				if !strings.Contains(text, "verify OK") {
					t.Fatalf("openssl did not verify the CRL:\n%.2000s", text)
				}
				if got := strings.Count(text, "Serial Number:"); got != len(entries) {
					t.Errorf("openssl lists %d serials, want %d", got, len(entries))
				}
				want := []string{"Issuing Distribution Point", "critical", tmpl.DistributionPoint, "CRL Number", "Authority Key Identifier", "Key Compromise", "Remove From CRL", "AA Compromise"}
				if delta {
					want = append(want, "Delta CRL Indicator")
				} else {
					want = append(want, "Freshest CRL", tmpl.FreshestCRL)
				}
				for _, s := range want {
					if !strings.Contains(text, s) {
						t.Errorf("openssl text lacks %q", s)
					}
				}
				if delta == strings.Contains(text, "Freshest CRL") {
					t.Errorf("Freshest CRL present=%v on delta=%v", !delta, delta)
				}
			})
		}
	}
}

// TestEncodeCRLSpillRemoved: the spill file goes away after success, an
// iterator error, a cancelled context and a failing writer.
func TestEncodeCRLSpillRemoved(t *testing.T) {
	c := newCRLCA(t, crlKeyTypes[0], x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
	entries := crlTestEntries(10000)
	tmpl := crlTemplate(false)

	t.Run("success", func(t *testing.T) {
		dir := t.TempDir()
		der := encodeCRL(t, c, tmpl, entries, dir)
		checkCRL(t, der, c, tmpl, entries, x509.ECDSAWithSHA256)
		crlDirEmpty(t, dir)
	})
	t.Run("iterator error", func(t *testing.T) {
		dir := t.TempDir()
		boom := errors.New("store went away")
		var buf bytes.Buffer
		sawSpill := false
		info, err := ca.EncodeCRL(context.Background(), &buf, ca.EncodeCRLRequest{Template: tmpl, Issuer: c.cert, Signer: c.key, TempDir: dir, Entries: func(yield func(ca.CRLEntry) error) error {
			for i, e := range entries[:5000] {
				if err := yield(e); err != nil {
					return err
				}
				if i == 4000 {
					left, _ := os.ReadDir(dir)
					sawSpill = len(left) == 1
				}
			}
			return boom
		}})
		if !errors.Is(err, boom) {
			t.Fatalf("err %v, want %v", err, boom)
		}
		if !sawSpill {
			t.Error("no spill file in tempDir during the encoding")
		}
		if buf.Len() != 0 || info.Bytes != 0 {
			t.Errorf("%d bytes written on error", buf.Len())
		}
		crlDirEmpty(t, dir)
	})
	t.Run("cancelled", func(t *testing.T) {
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		_, err := ca.EncodeCRL(ctx, &bytes.Buffer{}, ca.EncodeCRLRequest{Template: tmpl, Issuer: c.cert, Signer: c.key, TempDir: dir, Entries: func(yield func(ca.CRLEntry) error) error {
			for i, e := range entries {
				if i == 100 {
					cancel()
				}
				if err := yield(e); err != nil {
					return err
				}
			}
			return nil
		}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
		crlDirEmpty(t, dir)
	})
	t.Run("writer error", func(t *testing.T) {
		dir := t.TempDir()
		_, err := ca.EncodeCRL(context.Background(), crlFailWriter{}, ca.EncodeCRLRequest{Template: tmpl, Issuer: c.cert, Signer: c.key, Entries: crlIter(entries), TempDir: dir})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("err %v", err)
		}
		crlDirEmpty(t, dir)
	})
}

type crlFailWriter struct{}

func (crlFailWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestEncodeCRLRefuses(t *testing.T) {
	good := newCRLCA(t, crlKeyTypes[0], x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
	noCRLSign := newCRLCA(t, crlKeyTypes[0], x509.KeyUsageCertSign)
	other := newCRLCA(t, crlKeyTypes[1], x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
	one := crlTestEntries(1)
	for _, tc := range []struct {
		name    string
		c       crlCA
		mutate  func(*ca.CRLTemplate)
		entries []ca.CRLEntry
		want    string
	}{
		{"no cRLSign", crlCA{noCRLSign.cert, noCRLSign.key}, nil, one, "cRLSign"},
		{"key mismatch", crlCA{good.cert, other.key}, nil, one, "does not match"},
		{"nextUpdate = thisUpdate", good, func(t *ca.CRLTemplate) { t.NextUpdate = t.ThisUpdate }, one, "not after"},
		{"nextUpdate before thisUpdate", good, func(t *ca.CRLTemplate) { t.NextUpdate = t.ThisUpdate.Add(-time.Hour) }, one, "not after"},
		{"no number", good, func(t *ca.CRLTemplate) { t.Number = nil }, one, "required"},
		{"negative number", good, func(t *ca.CRLTemplate) { t.Number = big.NewInt(-1) }, one, "negative"},
		{"21-octet number", good, func(t *ca.CRLTemplate) { t.Number = new(big.Int).Lsh(big.NewInt(1), 160) }, one, "20 octets"},
		{"bad reason", good, nil, []ca.CRLEntry{{Serial: big.NewInt(5), RevokedAt: crlTestThisTime, Reason: 7}}, "CRLReason"},
		{"no serial", good, nil, []ca.CRLEntry{{RevokedAt: crlTestThisTime}}, "serial"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := crlTemplate(false)
			if tc.mutate != nil {
				tc.mutate(&tmpl)
			}
			dir := t.TempDir()
			var buf bytes.Buffer
			_, err := ca.EncodeCRL(context.Background(), &buf, ca.EncodeCRLRequest{Template: tmpl, Issuer: tc.c.cert, Signer: tc.c.key, Entries: crlIter(tc.entries), TempDir: dir})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want one with %q", err, tc.want)
			}
			if buf.Len() != 0 {
				t.Error("bytes written on error")
			}
			crlDirEmpty(t, dir)
		})
	}
	// A CA certificate without any key usage may sign CRLs.
	t.Run("no key usage", func(t *testing.T) {
		c := newCRLCA(t, crlKeyTypes[0], 0)
		checkCRL(t, encodeCRL(t, c, crlTemplate(false), one, t.TempDir()), c, crlTemplate(false), one, x509.ECDSAWithSHA256)
	})
}

// crlStore is an in-memory sdk.CertStore whose List applies the filter.
type crlStore struct {
	sdk.CertStore
	recs []*sdk.CertRecord
}

func (s *crlStore) List(ctx context.Context, f sdk.ListFilter, fn func(*sdk.CertRecord) error) error {
	for _, r := range s.recs {
		if (f.IssuerLabel != "" && r.IssuerLabel != f.IssuerLabel) || (f.Status != "" && r.Status != f.Status) ||
			(!f.ExpiresAfter.IsZero() && !r.NotAfter.After(f.ExpiresAfter)) || (!f.ExpiresBefore.IsZero() && !r.NotAfter.Before(f.ExpiresBefore)) {
			continue
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// TestWriteCRLFromStore goes through (*Issuer).WriteCRL and CRL: only this
// issuer's unexpired revoked certificates are listed, and a delta CRL only
// those revoked at or after DeltaSince.
func TestWriteCRLFromStore(t *testing.T) {
	c := newCRLCA(t, crlKeyTypes[0], x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
	now := crlTestThisTime
	since := now.Add(-24 * time.Hour)
	store := &crlStore{}
	type rec struct {
		label, status  string
		serial         int64
		expired, fresh bool
		reason         int
	}
	var wantFull, wantDelta []int64
	for i, r := range []rec{
		{"a", sdk.StatusRevoked, 101, false, false, 1},
		{"a", sdk.StatusRevoked, 102, false, true, 0},
		{"a", sdk.StatusGood, 103, false, false, 0},
		{"a", sdk.StatusRevoked, 104, true, true, 4},  // expired: not listed
		{"b", sdk.StatusRevoked, 105, false, true, 1}, // another CA's
		{"b", sdk.StatusRevoked, 106, false, false, 1},
		{"a", sdk.StatusRevoked, 107, false, true, 5},
		{"a", sdk.StatusRevoked, 108, false, false, 9},
	} {
		notAfter := now.Add(time.Duration(i+1) * time.Hour)
		if r.expired {
			notAfter = now.Add(-time.Minute)
		}
		revokedAt := since.Add(-time.Duration(i+1) * time.Hour)
		if r.fresh {
			revokedAt = since.Add(time.Duration(i) * time.Minute) // i=1: exactly DeltaSince
		}
		rc := &sdk.CertRecord{Serial: fmt.Sprint(r.serial), IssuerLabel: r.label, Status: r.status, NotAfter: notAfter}
		if r.status == sdk.StatusRevoked {
			rc.RevokedAt, rc.RevocationReason = revokedAt, r.reason
		}
		store.recs = append(store.recs, rc)
		if r.label == "a" && r.status == sdk.StatusRevoked && !r.expired {
			wantFull = append(wantFull, r.serial)
			if r.fresh {
				wantDelta = append(wantDelta, r.serial)
			}
		}
	}
	iss, err := ca.NewIssuer(ca.IssuerConfig{Label: "a", Certificate: c.cert, Signer: c.key, Profiles: mustProfiles(t), Store: store,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, der []byte, want []int64) *x509.RevocationList {
		t.Helper()
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := rl.CheckSignatureFrom(c.cert); err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, e := range rl.RevokedCertificateEntries {
			got = append(got, e.SerialNumber.Int64())
			for _, r := range store.recs {
				if r.Serial == e.SerialNumber.String() && (r.RevocationReason != e.ReasonCode || !r.RevokedAt.Truncate(time.Second).Equal(e.RevocationTime)) {
					t.Errorf("serial %s: reason %d at %v, want %d at %v", r.Serial, e.ReasonCode, e.RevocationTime, r.RevocationReason, r.RevokedAt)
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("serials %v, want %v", got, want)
		}
		if !rl.ThisUpdate.Equal(now.Truncate(time.Second)) {
			t.Errorf("thisUpdate %v, want %v", rl.ThisUpdate, now)
		}
		return rl
	}

	t.Run("full", func(t *testing.T) {
		dir := t.TempDir()
		var buf bytes.Buffer
		info, err := iss.WriteCRL(context.Background(), &buf, ca.CRLRequest{TempDir: dir, FreshestCRL: "http://crl.example.com/delta.crl"})
		if err != nil {
			t.Fatal(err)
		}
		rl := check(t, buf.Bytes(), wantFull)
		if info.Entries != int64(len(wantFull)) || info.Bytes != int64(buf.Len()) {
			t.Errorf("info %+v", info)
		}
		if info.Number.Cmp(big.NewInt(now.UnixNano())) != 0 || rl.Number.Cmp(info.Number) != 0 {
			t.Errorf("default number %v (crl %v), want %d", info.Number, rl.Number, now.UnixNano())
		}
		if !rl.NextUpdate.Equal(now.Add(7 * 24 * time.Hour).Truncate(time.Second)) {
			t.Errorf("default nextUpdate %v", rl.NextUpdate)
		}
		if crlExt(rl, crlOIDFreshest) == nil || crlExt(rl, crlOIDDelta) != nil {
			t.Error("full CRL extensions")
		}
		crlDirEmpty(t, dir)
	})
	t.Run("delta", func(t *testing.T) {
		der, err := iss.CRL(context.Background(), ca.CRLRequest{TempDir: t.TempDir(), Number: big.NewInt(8), DeltaBase: big.NewInt(7),
			DeltaSince: since, DistributionPoint: "http://crl.example.com/a.crl", FreshestCRL: "http://crl.example.com/delta.crl", Validity: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		rl := check(t, der, wantDelta)
		if rl.Number.Int64() != 8 || !rl.NextUpdate.Equal(now.Add(time.Hour).Truncate(time.Second)) {
			t.Errorf("number %v nextUpdate %v", rl.Number, rl.NextUpdate)
		}
		d := crlExt(rl, crlOIDDelta)
		var base *big.Int
		if d == nil || !d.Critical {
			t.Fatal("no critical deltaCRLIndicator")
		}
		if _, err := asn1.Unmarshal(d.Value, &base); err != nil || base.Int64() != 7 {
			t.Errorf("delta base %v %v", base, err)
		}
		if crlExt(rl, crlOIDFreshest) != nil {
			t.Error("freshestCRL on a delta CRL")
		}
		if idp := crlExt(rl, crlOIDIDP); idp == nil || !idp.Critical || crlIDPURI(t, idp.Value) != "http://crl.example.com/a.crl" {
			t.Errorf("issuingDistributionPoint %+v", idp)
		}
	})
	t.Run("other issuer", func(t *testing.T) {
		other := newCRLCA(t, crlKeyTypes[1], x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
		issB, err := ca.NewIssuer(ca.IssuerConfig{Label: "b", Certificate: other.cert, Signer: other.key, Profiles: mustProfiles(t), Store: store,
			Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		der, err := issB.CRL(context.Background(), ca.CRLRequest{TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := rl.CheckSignatureFrom(other.cert); err != nil {
			t.Fatal(err)
		}
		if len(rl.RevokedCertificateEntries) != 2 || rl.RevokedCertificateEntries[0].SerialNumber.Int64() != 105 {
			t.Errorf("issuer b entries %+v", rl.RevokedCertificateEntries)
		}
	})
}
