package profile

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

var authKeyFields = []string{"type", "key"}

// authKeys decodes the auth_keys section: {name: {"type": "standard",
// "key": value}}, value as for resolveAuthKey. Key material never appears
// in errors or warnings.
func (l *loader) authKeys(raw json.RawMessage) map[string]AuthKey {
	out := map[string]AuthKey{}
	ms, err := members(raw)
	if err != nil {
		l.fail("", "auth_keys", "must be a JSON object of named keys")
		return out
	}
	l.authKeyNames = map[string]bool{}
	for _, m := range ms {
		l.authKeyNames[m.key] = true
		where := fmt.Sprintf("auth key %q", m.key)
		fs, ok := l.object(where, "", m.val, authKeyFields)
		if !ok {
			continue
		}
		typ, _ := l.str(where, fs, "type")
		if !strings.EqualFold(typ, "standard") {
			l.fail(where, "type", "%q is not supported (only \"standard\")", typ)
			continue
		}
		v, ok := l.str(where, fs, "key")
		if !ok {
			if !fs.has("key") {
				l.fail(where, "key", "missing")
			}
			continue
		}
		key, err := resolveAuthKey(v)
		if err != nil {
			l.fail(where, "key", "%v", err)
			continue
		}
		out[m.key] = AuthKey{Type: "standard", Key: key}
	}
	return out
}

// resolveAuthKey decodes an auth key value as CFSSL does: hex (any case),
// "env:NAME" (hex in that environment variable) or "file:PATH" (hex in the
// file). Surrounding whitespace is trimmed. Errors: unknown prefix, unset
// or empty variable, unreadable file, invalid hex, empty key; they never
// include the key material.
func resolveAuthKey(v string) ([]byte, error) {
	src := "value"
	if prefix, rest, ok := strings.Cut(v, ":"); ok {
		switch prefix {
		case "env":
			v = os.Getenv(rest)
			if strings.TrimSpace(v) == "" {
				return nil, fmt.Errorf("environment variable %q is unset or empty", rest)
			}
			src = fmt.Sprintf("environment variable %q", rest)
		case "file":
			data, err := os.ReadFile(rest)
			if err != nil {
				var pe *os.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return nil, fmt.Errorf("reading key file %q: %v", rest, err)
			}
			v = string(data)
			src = fmt.Sprintf("file %q", rest)
		default:
			return nil, fmt.Errorf("unknown key source %q (want hex, env:NAME or file:PATH)", prefix+":")
		}
	}
	v = strings.TrimSpace(v)
	key, err := hex.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("%s is not valid hex", src)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%s is empty", src)
	}
	return key, nil
}

// remotes decodes the remotes section: {name: "host:port[,host:port…]"}
// into ordered failover lists (items trimmed, empty items dropped).
func (l *loader) remotes(raw json.RawMessage) map[string][]string {
	out := map[string][]string{}
	ms, err := members(raw)
	if err != nil {
		l.fail("", "remotes", "must be a JSON object of named servers")
		return out
	}
	l.remoteNames = map[string]bool{}
	for _, m := range ms {
		l.remoteNames[m.key] = true
		where := fmt.Sprintf("remote %q", m.key)
		var s string
		if err := json.Unmarshal(m.val, &s); err != nil {
			l.fail(where, "", `must be a string "host:port[,host:port...]"`)
			continue
		}
		var hosts []string
		for h := range strings.SplitSeq(s, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hosts = append(hosts, h)
			}
		}
		if len(hosts) == 0 {
			l.fail(where, "", "no server given")
			continue
		}
		out[m.key] = hosts
	}
	return out
}

// ResolveAuthKey reads a key reference ("env:NAME", "file:PATH" or hex)
// as CFSSL's auth_keys values are read; pkid HCL's remote_auth_key takes
// only the first two. Errors never include the key material.
func ResolveAuthKey(v string) ([]byte, error) { return resolveAuthKey(v) }
