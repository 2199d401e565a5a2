package audit

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"time"
)

// Requester is who asked for an operation: an API client, or a command
// run on the CA host (Endpoint "cli:COMMAND", Remote empty).
type Requester struct {
	Endpoint  string `json:"endpoint"`
	Client    string `json:"client,omitempty"` // verified client certificate CN
	Remote    string `json:"remote,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	User      string `json:"user,omitempty"` // the OS user of a command
}

// Issuance is the data of an issuance record.
type Issuance struct {
	CA        string    `json:"ca"`
	Profile   string    `json:"profile"`
	Serial    string    `json:"serial"`
	Subject   string    `json:"subject"`
	SANs      []string  `json:"sans,omitempty"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"`
	Requester
}

// IssuanceOf describes an issued certificate.
func IssuanceOf(c *x509.Certificate, ca, profile string, by Requester) Issuance {
	sum := sha256.Sum256(c.Raw)
	sans := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, c.EmailAddresses...)
	for _, u := range c.URIs {
		sans = append(sans, u.String())
	}
	return Issuance{CA: ca, Profile: profile, Serial: c.SerialNumber.String(), Subject: c.Subject.String(), SANs: sans,
		NotBefore: c.NotBefore, NotAfter: c.NotAfter, SHA256: hex.EncodeToString(sum[:]), Requester: by}
}

// Revocation is the data of a revocation record.
type Revocation struct {
	CA        string    `json:"ca,omitempty"`
	Serial    string    `json:"serial"`
	AKI       string    `json:"aki"`
	Reason    int       `json:"reason"`
	Already   bool      `json:"already,omitempty"` // revoked before with this reason: nothing changed
	RevokedAt time.Time `json:"revoked_at"`
	Requester
}

// KeyOperation is the data of a key record written by the core (a
// keystore plugin's own events carry their own fields).
type KeyOperation struct {
	Operation string `json:"operation"` // "generate"
	KeyStore  string `json:"keystore"`
	Key       string `json:"key"`
	Algorithm string `json:"algorithm,omitempty"`
	Requester
}

// AuthFailure is the data of an authentication failure record.
type AuthFailure struct {
	Requester
	Reason string `json:"reason"`
	// Suppressed counts failures not recorded before this one (rate
	// limit).
	Suppressed int `json:"suppressed,omitempty"`
}
