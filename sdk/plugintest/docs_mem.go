package plugintest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pkid/pkid/sdk"
)

// MemDocStore is the reference sdk.DocStore: documents in memory, safe for
// concurrent use. Core features test against it, and it pins down the
// contract the store plugins implement (TestDocStore runs on it). Expired
// documents are dropped when a write or lookup meets them.
type MemDocStore struct {
	mu   sync.Mutex
	docs map[memDocKey]*sdk.Doc
	now  func() time.Time
}

type memDocKey struct{ kind, id string }

// NewMemDocStore returns an empty MemDocStore.
func NewMemDocStore() *MemDocStore {
	return &MemDocStore{docs: map[memDocKey]*sdk.Doc{}, now: time.Now}
}

// SetClock makes the store read the time from now (tests of expiry that
// should not sleep). Set it before using the store.
func (m *MemDocStore) SetClock(now func() time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.now = now
}

// live returns the live document under k, dropping it if it expired.
// Callers hold m.mu.
func (m *MemDocStore) live(k memDocKey, now time.Time) *sdk.Doc {
	d := m.docs[k]
	if d != nil && memExpired(d, now) {
		delete(m.docs, k)
		return nil
	}
	return d
}

func memExpired(d *sdk.Doc, now time.Time) bool {
	return !d.ExpiresAt.IsZero() && !d.ExpiresAt.After(now)
}

// memCopy is a deep copy of d, so callers never share memory with the store.
func memCopy(d *sdk.Doc) *sdk.Doc {
	c := *d
	c.Data = slices.Clone(d.Data)
	c.Index = slices.Clone(d.Index)
	return &c
}

// PutDoc implements sdk.DocStore.
func (m *MemDocStore) PutDoc(ctx context.Context, doc *sdk.Doc) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := sdk.CheckDoc(doc); err != nil {
		return 0, fmt.Errorf("mem docs: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	k := memDocKey{doc.Kind, doc.ID}
	old := m.live(k, now)
	switch {
	case doc.Version == 0 && old != nil:
		return 0, fmt.Errorf("mem docs: %s/%q exists: %w", doc.Kind, doc.ID, sdk.ErrAlreadyExists)
	case doc.Version != 0 && old == nil:
		return 0, fmt.Errorf("mem docs: %s/%q: %w", doc.Kind, doc.ID, sdk.ErrNotFound)
	case doc.Version != 0 && old.Version != doc.Version:
		return 0, fmt.Errorf("mem docs: %s/%q is at version %d, not %d: %w", doc.Kind, doc.ID, old.Version, doc.Version, sdk.ErrFailedPrecondition)
	}
	n := memCopy(doc)
	n.Version = doc.Version + 1
	n.UpdatedAt = now.UTC().Truncate(time.Millisecond)
	if !n.ExpiresAt.IsZero() {
		n.ExpiresAt = n.ExpiresAt.UTC().Truncate(time.Millisecond)
	}
	slices.Sort(n.Index)
	if len(n.Index) == 0 {
		n.Index = nil
	}
	m.docs[k] = n
	return n.Version, nil
}

// GetDoc implements sdk.DocStore.
func (m *MemDocStore) GetDoc(ctx context.Context, kind, id string) (*sdk.Doc, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := sdk.CheckDocKey(kind, id); err != nil {
		return nil, fmt.Errorf("mem docs: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.live(memDocKey{kind, id}, m.now())
	if d == nil {
		return nil, fmt.Errorf("mem docs: %s/%q: %w", kind, id, sdk.ErrNotFound)
	}
	return memCopy(d), nil
}

// DeleteDoc implements sdk.DocStore.
func (m *MemDocStore) DeleteDoc(ctx context.Context, kind, id string, version int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sdk.CheckDocKey(kind, id); err != nil {
		return fmt.Errorf("mem docs: %w", err)
	}
	if version < 0 {
		return fmt.Errorf("mem docs: %s/%q: negative version %d: %w", kind, id, version, sdk.ErrInvalidArgument)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := memDocKey{kind, id}
	d := m.live(k, m.now())
	switch {
	case d == nil:
		return fmt.Errorf("mem docs: %s/%q: %w", kind, id, sdk.ErrNotFound)
	case version != 0 && d.Version != version:
		return fmt.Errorf("mem docs: %s/%q is at version %d, not %d: %w", kind, id, d.Version, version, sdk.ErrFailedPrecondition)
	}
	delete(m.docs, k)
	return nil
}

// FindDocs implements sdk.DocStore. It calls fn without holding its lock,
// on copies taken when the lookup began.
func (m *MemDocStore) FindDocs(ctx context.Context, kind, key string, limit int, fn func(*sdk.Doc) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sdk.CheckDocFind(kind, key, limit); err != nil {
		return fmt.Errorf("mem docs: %w", err)
	}
	m.mu.Lock()
	now := m.now()
	var out []*sdk.Doc
	for k := range m.docs {
		if k.kind != kind {
			continue
		}
		if d := m.live(k, now); d != nil && slices.Contains(d.Index, key) {
			out = append(out, memCopy(d))
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b *sdk.Doc) int { return strings.Compare(a.ID, b.ID) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for _, d := range out {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

var _ sdk.DocStore = (*MemDocStore)(nil)
