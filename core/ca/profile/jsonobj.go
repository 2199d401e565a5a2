package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// member is one key/value pair of a JSON object, in document order.
type member struct {
	key string
	val json.RawMessage
}

// errNotObject reports a JSON value that should have been an object.
var errNotObject = errors.New("must be a JSON object")

// isNull reports whether raw is absent or the JSON literal null.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// members decodes a JSON object into its members in document order. A
// null value yields no members and no error; any other non-object value
// yields errNotObject.
func members(raw json.RawMessage) ([]member, error) {
	if isNull(raw) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errNotObject
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{key: key, val: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	return out, nil
}

// fieldSet holds the known keys of one JSON object, matched
// case-insensitively like encoding/json (the last duplicate wins), with
// null values treated as absent.
type fieldSet struct {
	vals map[string]json.RawMessage
	// order lists the known keys present, in document order.
	order []string
	// unknown lists keys that match no known name, in document order.
	unknown []string
}

// matchFields sorts ms into known (by their canonical spelling in known)
// and unknown keys.
func matchFields(ms []member, known []string) fieldSet {
	fs := fieldSet{vals: map[string]json.RawMessage{}}
	for _, m := range ms {
		name := ""
		for _, k := range known {
			if strings.EqualFold(m.key, k) {
				name = k
				break
			}
		}
		if name == "" {
			fs.unknown = append(fs.unknown, m.key)
			continue
		}
		if isNull(m.val) {
			continue
		}
		if _, seen := fs.vals[name]; !seen {
			fs.order = append(fs.order, name)
		}
		fs.vals[name] = m.val
	}
	return fs
}

// has reports whether key is present with a non-null value.
func (fs fieldSet) has(key string) bool {
	_, ok := fs.vals[key]
	return ok
}
