package sdk

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// The range of a Doc's ExpiresAt: what every backend's time type and the
// wire's timestamp hold.
var (
	minDocExpiry = time.Unix(0, 0)
	maxDocExpiry = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// CheckDoc checks doc against the limits of Doc (PutDoc's arguments):
// errors wrap ErrInvalidArgument. Stores call it before touching their
// backend.
func CheckDoc(doc *Doc) error {
	if doc == nil {
		return fmt.Errorf("doc: no document: %w", ErrInvalidArgument)
	}
	if err := CheckDocKey(doc.Kind, doc.ID); err != nil {
		return err
	}
	if doc.Version < 0 {
		return fmt.Errorf("doc %s/%q: negative version %d: %w", doc.Kind, doc.ID, doc.Version, ErrInvalidArgument)
	}
	if len(doc.Data) > MaxDocDataLen {
		return fmt.Errorf("doc %s/%q: data is %d bytes, more than %d: %w", doc.Kind, doc.ID, len(doc.Data), MaxDocDataLen, ErrInvalidArgument)
	}
	if !json.Valid(doc.Data) {
		return fmt.Errorf("doc %s/%q: data is not JSON: %w", doc.Kind, doc.ID, ErrInvalidArgument)
	}
	if !doc.ExpiresAt.IsZero() && (doc.ExpiresAt.Before(minDocExpiry) || !doc.ExpiresAt.Before(maxDocExpiry)) {
		return fmt.Errorf("doc %s/%q: expiry %v outside 1970 to 9999: %w", doc.Kind, doc.ID, doc.ExpiresAt, ErrInvalidArgument)
	}
	if len(doc.Index) > MaxDocIndexKeys {
		return fmt.Errorf("doc %s/%q: %d index entries, more than %d: %w", doc.Kind, doc.ID, len(doc.Index), MaxDocIndexKeys, ErrInvalidArgument)
	}
	for i, k := range doc.Index {
		if err := checkDocText("index entry", k, MaxDocIndexLen); err != nil {
			return fmt.Errorf("doc %s/%q: %w", doc.Kind, doc.ID, err)
		}
		for _, o := range doc.Index[:i] {
			if o == k {
				return fmt.Errorf("doc %s/%q: index entry %q twice: %w", doc.Kind, doc.ID, k, ErrInvalidArgument)
			}
		}
	}
	return nil
}

// CheckDocKey checks a kind and an id (GetDoc's and DeleteDoc's
// arguments): errors wrap ErrInvalidArgument.
func CheckDocKey(kind, id string) error {
	if err := CheckDocKind(kind); err != nil {
		return err
	}
	if err := checkDocText("id", id, MaxDocIDLen); err != nil {
		return fmt.Errorf("doc %s: %w", kind, err)
	}
	return nil
}

// CheckDocFind checks FindDocs's arguments: errors wrap ErrInvalidArgument.
func CheckDocFind(kind, key string, limit int) error {
	if err := CheckDocKind(kind); err != nil {
		return err
	}
	if err := checkDocText("index key", key, MaxDocIndexLen); err != nil {
		return fmt.Errorf("doc %s: %w", kind, err)
	}
	if limit < 0 {
		return fmt.Errorf("doc %s: negative limit %d: %w", kind, limit, ErrInvalidArgument)
	}
	return nil
}

// CheckDocKind checks a Doc kind: errors wrap ErrInvalidArgument.
func CheckDocKind(kind string) error {
	if kind == "" || len(kind) > MaxDocKindLen {
		return fmt.Errorf("doc kind %q: want 1 to %d bytes: %w", kind, MaxDocKindLen, ErrInvalidArgument)
	}
	for _, c := range []byte(kind) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("doc kind %q: only ASCII letters, digits and '-': %w", kind, ErrInvalidArgument)
		}
	}
	return nil
}

// checkDocText checks an id or index entry: 1 to max bytes of UTF-8
// without NUL (which PostgreSQL's text cannot hold).
func checkDocText(what, s string, max int) error {
	switch {
	case s == "" || len(s) > max:
		return fmt.Errorf("%s of %d bytes: want 1 to %d: %w", what, len(s), max, ErrInvalidArgument)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s %q: not UTF-8: %w", what, s, ErrInvalidArgument)
	case strings.IndexByte(s, 0) >= 0:
		return fmt.Errorf("%s %q: contains NUL: %w", what, s, ErrInvalidArgument)
	}
	return nil
}
