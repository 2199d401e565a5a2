package scanchecks

import (
	"embed"
	"encoding/json"
	"fmt"
)

// The Mozilla server-side TLS guidelines, as published at
// https://ssl-config.mozilla.org/guidelines/<version>.json (MPL 2.0, see
// guidelines/LICENSE).
//
//go:embed guidelines/*.json
var guidelineFiles embed.FS

const defaultGuidelines = "6.0"

// guidelines is one version of the Mozilla recommendations.
type guidelines struct {
	Version        string              `json:"-"` // the embedded file's name; the JSON carries a number
	Configurations map[string]*profile `json:"configurations"`
}

// profile is one configuration ("modern", "intermediate") of the guidelines.
type profile struct {
	CertificateCurves     []string `json:"certificate_curves"`
	CertificateSignatures []string `json:"certificate_signatures"`
	CertificateTypes      []string `json:"certificate_types"`
	Ciphers               struct {
		IANA []string `json:"iana"`
	} `json:"ciphers"`
	CipherSuites        []string `json:"ciphersuites"`
	DHParamSize         *int     `json:"dh_param_size"`
	ECDHParamSize       *int     `json:"ecdh_param_size"`
	HSTSMinAge          int64    `json:"hsts_min_age"`
	MaxCertLifespanDays int      `json:"maximum_certificate_lifespan"`
	OCSPStaple          bool     `json:"ocsp_staple"`
	RSAKeySize          *int     `json:"rsa_key_size"`
	TLSCurves           []string `json:"tls_curves"`
	TLSVersions         []string `json:"tls_versions"`
}

// loadGuidelines returns the embedded guidelines of version ("6.0", "5.7").
func loadGuidelines(version string) (*guidelines, error) {
	b, err := guidelineFiles.ReadFile("guidelines/" + version + ".json")
	if err != nil {
		return nil, fmt.Errorf(`guidelines %q are not built in; use "6.0" or "5.7"`, version)
	}
	g := &guidelines{Version: version}
	if err := json.Unmarshal(b, g); err != nil {
		return nil, fmt.Errorf("guidelines %s: %w", version, err)
	}
	for _, name := range []string{"modern", "intermediate"} {
		if g.Configurations[name] == nil {
			return nil, fmt.Errorf("guidelines %s have no %q configuration", version, name)
		}
	}
	return g, nil
}
