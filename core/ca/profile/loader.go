package profile

import (
	"encoding/json"
	"fmt"
	"strings"
)

// loader accumulates the errors and warnings of one configuration load,
// so a single run reports every problem.
type loader struct {
	errs  []error
	warns []string
	// declared auth key and remote names, including those that failed to
	// load (so references to them do not add a second error).
	authKeyNames, remoteNames map[string]bool
}

// fail records a *ConfigError.
func (l *loader) fail(where, key, format string, a ...any) {
	l.errs = append(l.errs, &ConfigError{Where: where, Key: key, Msg: fmt.Sprintf(format, a...)})
}

// warn records a warning line "where: key: message".
func (l *loader) warn(where, key, format string, a ...any) {
	parts := make([]string, 0, 3)
	if where != "" {
		parts = append(parts, where)
	}
	if key != "" {
		parts = append(parts, key)
	}
	parts = append(parts, fmt.Sprintf(format, a...))
	l.warns = append(l.warns, strings.Join(parts, ": "))
}

// object decodes raw (the value of key in where) as a JSON object whose
// keys are matched against known; unknown keys are warned about. It
// reports false, after recording an error, when raw is not an object.
func (l *loader) object(where, key string, raw json.RawMessage, known []string) (fieldSet, bool) {
	ms, err := members(raw)
	if err != nil {
		l.fail(where, key, "must be a JSON object")
		return fieldSet{}, false
	}
	fs := matchFields(ms, known)
	for _, u := range fs.unknown {
		k := u
		if key != "" {
			k = key + "." + u
		}
		l.warn(where, "", "unknown key %q ignored", k)
	}
	return fs, true
}

// decode unmarshals the value of key into dst, recording "must be <what>"
// on a type mismatch. It reports whether the key was present and valid.
func (l *loader) decode(where string, fs fieldSet, key string, dst any, what string) bool {
	raw, ok := fs.vals[key]
	if !ok {
		return false
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		l.fail(where, key, "must be %s", what)
		return false
	}
	return true
}

func (l *loader) str(where string, fs fieldSet, key string) (string, bool) {
	var s string
	ok := l.decode(where, fs, key, &s, "a string")
	return s, ok
}

func (l *loader) strs(where string, fs fieldSet, key string) ([]string, bool) {
	var s []string
	ok := l.decode(where, fs, key, &s, "an array of strings")
	if ok && s == nil {
		s = []string{}
	}
	return s, ok
}

func (l *loader) boolean(where string, fs fieldSet, key string) (bool, bool) {
	var b bool
	ok := l.decode(where, fs, key, &b, "true or false")
	return b, ok
}

func (l *loader) integer(where string, fs fieldSet, key string) (int, bool) {
	var n int
	ok := l.decode(where, fs, key, &n, "an integer")
	return n, ok
}
