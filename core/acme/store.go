package acme

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pkid/pkid/core/groupcommit"
	"github.com/pkid/pkid/sdk"
)

// Document kinds in the DocStore. Every piece of ACME state is one of
// these, so several daemon nodes on one store serve one ACME state.
const (
	KindNonce = "acme-nonce" // a used nonce
	// KindNonceKey holds the HMAC key of nonces.
	KindNonceKey = "acme-nonce-key"
	KindAccount  = "acme-account"
	KindOrder    = "acme-order"
	KindAuthz    = "acme-authz"
	KindCert     = "acme-cert"
	KindEAB      = "acme-eab"
	KindRate     = "acme-rate"
	// KindKey claims an account key for one account of a directory (ID
	// accountID(dir, thumbprint)): created once, by compare-and-swap, so
	// a key is never two accounts' however newAccount and keyChange race.
	KindKey = "acme-key"
)

// Resource statuses (RFC 8555 section 7.1.6).
const (
	StatusPending     = "pending"
	StatusProcessing  = "processing"
	StatusReady       = "ready"
	StatusValid       = "valid"
	StatusInvalid     = "invalid"
	StatusDeactivated = "deactivated"
	StatusRevoked     = "revoked"
	StatusExpired     = "expired"
)

// Identifier is an ACME identifier.
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Account is an acme-account document.
type Account struct {
	ID      string          `json:"id"`
	Dir     string          `json:"dir"` // "CA/PROFILE": accounts belong to one directory
	Status  string          `json:"status"`
	Contact []string        `json:"contact,omitempty"`
	Key     json.RawMessage `json:"key"` // the JWK
	// Thumbprint is base64url of the key's RFC 7638 SHA-256 thumbprint.
	Thumbprint string    `json:"thumbprint"`
	EAB        string    `json:"eab,omitempty"` // the EAB key id it was bound with
	CreatedAt  time.Time `json:"createdAt"`
}

// Order is an acme-order document.
type Order struct {
	ID          string       `json:"id"`
	Dir         string       `json:"dir"`
	Account     string       `json:"account"`
	Status      string       `json:"status"` // pending, processing, valid, invalid (ready is derived)
	Identifiers []Identifier `json:"identifiers"`
	Authzs      []string     `json:"authorizations"`
	Expires     time.Time    `json:"expires"`
	NotBefore   time.Time    `json:"notBefore,omitzero"`
	NotAfter    time.Time    `json:"notAfter,omitzero"`
	Error       *problem     `json:"error,omitempty"`
	Cert        string       `json:"cert,omitempty"` // acme-cert ID
	Replaces    string       `json:"replaces,omitempty"`
	CreatedAt   time.Time    `json:"createdAt"`
	// Processing is when a finalize took the order to processing.
	Processing time.Time `json:"processing,omitzero"`
}

// Challenge is one challenge inside an authorization document: the authz
// is the unit of compare-and-swap, so one node owns a validation.
type Challenge struct {
	Type      string    `json:"type"`
	Token     string    `json:"token"`
	Status    string    `json:"status"`
	Validated time.Time `json:"validated,omitzero"`
	Error     *problem  `json:"error,omitempty"`
	// Owner and Started record the node validating it; another node
	// takes over a validation whose owner has been silent too long.
	Owner   string    `json:"owner,omitempty"`
	Started time.Time `json:"started,omitzero"`
	// Views is what each perspective saw (operators' record).
	Views json.RawMessage `json:"views,omitempty"`
}

// Authz is an acme-authz document.
type Authz struct {
	ID         string      `json:"id"`
	Dir        string      `json:"dir"`
	Account    string      `json:"account"`
	Order      string      `json:"order"`
	Identifier Identifier  `json:"identifier"`
	Wildcard   bool        `json:"wildcard,omitempty"`
	Status     string      `json:"status"`
	Expires    time.Time   `json:"expires"`
	Challenges []Challenge `json:"challenges"`
}

// Cert is an acme-cert document: an issued certificate and its chains.
type Cert struct {
	ID      string   `json:"id"` // serial, hex
	Account string   `json:"account"`
	Order   string   `json:"order"`
	Serial  string   `json:"serial"` // decimal, as the certstore keeps it
	AKI     string   `json:"aki"`
	Label   string   `json:"label"`
	Chains  []string `json:"chains"` // PEM, the default first
	// Replaced is set when a later order replaced it (RFC 9773).
	Replaced string `json:"replaced,omitempty"`
}

// keyClaim is an acme-key document.
type keyClaim struct {
	Account string `json:"account"`
}

// EABKey is an acme-eab document: an external account binding key.
type EABKey struct {
	ID        string    `json:"id"`
	Key       []byte    `json:"key,omitempty"` // HMAC-SHA256 key; never listed
	Dir       string    `json:"dir,omitempty"`
	Note      string    `json:"note,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	Revoked   bool      `json:"revoked,omitempty"`
	Account   string    `json:"account,omitempty"` // bound to (once)
}

// docs is the typed view of the DocStore.
type docs struct{ s sdk.DocStore }

// get reads a document of kind into v and returns its version.
func (d docs) get(ctx context.Context, kind, id string, v any) (int64, error) {
	doc, err := d.s.GetDoc(ctx, kind, id)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(doc.Data, v); err != nil {
		return 0, fmt.Errorf("acme: %s %q: %w", kind, id, err)
	}
	return doc.Version, nil
}

// put writes v with compare-and-swap on version (0 creates).
func (d docs) put(ctx context.Context, kind, id string, version int64, v any, index []string, expires time.Time) (int64, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return 0, fmt.Errorf("acme: %w", err)
	}
	return d.s.PutDoc(ctx, &sdk.Doc{Kind: kind, ID: id, Version: version, Data: data, Index: index, ExpiresAt: expires})
}

// maxCASRetries bounds read-modify-write loops that lose races.
const maxCASRetries = 8

// update reads kind/id, calls fn on it, and writes the result with
// compare-and-swap, retrying when another node wrote in between. A nil
// index keeps the stored one. fn returning errSkip leaves the document as
// it is.
func update[T any](ctx context.Context, d docs, kind, id string, index []string, expires func(*T) time.Time, fn func(*T) error) (*T, error) {
	for range maxCASRetries {
		doc, err := d.s.GetDoc(ctx, kind, id)
		if err != nil {
			return nil, err
		}
		v := new(T)
		if err := json.Unmarshal(doc.Data, v); err != nil {
			return nil, fmt.Errorf("acme: %s %q: %w", kind, id, err)
		}
		if err := fn(v); err != nil {
			if errors.Is(err, errSkip) {
				return v, nil
			}
			return v, err
		}
		exp := doc.ExpiresAt
		if expires != nil {
			exp = expires(v)
		}
		idx := index
		if idx == nil {
			idx = doc.Index
		}
		_, err = d.put(ctx, kind, id, doc.Version, v, idx, exp)
		if errors.Is(err, sdk.ErrFailedPrecondition) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return v, nil
	}
	return nil, fmt.Errorf("acme: %s %q: too many concurrent updates: %w", kind, id, sdk.ErrUnavailable)
}

var errSkip = errors.New("no change")

// newID is a random URL-safe identifier.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newToken is a challenge token: 32 random bytes, base64url (RFC 8555
// section 8.1 asks for at least 128 bits of entropy).
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// storeProblem maps a store error to a problem.
func storeProblem(err error) *problem {
	var p *problem
	if errors.As(err, &p) {
		return p
	}
	if errors.Is(err, sdk.ErrUnavailable) {
		pr := newProblem(503, ProbServerInternal, "the ACME state store is unavailable (retryable)")
		pr.retryAfter = 5
		pr.cause = err
		return pr
	}
	return internal(err)
}

// DocStoreOf returns the documents of a CA's certstore, looking through
// the group-commit wrapper of in-process stores (which hides optional
// interfaces). The error wraps sdk.ErrUnimplemented when the store keeps
// no documents.
func DocStoreOf(cs sdk.CertStore) (sdk.DocStore, error) {
	for {
		if ds, ok := cs.(sdk.DocStore); ok {
			return ds, nil
		}
		g, ok := cs.(*groupcommit.Store)
		if !ok {
			return sdk.DocStoreOf(cs)
		}
		cs = g.CertStore
	}
}
