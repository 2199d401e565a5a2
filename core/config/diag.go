package config

import (
	"io"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics renders diags to w as text 100 columns wide, each with
// file:line:col and a snippet of the source when it is in c.Files. c may be
// nil (nothing loaded), in which case only summaries and details are shown.
// The error is w's.
func (c *Config) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	var files map[string]*hcl.File
	if c != nil {
		files = c.Files
	}
	return hcl.NewDiagnosticTextWriter(w, files, 100, false).WriteDiagnostics(diags)
}
