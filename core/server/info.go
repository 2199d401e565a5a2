package server

import (
	"strings"
)

// infoResult is info's result; key order as CFSSL's info.Resp.
type infoResult struct {
	Certificate string   `json:"certificate"`
	Usages      []string `json:"usages"`
	Expiry      string   `json:"expiry"`
}

// info serves /info: the CA certificate, the profile's usages and expiry.
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
	info := sel.iss.InfoFor(sel.profile) // usages null when none, as CFSSL
	return &reply{result: infoResult{Certificate: info.CertificatePEM, Usages: info.Usages, Expiry: info.Expiry}}, nil
}
