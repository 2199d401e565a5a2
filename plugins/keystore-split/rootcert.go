package keystoresplit

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"time"
	"unicode/utf8"
)

// rootCertRequest is the ceremony's optional self-signed certificate.
type rootCertRequest struct {
	File    string // empty: none
	CN      string
	Days    int
	PathLen int // -1: no constraint
}

// check validates the request before any key is made. Errors wrap
// sdk.ErrInvalidArgument.
func (r rootCertRequest) check() error {
	if r.File == "" {
		if r.CN != "" {
			return usagef("-cn names the certificate of -cert FILE")
		}
		return nil
	}
	switch {
	case r.CN == "" || len(r.CN) > 64 || !utf8.ValidString(r.CN):
		return usagef("-cert needs -cn CN (1 to 64 characters)")
	case r.Days < 1 || r.Days > 36500:
		return usagef("-days must be from 1 to 36500")
	case r.PathLen < -1 || r.PathLen > 32:
		return usagef("-pathlen must be from -1 (none) to 32")
	}
	if _, err := os.Lstat(r.File); err == nil {
		return fmt.Errorf("%s already exists; refusing to overwrite a CA certificate", r.File)
	}
	return nil
}

// selfSign makes the CA certificate: basic constraints (critical), key
// usage certificate and CRL signing (critical) and digital signature (for
// OCSP responses signed by the CA), a subject key identifier from the key.
func (r rootCertRequest) selfSign(signer crypto.Signer) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: serial.Add(serial, big.NewInt(1)), Subject: pkix.Name{CommonName: r.CN},
		NotBefore: now, NotAfter: now.AddDate(0, 0, r.Days),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: r.PathLen, MaxPathLenZero: r.PathLen == 0,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("self-signing the certificate: %w", err)
	}
	return der, nil
}

// writeNew writes a new file (0644), never replacing one.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return nil
}
