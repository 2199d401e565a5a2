package profile

import (
	"errors"
	"strings"
)

// ErrUnknownProfile is wrapped by Lookup when a non-empty profile name is
// not configured (CFSSL code 5400; never silently the default:
// docs/differences-from-cfssl.md, "Unknown profiles are errors").
var ErrUnknownProfile = errors.New("unknown profile")

// ErrInvalidConfig matches every *ConfigError with errors.Is, so callers
// can tell a bad signing configuration (CFSSL code 5200) from I/O errors.
var ErrInvalidConfig = errors.New("invalid signing config")

// ConfigError is one problem in a signing configuration. ParseCFSSL
// returns all problems it found joined with errors.Join, one per line.
type ConfigError struct {
	// Where names the section: "default profile", `profile "www"`,
	// `auth key "k"`, `remote "r"`; empty for the top level.
	Where string
	// Key is the offending key, empty when the problem is the section.
	Key string
	Msg string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("signing config: ")
	if e.Where != "" {
		b.WriteString(e.Where + ": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is reports whether target is ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }
