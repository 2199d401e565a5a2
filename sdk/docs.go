package sdk

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Limits of a Doc. A store refuses a document or a lookup outside them with
// ErrInvalidArgument (CheckDoc, CheckDocKey, CheckDocFind check them).
const (
	MaxDocKindLen   = 64      // bytes of Kind
	MaxDocIDLen     = 256     // bytes of ID
	MaxDocDataLen   = 1 << 20 // bytes of Data
	MaxDocIndexKeys = 16      // entries of Index
	MaxDocIndexLen  = 256     // bytes of one Index entry (and of a FindDocs key)
)

// Doc is a small versioned JSON document that a core feature keeps in the
// shared certstore so that several pkid nodes see one state: ACME accounts,
// orders, authorizations, challenges, nonces and EAB keys. The store does
// not interpret Data.
type Doc struct {
	// Kind groups documents ("acme-account", "acme-order", ...): 1 to 64
	// ASCII letters, digits and '-'.
	Kind string
	// ID is unique within Kind: 1 to 256 bytes of UTF-8 without NUL.
	ID string
	// Version is 0 for a document not yet stored. The store sets it: a
	// created document has Version 1, and each update adds 1.
	Version int64
	// Data is the document's JSON body: valid JSON, at most 1 MiB. The
	// store keeps its bytes as given.
	Data json.RawMessage
	// Index holds secondary keys ("jwk:THUMBPRINT", "account:ID") that
	// FindDocs looks up: at most 16 distinct entries of 1 to 256 bytes of
	// UTF-8 without NUL. Order is not kept: the store returns them sorted.
	Index []string
	// ExpiresAt, when not zero, lets the store delete the document any
	// time after it; GetDoc and FindDocs never return an expired document,
	// and for PutDoc and DeleteDoc an expired document does not exist. The
	// store keeps it to the millisecond. It must lie in the years 1970 to
	// 9999; a time already past is allowed (the document is then gone at
	// once).
	ExpiresAt time.Time
	// UpdatedAt is set by the store (to the millisecond or finer).
	UpdatedAt time.Time
}

// DocStore is optional for certstores.
//
// PutDoc writes doc with compare-and-swap on Version: Version 0 creates
// (ErrAlreadyExists when Kind/ID is taken by a live document), Version N
// updates only if the stored version is N (ErrFailedPrecondition when it is
// not, ErrNotFound when there is none). An update replaces Data, Index and
// ExpiresAt. It returns the new version and does not modify doc. The write
// is durable before PutDoc returns. A document created again after its
// predecessor expired or was deleted starts at Version 1 again.
//
// GetDoc returns ErrNotFound for a missing or expired document.
//
// DeleteDoc removes the document if its stored version is version (0:
// any version). ErrNotFound when there is none, ErrFailedPrecondition on a
// version mismatch. Deleting is how a single-use token (an ACME nonce) is
// consumed: exactly one of several concurrent deleters succeeds.
//
// FindDocs calls fn for each live document of kind whose Index holds key,
// ordered by ID (byte order), at most limit documents (0: no limit); an
// error from fn stops it and is returned. fn must not call the store: a
// store may hold a connection or a lock while it streams.
//
// All methods: ErrInvalidArgument for a kind, id, index, data, version or
// limit outside the limits above (negative versions and limits included);
// ErrUnavailable when the backend is unreachable (retryable; for a write,
// its outcome is then unknown: read to find out); through the host,
// ErrUnimplemented when a restarted plugin no longer keeps documents.
//
// The host's view of a certstore is a DocStore exactly when the instance
// is; DocStoreOf turns the type assertion into an error.
type DocStore interface {
	PutDoc(ctx context.Context, doc *Doc) (int64, error)
	GetDoc(ctx context.Context, kind, id string) (*Doc, error)
	DeleteDoc(ctx context.Context, kind, id string, version int64) error
	FindDocs(ctx context.Context, kind, key string, limit int, fn func(*Doc) error) error
}

// DocStoreOf returns inst's DocStore, or an error wrapping ErrUnimplemented
// when inst keeps no documents (a certstore without the capability, in
// process or through the host). Core features that need documents call it
// once, when they are configured.
func DocStoreOf(inst Instance) (DocStore, error) {
	ds, ok := inst.(DocStore)
	if !ok {
		return nil, fmt.Errorf("the certstore keeps no documents (its plugin has no sdk.DocStore): %w", ErrUnimplemented)
	}
	return ds, nil
}
