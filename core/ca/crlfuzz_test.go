package ca_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/pkid/pkid/core/ca"
)

// FuzzEncodeCRLEntry: a one-entry CRL from EncodeCRL is byte for byte the
// one x509.CreateRevocationList makes (Ed25519 signatures are
// deterministic), or both refuse the entry (EncodeCRL also refuses
// reasons that are not CRLReasons).
func FuzzEncodeCRLEntry(f *testing.F) {
	f.Add([]byte{1}, false, int64(1700000000), int64(0), uint8(1))
	f.Add([]byte{}, false, int64(0), int64(999999999), uint8(0))
	f.Add([]byte{0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false, int64(2524608000), int64(5), uint8(10))
	f.Add([]byte{0x7f, 0xff}, true, int64(-631152001), int64(0), uint8(6))
	f.Add(bytes.Repeat([]byte{0xff}, 127), false, int64(253402300799), int64(0), uint8(9))
	f.Add([]byte{2}, false, int64(253402300800), int64(0), uint8(2))
	f.Add([]byte{3}, false, int64(1), int64(0), uint8(7))
	c := newCRLCA(f, crlKeyTypes[3], x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
	tmpl := crlTemplate(false)
	tmpl.DistributionPoint, tmpl.FreshestCRL = "", ""
	f.Fuzz(func(t *testing.T, serialBytes []byte, negative bool, sec, nsec int64, reason uint8) {
		serial := new(big.Int).SetBytes(serialBytes)
		if negative {
			serial.Neg(serial)
		}
		e := ca.CRLEntry{Serial: serial, RevokedAt: time.Unix(sec, nsec%1e9), Reason: int(reason)}
		var buf bytes.Buffer
		_, err := ca.EncodeCRL(context.Background(), &buf, ca.EncodeCRLRequest{Template: tmpl, Issuer: c.cert, Signer: c.key, Entries: crlIter([]ca.CRLEntry{e}), TempDir: t.TempDir()})
		std, stdErr := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: tmpl.Number, ThisUpdate: tmpl.ThisUpdate, NextUpdate: tmpl.NextUpdate,
			RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: serial, RevocationTime: e.RevokedAt, ReasonCode: e.Reason}}}, c.cert, c.key)
		if reason > 10 || reason == 7 {
			if err == nil {
				t.Fatalf("reason %d accepted", reason)
			}
			return
		}
		if (err != nil) != (stdErr != nil) {
			t.Fatalf("EncodeCRL: %v; CreateRevocationList: %v", err, stdErr)
		}
		if err == nil && !bytes.Equal(buf.Bytes(), std) {
			t.Fatalf("differs from CreateRevocationList:\nours %x\nstd  %x", buf.Bytes(), std)
		}
	})
}
