package keystorefile

import (
	"bytes"
	"fmt"
	"math"
	"os"

	"github.com/pkid/pkid/sdk"
)

const (
	defaultWorkFactor = 18
	minWorkFactor     = 10
	maxWorkFactor     = 22 // age's default maximum when decrypting
)

// rawConfig is the block as the core sends it; absent optional attributes
// arrive as JSON null.
type rawConfig struct {
	Dir            *string  `json:"dir"`
	Passphrase     *string  `json:"passphrase"`
	PassphraseFile *string  `json:"passphrase_file"`
	KDFWorkFactor  *float64 `json:"kdf_work_factor"`
	Insecure       *bool    `json:"insecure_permissions"`
}

// config is a validated configuration.
type config struct {
	Dir            string
	Passphrase     string
	PassphraseFile string
	WorkFactor     int
	// Insecure lets a group- or world-accessible passphrase_file or key
	// directory through (pkid serve -dev, which warns instead).
	Insecure bool
}

func decodeConfig(cfg sdk.Config) (*config, sdk.Diagnostics) {
	var raw rawConfig
	if err := cfg.Decode(&raw); err != nil {
		return nil, sdk.Errorf(nil, "invalid keystore configuration", err.Error())
	}
	var diags sdk.Diagnostics
	c := &config{WorkFactor: defaultWorkFactor}

	if raw.Dir == nil || *raw.Dir == "" {
		diags = append(diags, sdk.Errorf([]string{"dir"}, "missing key directory", `"dir" must name the directory holding the key files`)...)
	} else {
		c.Dir = *raw.Dir
	}

	switch {
	case raw.Passphrase != nil && raw.PassphraseFile != nil:
		diags = append(diags, sdk.Errorf([]string{"passphrase_file"}, "conflicting passphrase options", `set only one of "passphrase" and "passphrase_file"`)...)
	case raw.Passphrase == nil && raw.PassphraseFile == nil:
		diags = append(diags, sdk.Errorf([]string{"passphrase"}, "missing passphrase", `set one of "passphrase" and "passphrase_file"`)...)
	case raw.Passphrase != nil && *raw.Passphrase == "":
		diags = append(diags, sdk.Errorf([]string{"passphrase"}, "empty passphrase", "the passphrase must not be empty")...)
	case raw.PassphraseFile != nil && *raw.PassphraseFile == "":
		diags = append(diags, sdk.Errorf([]string{"passphrase_file"}, "empty passphrase file name", `"passphrase_file" must name a file`)...)
	case raw.Passphrase != nil:
		c.Passphrase = *raw.Passphrase
	default:
		c.PassphraseFile = *raw.PassphraseFile
	}

	if wf := raw.KDFWorkFactor; wf != nil {
		if *wf != math.Trunc(*wf) || *wf < minWorkFactor || *wf > maxWorkFactor {
			diags = append(diags, sdk.Errorf([]string{"kdf_work_factor"}, "invalid scrypt work factor",
				fmt.Sprintf("kdf_work_factor must be an integer from %d to %d, not %v", minWorkFactor, maxWorkFactor, *wf))...)
		} else {
			c.WorkFactor = int(*wf)
			if c.WorkFactor < defaultWorkFactor {
				diags = append(diags, sdk.Diagnostic{Severity: sdk.SeverityWarning, Path: []string{"kdf_work_factor"},
					Summary: "weak scrypt work factor",
					Detail:  fmt.Sprintf("kdf_work_factor %d is below the default %d; lower it only for tests", c.WorkFactor, defaultWorkFactor)})
			}
		}
	}
	if raw.Insecure != nil {
		c.Insecure = *raw.Insecure
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return c, diags
}

// readPassphrase returns the configured passphrase, reading passphrase_file
// if that is how it was given. Its errors never contain the passphrase.
func (c *config) readPassphrase() (string, error) {
	if c.PassphraseFile == "" {
		return c.Passphrase, nil
	}
	b, err := os.ReadFile(c.PassphraseFile)
	if err != nil {
		return "", fmt.Errorf("keystore-file: reading passphrase_file: %w", err)
	}
	// Editors and `echo` add a newline that is not part of the passphrase.
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return "", fmt.Errorf("keystore-file: passphrase_file %q is empty: %w", c.PassphraseFile, sdk.ErrInvalidArgument)
	}
	return string(b), nil
}
