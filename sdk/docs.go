package sdk

import (
	"context"
	"encoding/json"
	"time"
)

// Doc is a small versioned JSON document that a core feature keeps in the
// shared certstore so that several pkid nodes see one state: ACME accounts,
// orders, authorizations, challenges, nonces and EAB keys. The store does
// not interpret Data.
type Doc struct {
	// Kind groups documents ("acme-account", "acme-order", ...): ASCII
	// letters, digits and '-', at most 64 bytes.
	Kind string
	// ID is unique within Kind: at most 256 bytes, any UTF-8.
	ID string
	// Version is 0 for a document not yet stored. The store sets it: a
	// created document has Version 1, and each update adds 1.
	Version int64
	// Data is the document's JSON body (at most 1 MiB).
	Data json.RawMessage
	// Index holds secondary keys ("jwk:THUMBPRINT", "account:ID") that
	// FindDocs looks up; at most 16 entries of at most 256 bytes each.
	Index []string
	// ExpiresAt, when not zero, lets the store delete the document any
	// time after it; GetDoc and FindDocs never return an expired document.
	ExpiresAt time.Time
	// UpdatedAt is set by the store.
	UpdatedAt time.Time
}

// DocStore is optional for certstores.
//
// PutDoc writes doc with compare-and-swap on Version: Version 0 creates
// (ErrAlreadyExists when Kind/ID is taken by a live document), Version N
// updates only if the stored version is N (ErrFailedPrecondition when it is
// not, ErrNotFound when there is none). It returns the new version. The
// write is durable before PutDoc returns.
//
// GetDoc returns ErrNotFound for a missing or expired document.
//
// DeleteDoc removes the document if its stored version is version (0:
// any version). ErrNotFound when there is none, ErrFailedPrecondition on a
// version mismatch. Deleting is how a single-use token (an ACME nonce) is
// consumed: exactly one of several concurrent deleters succeeds.
//
// FindDocs calls fn for each live document of kind whose Index holds key,
// ordered by ID, at most limit documents (0: no limit); an error from fn
// stops it and is returned.
//
// All methods: ErrInvalidArgument for a kind, id, index or data outside the
// limits above; ErrUnavailable when the backend is unreachable (retryable);
// through the host, ErrUnimplemented when the instance is not a DocStore.
type DocStore interface {
	PutDoc(ctx context.Context, doc *Doc) (int64, error)
	GetDoc(ctx context.Context, kind, id string) (*Doc, error)
	DeleteDoc(ctx context.Context, kind, id string, version int64) error
	FindDocs(ctx context.Context, kind, key string, limit int, fn func(*Doc) error) error
}
