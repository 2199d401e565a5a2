package server

import (
	"encoding/pem"
	"strings"
	"time"

	"github.com/pkid/pkid/core/ca/profile"
)

// infoResult is info's result; key order as CFSSL's info.Resp.
type infoResult struct {
	Certificate string   `json:"certificate"`
	Usages      []string `json:"usages"`
	Expiry      string   `json:"expiry"`
}

// info serves /info (§3.3).
func (s *Server) info(c *call) (*reply, error) {
	var req struct {
		Label   string `json:"label"`
		Profile string `json:"profile"`
	}
	if strings.TrimSpace(string(c.body)) != "" {
		if err := decodeJSON(c.body, &req); err != nil {
			return nil, badRequest("Unable to parse info request: %v", err)
		}
	}
	sel, err := s.selectCA(c, req.Label, req.Profile)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sel.iss.Certificate().Raw})
	usages := profile.UsageNames(sel.profile) // null when none, as CFSSL
	return &reply{result: infoResult{
		Certificate: strings.TrimSuffix(string(certPEM), "\n"),
		Usages:      usages,
		Expiry:      formatExpiry(sel.profile.Expiry),
	}}, nil
}

// formatExpiry writes a Go duration without zero units ("8760h", "1h30m"):
// CFSSL echoes the configured string, which pkid does not keep, and
// configurations almost always spell it this way.
func formatExpiry(d time.Duration) string {
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
