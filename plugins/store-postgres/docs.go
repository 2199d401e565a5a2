package storepostgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/pkid/pkid/sdk"
)

var _ sdk.DocStore = (*Store)(nil)

// Each write is one statement, so one round trip and one implicit
// transaction. The row lock on docs serialises writers of one document:
// a writer that waited re-checks its WHERE against the row the other
// committed (READ COMMITTED), so of two writers at one version only one
// matches. The index rows change in the same statement, for a new key set
// $5: keys it lacks are deleted, new ones inserted (disjoint rows, since
// the parts of one statement do not see each other's changes).
const (
	// createDoc inserts version 1, or replaces an expired document.
	createDoc = `WITH put AS (
		INSERT INTO docs AS d (kind, id, version, data, idx, expires_at, updated_at, wtoken)
		VALUES ($1, $2, 1, $3, $5, $6, $7, $8)
		ON CONFLICT (kind, id) DO UPDATE SET version = 1, data = EXCLUDED.data, idx = EXCLUDED.idx,
			expires_at = EXCLUDED.expires_at, updated_at = EXCLUDED.updated_at, wtoken = EXCLUDED.wtoken
		WHERE d.expires_at IS NOT NULL AND d.expires_at <= $4
		RETURNING d.version
	)` + docIndexCTEs + `SELECT version FROM put`

	// updateDoc updates the live document at version $9.
	updateDoc = `WITH put AS (
		UPDATE docs d SET version = d.version + 1, data = $3, idx = $5, expires_at = $6, updated_at = $7, wtoken = $8
		WHERE d.kind = $1 AND d.id = $2 AND d.version = $9 AND (d.expires_at IS NULL OR d.expires_at > $4)
		RETURNING d.version
	)` + docIndexCTEs + `SELECT version FROM put`

	docIndexCTEs = `, unindex AS (
		DELETE FROM docs_index WHERE kind = $1 AND id = $2 AND NOT (key = ANY ($5::text[]))
			AND EXISTS (SELECT 1 FROM put)
	), index AS (
		INSERT INTO docs_index (kind, key, id) SELECT $1, k, $2 FROM unnest($5::text[]) AS k
			WHERE EXISTS (SELECT 1 FROM put)
		ON CONFLICT DO NOTHING
	) `

	// deleteDoc deletes the live document at version $4 (0: any).
	deleteDoc = `DELETE FROM docs WHERE kind = $1 AND id = $2 AND ($4 = 0 OR version = $4)
		AND (expires_at IS NULL OR expires_at > $3)`

	// liveVersion explains a write that matched no row.
	liveVersion = `SELECT version, wtoken FROM docs WHERE kind = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > $3)`

	docColumns = `d.kind, d.id, d.version, d.data, d.idx, d.expires_at, d.updated_at`
)

// PutDoc creates (Version 0) or updates (compare-and-swap on Version) a
// document, committed before it returns. A try that failed on a dead
// pooled connection (the server restarted) is retried on another; a retry
// that finds the write of an earlier try of the same call (its wtoken)
// returns that write's version instead of a conflict. Errors: those of
// sdk.DocStore; ErrUnavailable when the server is unreachable or the
// connection broke mid-write (the write may then have committed: read the
// document to know); context errors.
func (s *Store) PutDoc(ctx context.Context, doc *sdk.Doc) (int64, error) {
	if err := sdk.CheckDoc(doc); err != nil {
		return 0, fmt.Errorf("store-postgres: put doc: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return 0, wrap(ctx, "put doc", err)
	}
	idx := append([]string{}, doc.Index...) // never NULL: NOT (key = ANY (NULL)) matches nothing
	slices.Sort(idx)
	now := s.now()
	token := rand.Int64N(math.MaxInt64) + 1 // not 0, the default of rows written otherwise
	args := []any{doc.Kind, doc.ID, []byte(doc.Data), now, idx, msOrNull(doc.ExpiresAt), now.Truncate(time.Millisecond), token}
	q := createDoc
	if doc.Version > 0 {
		q, args = updateDoc, append(args, doc.Version)
	}
	var v int64
	tries := 0
	err := s.retry(ctx, func() error {
		tries++
		err := s.pool.QueryRow(ctx, q, args...).Scan(&v)
		if err == nil && putDocCommitted != nil {
			err = putDocCommitted(tries)
		}
		return err
	})
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, wrap(ctx, "put doc", err)
	}
	cur, curToken, err := s.liveVersion(ctx, doc.Kind, doc.ID, now)
	switch {
	case err != nil:
		return 0, wrap(ctx, "put doc", err)
	case tries > 1 && cur == doc.Version+1 && curToken == token:
		return cur, nil // an earlier try committed before its connection broke
	case doc.Version == 0:
		return 0, fmt.Errorf("store-postgres: put doc %s/%q: %w", doc.Kind, doc.ID, sdk.ErrAlreadyExists)
	case cur == 0:
		return 0, fmt.Errorf("store-postgres: put doc %s/%q: %w", doc.Kind, doc.ID, sdk.ErrNotFound)
	}
	return 0, fmt.Errorf("store-postgres: put doc %s/%q: stored version is %d, not %d: %w", doc.Kind, doc.ID, cur, doc.Version, sdk.ErrFailedPrecondition)
}

// putDocCommitted, when set (by tests), runs after each PutDoc try that
// committed; an error from it stands for a connection that broke before
// the answer arrived.
var putDocCommitted func(try int) error

// liveVersion returns the version and wtoken of the live document
// kind/id; version 0 if there is none.
func (s *Store) liveVersion(ctx context.Context, kind, id string, now time.Time) (version, token int64, err error) {
	err = s.retry(ctx, func() error { return s.pool.QueryRow(ctx, liveVersion, kind, id, now).Scan(&version, &token) })
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, nil
	}
	return version, token, err
}

// GetDoc returns the live document kind/id. Errors: those of
// sdk.DocStore, ErrUnavailable, context errors.
func (s *Store) GetDoc(ctx context.Context, kind, id string) (*sdk.Doc, error) {
	if err := sdk.CheckDocKey(kind, id); err != nil {
		return nil, fmt.Errorf("store-postgres: get doc: %w", err)
	}
	var doc *sdk.Doc
	err := s.retry(ctx, func() error {
		var err error
		doc, err = scanDoc(s.pool.QueryRow(ctx, `SELECT `+docColumns+` FROM docs d
			WHERE d.kind = $1 AND d.id = $2 AND (d.expires_at IS NULL OR d.expires_at > $3)`, kind, id, s.now()))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store-postgres: get doc %s/%q: %w", kind, id, sdk.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(ctx, "get doc", err)
	}
	return doc, nil
}

// DeleteDoc deletes the live document kind/id at version (0: any): of
// concurrent deleters, on any number of nodes, one succeeds and the others
// get ErrNotFound. Errors: those of sdk.DocStore; ErrUnavailable (the
// delete may have committed); context errors.
func (s *Store) DeleteDoc(ctx context.Context, kind, id string, version int64) error {
	if err := sdk.CheckDocKey(kind, id); err != nil {
		return fmt.Errorf("store-postgres: delete doc: %w", err)
	}
	if version < 0 {
		return invalid("delete doc", "negative version %d", version)
	}
	if err := ctx.Err(); err != nil {
		return wrap(ctx, "delete doc", err)
	}
	now := s.now()
	var tag pgconn.CommandTag
	err := s.retrySafe(ctx, func() error {
		var err error
		tag, err = s.pool.Exec(ctx, deleteDoc, kind, id, now, version)
		return err
	})
	if err != nil {
		return wrap(ctx, "delete doc", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	cur, _, err := s.liveVersion(ctx, kind, id, now)
	switch {
	case err != nil:
		return wrap(ctx, "delete doc", err)
	case cur == 0:
		return fmt.Errorf("store-postgres: delete doc %s/%q: %w", kind, id, sdk.ErrNotFound)
	}
	return fmt.Errorf("store-postgres: delete doc %s/%q: stored version is %d, not %d: %w", kind, id, cur, version, sdk.ErrFailedPrecondition)
}

// FindDocs streams the live documents of kind whose index holds key, in
// id order, on one pooled connection. An error from fn stops it and is
// returned as is. Other errors: those of sdk.DocStore, ErrUnavailable (the
// connection failed; fn may have seen some documents), context errors.
func (s *Store) FindDocs(ctx context.Context, kind, key string, limit int, fn func(*sdk.Doc) error) error {
	if err := sdk.CheckDocFind(kind, key, limit); err != nil {
		return fmt.Errorf("store-postgres: find docs: %w", err)
	}
	q := `SELECT ` + docColumns + ` FROM docs_index i JOIN docs d ON d.kind = i.kind AND d.id = i.id
		WHERE i.kind = $1 AND i.key = $2 AND (d.expires_at IS NULL OR d.expires_at > $3) ORDER BY i.id`
	args := []any{kind, key, s.now()}
	if limit > 0 {
		q += ` LIMIT $4`
		args = append(args, limit)
	}
	// Retry (after a server restart) only until the first row arrives, so
	// fn never sees a document twice.
	var rows pgx.Rows
	var more bool
	err := s.retry(ctx, func() error {
		r, err := s.pool.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		if more = r.Next(); more {
			rows = r
			return nil
		}
		r.Close()
		return r.Err()
	})
	if err != nil || !more {
		return wrap(ctx, "find docs", err)
	}
	defer rows.Close()
	for ; more; more = rows.Next() {
		doc, err := scanDoc(rows)
		if err != nil {
			return wrap(ctx, "find docs", err)
		}
		if err := fn(doc); err != nil {
			return err
		}
	}
	return wrap(ctx, "find docs", rows.Err())
}

// retrySafe is retry for writes that are not idempotent: it tries again
// only when the failed try sent nothing to the server.
func (s *Store) retrySafe(ctx context.Context, fn func() error) error {
	var err error
	for range s.attempts {
		if err = fn(); err == nil || ctx.Err() != nil || !staleConn(err) || !pgconn.SafeToRetry(err) {
			return err
		}
	}
	return err
}

func scanDoc(sc pgx.Row) (*sdk.Doc, error) {
	var (
		d                  sdk.Doc
		data               []byte
		expires, updatedAt pgtype.Timestamptz
	)
	if err := sc.Scan(&d.Kind, &d.ID, &d.Version, &data, &d.Index, &expires, &updatedAt); err != nil {
		return nil, err
	}
	if len(d.Index) == 0 {
		d.Index = nil
	}
	d.Data = data
	d.ExpiresAt, d.UpdatedAt = fromTS(expires), fromTS(updatedAt)
	return &d, nil
}

// msOrNull stores an expiry to the millisecond; the zero time is NULL.
func msOrNull(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.Truncate(time.Millisecond).UTC(), Valid: true}
}

// Expired documents are deleted in passes of at most docSweepBatch rows,
// at most docSweepPasses per sweep, every docSweepInterval. Rows another
// node is sweeping are skipped (SKIP LOCKED), so nodes do not queue on
// each other.
const (
	docSweepBatch    = 1000
	docSweepPasses   = 10
	docSweepInterval = time.Minute
)

// sweepDocs deletes expired documents (and their index rows) and returns
// how many it deleted.
func (s *Store) sweepDocs(ctx context.Context) (int64, error) {
	var total int64
	for range docSweepPasses {
		tag, err := s.pool.Exec(ctx, `DELETE FROM docs WHERE (kind, id) IN (SELECT kind, id FROM docs
			WHERE expires_at IS NOT NULL AND expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, s.now(), docSweepBatch)
		if err != nil {
			return total, wrap(ctx, "sweep docs", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < docSweepBatch {
			break
		}
	}
	return total, nil
}

// startSweeper runs sweepDocs every interval until Close. A failed sweep
// (server down) is retried at the next tick: expired documents are
// invisible anyway.
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
