package storesqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/pkid/pkid/sdk"
)

var _ sdk.DocStore = (*Store)(nil)

// docColumns matches scanDoc.
const docColumns = `d.kind, d.id, d.version, d.data, d.idx, d.expires_at, d.updated_at`

// live is the condition on docs d for a document not expired at ?.
const live = `(d.expires_at IS NULL OR d.expires_at > ?)`

// PutDoc creates (Version 0) or updates (compare-and-swap on Version) a
// document in one transaction on the writer, committed and fsynced before
// it returns. Errors: those of sdk.DocStore, ErrUnavailable (lock timeout,
// full disk), context errors.
func (s *Store) PutDoc(ctx context.Context, doc *sdk.Doc) (int64, error) {
	if err := sdk.CheckDoc(doc); err != nil {
		return 0, fmt.Errorf("store-sqlite: put doc: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, wrap("put doc", err)
	}
	idx := slices.Clone(doc.Index)
	slices.Sort(idx)
	idxJSON, err := json.Marshal(idx)
	if err != nil {
		return 0, wrap("put doc", err)
	}
	if idx == nil {
		idxJSON = []byte("[]")
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, wrap("put doc", err)
	}
	defer tx.Rollback()
	now := s.now()
	cur, err := docVersion(ctx, tx, doc.Kind, doc.ID, now)
	if err != nil {
		return 0, wrap("put doc", err)
	}
	switch {
	case doc.Version == 0 && cur > 0:
		return 0, fmt.Errorf("store-sqlite: put doc %s/%q: %w", doc.Kind, doc.ID, sdk.ErrAlreadyExists)
	case doc.Version > 0 && cur == 0:
		return 0, fmt.Errorf("store-sqlite: put doc %s/%q: %w", doc.Kind, doc.ID, sdk.ErrNotFound)
	case doc.Version > 0 && cur != doc.Version:
		return 0, fmt.Errorf("store-sqlite: put doc %s/%q: stored version is %d, not %d: %w",
			doc.Kind, doc.ID, cur, doc.Version, sdk.ErrFailedPrecondition)
	}
	// An expired predecessor (cur 0) goes with its index rows; an update
	// replaces them.
	if _, err := tx.ExecContext(ctx, `DELETE FROM docs WHERE kind = ? AND id = ?`, doc.Kind, doc.ID); err != nil {
		return 0, wrap("put doc", err)
	}
	v := doc.Version + 1
	if _, err := tx.ExecContext(ctx, `INSERT INTO docs (kind, id, version, data, idx, expires_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		doc.Kind, doc.ID, v, []byte(doc.Data), string(idxJSON), milliOrNull(doc.ExpiresAt), now.UnixMilli()); err != nil {
		return 0, wrap("put doc", err)
	}
	for _, k := range idx {
		if _, err := tx.ExecContext(ctx, `INSERT INTO docs_index (kind, key, id) VALUES (?, ?, ?)`, doc.Kind, k, doc.ID); err != nil {
			return 0, wrap("put doc", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, wrap("put doc", err)
	}
	return v, nil
}

// docVersion returns the version of the live document kind/id, 0 if there
// is none.
func docVersion(ctx context.Context, tx *sql.Tx, kind, id string, now time.Time) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `SELECT d.version FROM docs d WHERE d.kind = ? AND d.id = ? AND `+live,
		kind, id, now.UnixMilli()).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// GetDoc returns the live document kind/id from the read pool. Errors:
// those of sdk.DocStore, context errors.
func (s *Store) GetDoc(ctx context.Context, kind, id string) (*sdk.Doc, error) {
	if err := sdk.CheckDocKey(kind, id); err != nil {
		return nil, fmt.Errorf("store-sqlite: get doc: %w", err)
	}
	doc, err := scanDoc(s.r.QueryRowContext(ctx, `SELECT `+docColumns+` FROM docs d WHERE d.kind = ? AND d.id = ? AND `+live,
		kind, id, s.now().UnixMilli()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store-sqlite: get doc %s/%q: %w", kind, id, sdk.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("get doc", err)
	}
	return doc, nil
}

// DeleteDoc deletes the live document kind/id at version (0: any) on the
// writer; the single writer makes concurrent deletes of one document
// succeed once. Errors: those of sdk.DocStore, ErrUnavailable, context
// errors.
func (s *Store) DeleteDoc(ctx context.Context, kind, id string, version int64) error {
	if err := sdk.CheckDocKey(kind, id); err != nil {
		return fmt.Errorf("store-sqlite: delete doc: %w", err)
	}
	if version < 0 {
		return invalid("delete doc", "negative version %d", version)
	}
	if err := ctx.Err(); err != nil {
		return wrap("delete doc", err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap("delete doc", err)
	}
	defer tx.Rollback()
	cur, err := docVersion(ctx, tx, kind, id, s.now())
	switch {
	case err != nil:
		return wrap("delete doc", err)
	case cur == 0:
		return fmt.Errorf("store-sqlite: delete doc %s/%q: %w", kind, id, sdk.ErrNotFound)
	case version != 0 && cur != version:
		return fmt.Errorf("store-sqlite: delete doc %s/%q: stored version is %d, not %d: %w",
			kind, id, cur, version, sdk.ErrFailedPrecondition)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM docs WHERE kind = ? AND id = ?`, kind, id); err != nil {
		return wrap("delete doc", err)
	}
	return wrap("delete doc", tx.Commit())
}

// FindDocs streams the live documents of kind whose index holds key, in
// id order, from the read pool. An error from fn stops it and is returned
// as is. Other errors: those of sdk.DocStore, context errors.
func (s *Store) FindDocs(ctx context.Context, kind, key string, limit int, fn func(*sdk.Doc) error) error {
	if err := sdk.CheckDocFind(kind, key, limit); err != nil {
		return fmt.Errorf("store-sqlite: find docs: %w", err)
	}
	q := `SELECT ` + docColumns + ` FROM docs_index i JOIN docs d ON d.kind = i.kind AND d.id = i.id
		WHERE i.kind = ? AND i.key = ? AND ` + live + ` ORDER BY i.id`
	args := []any{kind, key, s.now().UnixMilli()}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return wrap("find docs", err)
	}
	defer rows.Close()
	for rows.Next() {
		doc, err := scanDoc(rows)
		if err != nil {
			return wrap("find docs", err)
		}
		if err := fn(doc); err != nil {
			return err
		}
	}
	return wrap("find docs", rows.Err())
}

func scanDoc(sc scanner) (*sdk.Doc, error) {
	var (
		d         sdk.Doc
		data      []byte
		idx       string
		expires   sql.NullInt64
		updatedAt int64
	)
	if err := sc.Scan(&d.Kind, &d.ID, &d.Version, &data, &idx, &expires, &updatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(idx), &d.Index); err != nil {
		return nil, fmt.Errorf("decoding the index of doc %s/%q: %w", d.Kind, d.ID, err)
	}
	if len(d.Index) == 0 {
		d.Index = nil
	}
	d.Data = json.RawMessage(data)
	if expires.Valid {
		d.ExpiresAt = time.UnixMilli(expires.Int64).UTC()
	}
	d.UpdatedAt = time.UnixMilli(updatedAt).UTC()
	return &d, nil
}

func milliOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// Expired documents are deleted in passes of at most docSweepBatch rows,
// at most docSweepPasses per sweep, so a sweep holds the writer briefly and
// a backlog drains over a few sweeps.
const (
	docSweepBatch  = 1000
	docSweepPasses = 10
)

// sweepDocs deletes expired documents (and their index rows) and returns
// how many it deleted.
func (s *Store) sweepDocs(ctx context.Context) (int64, error) {
	var total int64
	for range docSweepPasses {
		res, err := s.w.ExecContext(ctx, `DELETE FROM docs WHERE rowid IN (SELECT rowid FROM docs
			WHERE expires_at IS NOT NULL AND expires_at <= ? LIMIT ?)`, s.now().UnixMilli(), docSweepBatch)
		if err != nil {
			return total, wrap("sweep docs", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, wrap("sweep docs", err)
		}
		total += n
		if n < docSweepBatch {
			break
		}
	}
	return total, nil
}

// docSweepInterval is how often an open store deletes expired documents.
const docSweepInterval = time.Minute

// startSweeper runs sweepDocs every interval until Close. A failed sweep
// is retried at the next tick: expired documents are invisible anyway.
func (s *Store) startSweeper(interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopSweep, s.sweepDone = cancel, make(chan struct{})
	go func() {
		defer close(s.sweepDone)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, _ = s.sweepDocs(ctx)
			}
		}
	}()
}

// stopSweeper ends the sweeper and waits for it; it is idempotent.
func (s *Store) stopSweeper() {
	if s.stopSweep != nil {
		s.stopSweep()
		<-s.sweepDone
	}
}
