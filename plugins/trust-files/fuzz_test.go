package trustfiles

import (
	"crypto/x509"
	"testing"
)

// FuzzParseCerts: whatever a CI job drops into a trust directory, the
// reader returns certificates or an error, never a panic, and never an
// empty success.
func FuzzParseCerts(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("# comment\n-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		ders, err := parseCerts(b)
		if err == nil && len(ders) == 0 {
			t.Fatal("no certificate and no error")
		}
		for _, d := range ders {
			_, _ = x509.ParseCertificate(d) // load reports these; must not panic
		}
	})
}
