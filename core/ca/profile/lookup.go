package profile

import (
	"errors"
	"fmt"
)

// Lookup returns the profile called name. "" (and "default", unless a
// profile of that name is configured) is the default profile. Any other
// unconfigured name is an error wrapping ErrUnknownProfile (CFSSL code
// 5400): pkid never falls back to the default silently
// (docs/differences-from-cfssl.md, "Unknown profiles are errors"). A config
// without a default profile fails for "" as well.
func (c *Config) Lookup(name string) (*Profile, error) {
	if c == nil {
		return nil, errors.New("profile: no signing configuration")
	}
	if p, ok := c.Profiles[name]; ok && name != "" {
		return p, nil
	}
	if name == "" || name == "default" {
		if c.Default == nil {
			return nil, fmt.Errorf("%w: no default profile configured", ErrUnknownProfile)
		}
		return c.Default, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownProfile, name)
}
