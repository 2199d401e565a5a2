package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// Top-level and "signing" keys of a CFSSL signing configuration.
var (
	topKeys     = []string{"signing", "auth_keys", "remotes", "ocsp"}
	signingKeys = []string{"default", "profiles"}
)

// IsCFSSLConfig reports whether data is a CFSSL JSON signing configuration:
// a valid JSON object with a "signing" key (matched case-insensitively).
// It never fails; anything else (HCL, HCL JSON, garbage) is false.
func IsCFSSLConfig(data []byte) bool {
	data = bytes.TrimPrefix(data, utf8BOM)
	if !json.Valid(data) {
		return false
	}
	ms, err := members(data)
	if err != nil {
		return false
	}
	for _, m := range ms {
		if strings.EqualFold(m.key, "signing") {
			return true
		}
	}
	return false
}

// ParseCFSSL parses a CFSSL signing configuration (config.json) into a
// resolved, validated Config.
//
// Keys match case-insensitively as with encoding/json. A missing
// signing.default yields the built-in default profile (BuiltinDefault).
// Profiles inherit issuer_urls, ocsp_url and crl_url from the default
// when they leave them unset. Unknown keys, unknown usage names,
// unanchored name_whitelist patterns and settings ignored by forwarding
// profiles become Config.Warnings.
//
// Errors: invalid JSON; no "signing" field (`No "signing" field present`);
// values of the wrong type; unparsable durations, times, regexps or OIDs;
// lint_error_level not a known level name; auth keys that are not
// "standard", not hex, or whose env:/file: source is empty or unreadable;
// and CFSSL's validation failures (missing expiry on a local profile,
// no recognised usage on a named local profile, undefined remotes or auth
// keys, remote with auth_remote). Every problem found is reported: the
// error joins one *ConfigError (matching ErrInvalidConfig) per line.
func ParseCFSSL(data []byte) (*Config, error) {
	data = bytes.TrimPrefix(data, utf8BOM)
	if err := syntaxCheck(data); err != nil {
		return nil, err
	}
	l := &loader{}
	ms, err := members(data)
	if err != nil {
		return nil, &ConfigError{Msg: "must be a JSON object"}
	}
	top := matchFields(ms, topKeys)
	for _, u := range top.unknown {
		l.warn("", "", "unknown key %q ignored", u)
	}
	if !top.has("signing") {
		return nil, &ConfigError{Msg: `No "signing" field present`}
	}
	cfg := &Config{
		Profiles: map[string]*Profile{},
		AuthKeys: map[string]AuthKey{},
		Remotes:  map[string][]string{},
	}
	if raw, ok := top.vals["auth_keys"]; ok {
		cfg.AuthKeys = l.authKeys(raw)
	}
	if raw, ok := top.vals["remotes"]; ok {
		cfg.Remotes = l.remotes(raw)
	}
	if top.has("ocsp") {
		l.warn("", "", `"ocsp" section not imported: configure the OCSP responder in pkid's own configuration`)
	}
	l.signing(cfg, top.vals["signing"])
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
	}
	cfg.Warnings = l.warns
	return cfg, nil
}

// signing decodes the "signing" object into cfg's profiles and validates
// them.
func (l *loader) signing(cfg *Config, raw json.RawMessage) {
	fs, ok := l.object("", "signing", raw, signingKeys)
	if !ok {
		return
	}
	var def *pending
	if r, ok := fs.vals["default"]; ok {
		def = l.profile("default", "default profile", r)
	} else {
		def = &pending{p: BuiltinDefault(), where: "default profile"}
	}
	var named []*pending
	if r, ok := fs.vals["profiles"]; ok {
		ms, err := members(r)
		if err != nil {
			l.fail("", "signing.profiles", "must be a JSON object of profiles")
		}
		byName := map[string]int{}
		for _, m := range ms {
			pd := l.profile(m.key, fmt.Sprintf("profile %q", m.key), m.val)
			if i, dup := byName[m.key]; dup {
				l.warn(fmt.Sprintf("profile %q", m.key), "", "defined twice; the last definition wins")
				named[i] = pd
				continue
			}
			byName[m.key] = len(named)
			named = append(named, pd)
		}
	}
	if def == nil {
		return
	}
	l.validate(cfg, def, true)
	cfg.Default = def.p
	for _, pd := range named {
		if pd == nil {
			continue
		}
		inheritURLs(pd.p, def.p)
		l.validate(cfg, pd, false)
		cfg.Profiles[pd.p.Name] = pd.p
	}
}

// syntaxCheck reports invalid JSON with its line and column.
func syntaxCheck(data []byte) error {
	if json.Valid(data) {
		return nil
	}
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset counts the bytes read, the offending one included.
		line, col := lineCol(data, se.Offset-1)
		return &ConfigError{Msg: fmt.Sprintf("invalid JSON at line %d, column %d: %s", line, col, se.Error())}
	}
	if err == nil {
		err = errors.New("unexpected data")
	}
	return &ConfigError{Msg: "invalid JSON: " + err.Error()}
}

// lineCol turns a byte offset into a 1-based line and column.
func lineCol(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}
