package profile

import (
	"crypto/x509"
	_ "embed"
	"slices"
	"time"
)

// defaultConfigJSON is `cfssl print-defaults config` (CFSSL 1.6.5) byte
// for byte, trailing blank line included.
//
//go:embed testdata/print-defaults-config.golden
var defaultConfigJSON []byte

// DefaultConfigJSON returns the template printed by `print-defaults
// config`: exactly the bytes CFSSL writes to stdout, so write it as is
// (no added newline). Default expiry 168h; profiles "www" and "client"
// (8760h; signing, key encipherment, server auth / client auth).
func DefaultConfigJSON() []byte {
	return slices.Clone(defaultConfigJSON)
}

// DefaultConfig returns DefaultConfigJSON parsed. It panics only if the
// embedded template were broken (a build defect caught by the tests).
func DefaultConfig() *Config {
	cfg, err := ParseCFSSL(defaultConfigJSON)
	if err != nil {
		panic("profile: embedded default config: " + err.Error())
	}
	return cfg
}

// BuiltinDefault returns the default profile of a signing configuration
// without signing.default (CFSSL's built-in): usages signing, key
// encipherment, server auth, client auth; expiry 8760h; named "default".
func BuiltinDefault() *Profile {
	return &Profile{
		Name:        "default",
		Usages:      []string{"signing", "key encipherment", "server auth", "client auth"},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		Expiry:      8760 * time.Hour,
		Lint:        Lint{Level: "error"},
	}
}
