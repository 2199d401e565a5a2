package keystorepkcs11

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/pkid/pkid/sdk"
)

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// validID reports whether id can be a new key's label.
func validID(id string) bool { return idPattern.MatchString(id) }

// keyRef names a key on the token: by label, by CKA_ID, or both.
type keyRef struct {
	Label    string
	ID       []byte
	HasID    bool
	Token    string // token label from a URI, "" if absent
	Serial   string // token serial from a URI, "" if absent
	original string
}

// parseKeyRef accepts a plain key id (the CKA_LABEL) or an RFC 7512 URI
// with object= and/or id= path attributes (type, if present, must be
// private or public). Errors wrap sdk.ErrInvalidArgument.
func parseKeyRef(s string) (keyRef, error) {
	rest, ok := strings.CutPrefix(s, "pkcs11:")
	if !ok {
		if s == "" {
			return keyRef{}, fmt.Errorf("keystore-pkcs11: empty key id: %w", sdk.ErrInvalidArgument)
		}
		return keyRef{Label: s, original: s}, nil
	}
	ref := keyRef{original: s}
	path, _, _ := strings.Cut(rest, "?") // query attributes (pin-source, module-path) are not used
	for attr := range strings.SplitSeq(path, ";") {
		if attr == "" {
			continue
		}
		name, value, found := strings.Cut(attr, "=")
		if !found {
			return keyRef{}, fmt.Errorf("keystore-pkcs11: malformed pkcs11 URI attribute %q: %w", attr, sdk.ErrInvalidArgument)
		}
		v, err := url.PathUnescape(value)
		if err != nil {
			return keyRef{}, fmt.Errorf("keystore-pkcs11: malformed pkcs11 URI attribute %q: %w", attr, sdk.ErrInvalidArgument)
		}
		switch name {
		case "object":
			ref.Label = v
		case "id":
			ref.ID, ref.HasID = []byte(v), true
		case "token":
			ref.Token = v
		case "serial":
			ref.Serial = v
		case "type":
			if v != "private" && v != "public" {
				return keyRef{}, fmt.Errorf("keystore-pkcs11: pkcs11 URI names a %s object, not a key pair: %w", v, sdk.ErrInvalidArgument)
			}
		}
	}
	if ref.Label == "" && !ref.HasID {
		return keyRef{}, fmt.Errorf("keystore-pkcs11: pkcs11 URI %q has neither object= nor id=: %w", s, sdk.ErrInvalidArgument)
	}
	return ref, nil
}

// keyURI is the RFC 7512 URI of a key's private object.
func keyURI(token, label string, id []byte) string {
	var b strings.Builder
	b.WriteString("pkcs11:")
	if token != "" {
		b.WriteString("token=" + uriEscape([]byte(token), false) + ";")
	}
	b.WriteString("object=" + uriEscape([]byte(label), false))
	if len(id) > 0 {
		b.WriteString(";id=" + uriEscape(id, true))
	}
	b.WriteString(";type=private")
	return b.String()
}

// uriEscape percent-encodes v for a URI path attribute value; all selects
// encoding every byte, as RFC 7512 recommends for id.
func uriEscape(v []byte, all bool) string {
	const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
	var b strings.Builder
	for _, c := range v {
		if !all && strings.IndexByte(unreserved, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
