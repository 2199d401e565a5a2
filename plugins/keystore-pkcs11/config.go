package keystorepkcs11

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"

	"github.com/pkid/pkid/sdk"
)

const maxSessionsLimit = 1024

// rawConfig is the block as the core sends it; absent optional attributes
// arrive as JSON null.
type rawConfig struct {
	Module          *string   `json:"module"`
	TokenLabel      *string   `json:"token_label"`
	TokenSerial     *string   `json:"token_serial"`
	Slot            *float64  `json:"slot"`
	PIN             *string   `json:"pin"`
	PINEnv          *string   `json:"pin_env"`
	PINFile         *string   `json:"pin_file"`
	AllowLiteralPIN *bool     `json:"allow_literal_pin"`
	MaxSessions     *float64  `json:"max_sessions"`
	Algorithms      *[]string `json:"algorithms"`
}

// config is a validated configuration.
type config struct {
	Module      string
	Token       tokenSpec
	PIN         string // literal PIN (allow_literal_pin)
	PINEnv      string
	PINFile     string
	MaxSessions int
	Algorithms  []string
}

// tokenSpec selects a token: exactly one field is set.
type tokenSpec struct {
	Label   string
	Serial  string
	Slot    uint
	BySlot  bool
	display string // for messages: `token "pkid"`, `slot 3`
}

func (t tokenSpec) String() string { return t.display }

var knownAlgorithms = []string{sdk.AlgRSA2048, sdk.AlgRSA3072, sdk.AlgRSA4096,
	sdk.AlgECDSAP256, sdk.AlgECDSAP384, sdk.AlgECDSAP521, sdk.AlgEd25519}

func decodeConfig(cfg sdk.Config) (*config, sdk.Diagnostics) {
	var raw rawConfig
	if err := cfg.Decode(&raw); err != nil {
		return nil, sdk.Errorf(nil, "invalid keystore configuration", err.Error())
	}
	var diags sdk.Diagnostics
	add := func(path, summary, detail string) {
		diags = append(diags, sdk.Errorf([]string{path}, summary, detail)...)
	}
	c := &config{MaxSessions: 2 * runtime.GOMAXPROCS(0)}

	if raw.Module == nil || *raw.Module == "" {
		add("module", "missing PKCS#11 module", `"module" must name the PKCS#11 shared library`)
	} else {
		c.Module = *raw.Module
	}

	n := 0
	if raw.TokenLabel != nil {
		n++
		c.Token = tokenSpec{Label: *raw.TokenLabel, display: fmt.Sprintf("token %q", *raw.TokenLabel)}
		if *raw.TokenLabel == "" {
			add("token_label", "empty token label", `"token_label" must not be empty`)
		}
	}
	if raw.TokenSerial != nil {
		n++
		c.Token = tokenSpec{Serial: *raw.TokenSerial, display: fmt.Sprintf("token with serial %q", *raw.TokenSerial)}
		if *raw.TokenSerial == "" {
			add("token_serial", "empty token serial", `"token_serial" must not be empty`)
		}
	}
	if raw.Slot != nil {
		n++
		s := *raw.Slot
		if s != math.Trunc(s) || s < 0 || s > math.MaxUint32 {
			add("slot", "invalid slot", fmt.Sprintf("slot must be a non-negative integer, not %v", s))
		}
		c.Token = tokenSpec{Slot: uint(s), BySlot: true, display: fmt.Sprintf("slot %d", uint(s))}
	}
	switch {
	case n == 0:
		add("token_label", "missing token", `set one of "token_label", "token_serial" and "slot"`)
	case n > 1:
		add("token_label", "conflicting token options", `set only one of "token_label", "token_serial" and "slot"`)
	}

	diags = append(diags, c.decodePIN(&raw, slices.Contains(cfg.LiteralSecrets, "pin"))...)

	if m := raw.MaxSessions; m != nil {
		if *m != math.Trunc(*m) || *m < 1 || *m > maxSessionsLimit {
			add("max_sessions", "invalid max_sessions", fmt.Sprintf("max_sessions must be an integer from 1 to %d, not %v", maxSessionsLimit, *m))
		} else {
			c.MaxSessions = int(*m)
		}
	}
	if raw.Algorithms != nil {
		for _, a := range *raw.Algorithms {
			if !slices.Contains(knownAlgorithms, a) {
				add("algorithms", "unknown key algorithm", fmt.Sprintf("%q is not one of %q", a, knownAlgorithms))
			}
		}
		c.Algorithms = *raw.Algorithms
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return c, diags
}

// decodePIN accepts exactly one PIN source. literal says the core saw the
// pin written as a literal in the configuration file (not env() or file()).
func (c *config) decodePIN(raw *rawConfig, literal bool) sdk.Diagnostics {
	n := 0
	for _, p := range []*string{raw.PIN, raw.PINEnv, raw.PINFile} {
		if p != nil {
			n++
		}
	}
	switch {
	case n == 0:
		return sdk.Errorf([]string{"pin_file"}, "missing PIN", `set one of "pin_file", "pin_env" and "pin"`)
	case n > 1:
		return sdk.Errorf([]string{"pin_file"}, "conflicting PIN options", `set only one of "pin_file", "pin_env" and "pin"`)
	case raw.PIN != nil:
		if literal && (raw.AllowLiteralPIN == nil || !*raw.AllowLiteralPIN) {
			return sdk.Errorf([]string{"pin"}, "literal PIN not allowed",
				`a PIN written in the configuration file leaks with it: use pin = env("PKID_HSM_PIN"), pin = file("..."), "pin_file" or "pin_env", or set allow_literal_pin = true`)
		}
		if *raw.PIN == "" {
			return sdk.Errorf([]string{"pin"}, "empty PIN", "the PIN must not be empty")
		}
		c.PIN = *raw.PIN
	case raw.PINEnv != nil:
		if *raw.PINEnv == "" {
			return sdk.Errorf([]string{"pin_env"}, "empty variable name", `"pin_env" must name an environment variable`)
		}
		c.PINEnv = *raw.PINEnv
	default:
		if *raw.PINFile == "" {
			return sdk.Errorf([]string{"pin_file"}, "empty PIN file name", `"pin_file" must name a file`)
		}
		c.PINFile = *raw.PINFile
	}
	return nil
}

// checkEnvironment reports a missing module file, PIN file or PIN variable
// without loading anything.
func (c *config) checkEnvironment() sdk.Diagnostics {
	var diags sdk.Diagnostics
	if _, err := os.Stat(c.Module); err != nil {
		diags = append(diags, sdk.Errorf([]string{"module"}, "cannot load PKCS#11 module",
			fmt.Sprintf("keystore-pkcs11: cannot load module %q: %v", c.Module, err))...)
	}
	if _, err := c.readPIN(); err != nil {
		path := "pin_file"
		if c.PINEnv != "" {
			path = "pin_env"
		}
		diags = append(diags, sdk.Errorf([]string{path}, "PIN not available", err.Error())...)
	}
	return diags
}

// readPIN returns the configured PIN. Its errors never contain the PIN and
// wrap sdk.ErrInvalidArgument for an unset variable or empty file.
func (c *config) readPIN() (string, error) {
	switch {
	case c.PINEnv != "":
		v, ok := os.LookupEnv(c.PINEnv)
		if !ok || v == "" {
			return "", fmt.Errorf("keystore-pkcs11: environment variable %s (pin_env) is not set in the plugin process; out-of-process plugins see only allow-listed variables: %w", c.PINEnv, sdk.ErrInvalidArgument)
		}
		return v, nil
	case c.PINFile != "":
		b, err := os.ReadFile(c.PINFile)
		if err != nil {
			return "", fmt.Errorf("keystore-pkcs11: reading pin_file: %w", err)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		if len(b) == 0 {
			return "", fmt.Errorf("keystore-pkcs11: pin_file %q is empty: %w", c.PINFile, sdk.ErrInvalidArgument)
		}
		return string(b), nil
	}
	return c.PIN, nil
}
