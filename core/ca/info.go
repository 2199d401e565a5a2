package ca

import (
	"encoding/pem"
	"strings"
	"time"

	"github.com/pkid/pkid/core/ca/profile"
)

// Info is what CFSSL's info reports for a CA and one of its profiles.
type Info struct {
	// CertificatePEM is the CA certificate without its trailing newline
	// (a CFSSL oddity clients depend on).
	CertificatePEM string
	// Usages are the profile's usage names as configured (nil when none).
	Usages []string
	// Expiry is the profile's expiry as a Go duration without zero units.
	Expiry string
}

// InfoFor describes the CA under profile p.
func (i *Issuer) InfoFor(p *profile.Profile) *Info {
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.cfg.Certificate.Raw})
	return &Info{
		CertificatePEM: strings.TrimSuffix(string(certPEM), "\n"),
		Usages:         profile.UsageNames(p),
		Expiry:         FormatExpiry(p.Expiry),
	}
}

// FormatExpiry writes a Go duration without zero units ("8760h", "1h30m",
// "90s"): CFSSL echoes the configured string, which pkid does not keep,
// and configurations almost always spell it this way.
func FormatExpiry(d time.Duration) string {
	s := d.String()
	if d <= 0 || d%time.Second != 0 {
		return s
	}
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
