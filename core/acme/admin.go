package acme

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/pkid/pkid/sdk"
)

// Admin manages and lists ACME state directly in the DocStore: what
// `pkid acme eab|accounts|orders|authz` run, with the daemon up or not
// (the store is the one source of truth for every node).
type Admin struct {
	Docs sdk.DocStore
	Now  func() time.Time
}

// EABKeyIndex is the index entry every EAB key carries, for listing.
const EABKeyIndex = "eab"

// AddEAB creates an EAB key (a random id and 32-byte HMAC key) usable in
// dir ("CA/PROFILE"; "": any directory) once. Errors: the store's.
func (a *Admin) AddEAB(ctx context.Context, dir, note string) (*EABKey, error) {
	k := &EABKey{ID: "eab-" + newID()[:16], Key: make([]byte, 32), Dir: dir, Note: note, CreatedAt: a.now().UTC()}
	if _, err := rand.Read(k.Key); err != nil {
		return nil, fmt.Errorf("acme: %w", err)
	}
	if _, err := (docs{a.Docs}).put(ctx, KindEAB, k.ID, 0, k, []string{EABKeyIndex}, timeZero); err != nil {
		return nil, fmt.Errorf("acme: eab: %w", err)
	}
	return k, nil
}

// RevokeEAB revokes an EAB key: accounts not yet created with it cannot
// be. Errors: sdk.ErrNotFound for an unknown id.
func (a *Admin) RevokeEAB(ctx context.Context, id string) error {
	_, err := update(ctx, docs{a.Docs}, KindEAB, id, nil, nil, func(k *EABKey) error {
		if k.Revoked {
			return errSkip
		}
		k.Revoked = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("acme: eab %q: %w", id, err)
	}
	return nil
}

// ListEAB lists the EAB keys (without their secrets).
func (a *Admin) ListEAB(ctx context.Context) ([]EABKey, error) {
	var out []EABKey
	err := a.Docs.FindDocs(ctx, KindEAB, EABKeyIndex, 0, func(d *sdk.Doc) error {
		var k EABKey
		if err := json.Unmarshal(d.Data, &k); err != nil {
			return err
		}
		k.Key = nil
		out = append(out, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("acme: eab: %w", err)
	}
	return out, nil
}

// Accounts lists the accounts of dir ("CA/PROFILE").
func (a *Admin) Accounts(ctx context.Context, dir string) ([]Account, error) {
	return list[Account](ctx, a.Docs, KindAccount, "dir:"+dir)
}

// Orders lists the orders of dir.
func (a *Admin) Orders(ctx context.Context, dir string) ([]Order, error) {
	return list[Order](ctx, a.Docs, KindOrder, "dir:"+dir)
}

// Authzs lists the authorizations of dir.
func (a *Admin) Authzs(ctx context.Context, dir string) ([]Authz, error) {
	return list[Authz](ctx, a.Docs, KindAuthz, "dir:"+dir)
}

// maxList bounds a listing.
const maxList = 10000

func list[T any](ctx context.Context, ds sdk.DocStore, kind, key string) ([]T, error) {
	var out []T
	err := ds.FindDocs(ctx, kind, key, maxList, func(d *sdk.Doc) error {
		var v T
		if err := json.Unmarshal(d.Data, &v); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("acme: %s: %w", kind, err)
	}
	return out, nil
}

func (a *Admin) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
