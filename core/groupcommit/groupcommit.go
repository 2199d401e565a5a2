// Package groupcommit batches concurrent certificate writes: a single
// committer writes whatever has queued while the previous transaction was
// committing as one PutBatch (one transaction, one fsync). A lone Put is
// committed at once, so latency stays low; under load the batches grow by
// themselves. Every Put still returns only after its record is durable.
//
// Out-of-process certstores get this over their gRPC stream already; Wrap
// gives in-process stores the same behaviour.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/pkid/pkid/sdk"
	"github.com/pkid/pkid/sdk/rpc"
)

// MaxBatch bounds the records per transaction.
const MaxBatch = rpc.MaxBatch

type item struct {
	ctx  context.Context
	rec  *sdk.CertRecord
	done chan error
}

// Store is a certstore whose Puts are group-committed.
type Store struct {
	sdk.CertStore
	bp      sdk.BatchPutter
	batcher *rpc.Batcher[*item]

	mu      sync.Mutex
	batches int
	records int
}

// Wrap returns cs with group-committed Puts when it implements
// sdk.BatchPutter, and cs itself otherwise.
func Wrap(cs sdk.CertStore) sdk.CertStore {
	bp, ok := cs.(sdk.BatchPutter)
	if !ok {
		return cs
	}
	s := &Store{CertStore: cs, bp: bp}
	s.batcher = rpc.NewBatcher(MaxBatch, s.commit)
	return s
}

// ErrClosed is returned by Put after Close.
var ErrClosed = errors.New("groupcommit: store closed")

// Put queues rec for the next commit and waits until it is durable.
func (s *Store) Put(ctx context.Context, rec *sdk.CertRecord) error {
	// select picks at random among ready cases: check first so a
	// canceled context never queues a write.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("groupcommit: put: %w", err)
	}
	it := &item{ctx: ctx, rec: rec, done: make(chan error, 1)}
	switch err := s.batcher.Add(ctx, it); {
	case errors.Is(err, rpc.ErrBatcherClosed):
		return ErrClosed
	case err != nil:
		return err
	}
	// Once queued, wait for the commit even if ctx ends: the caller must
	// learn whether the record was stored.
	return <-it.done
}

// PutBatch passes through: the caller already batched.
func (s *Store) PutBatch(ctx context.Context, recs []*sdk.CertRecord) ([]error, error) {
	return s.bp.PutBatch(ctx, recs)
}

// Stats returns how many transactions and records were committed.
func (s *Store) Stats() (batches, records int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batches, s.records
}

func (s *Store) commit(batch []*item) {
	recs := make([]*sdk.CertRecord, len(batch))
	for i, it := range batch {
		recs[i] = it.rec
	}
	// The batch outlives any single caller's context.
	errs, err := s.bp.PutBatch(context.Background(), recs)
	for i, it := range batch {
		switch {
		case err != nil:
			it.done <- err
		case i < len(errs):
			it.done <- errs[i]
		default:
			it.done <- errors.New("groupcommit: store returned too few results")
		}
	}
	s.mu.Lock()
	s.batches++
	s.records += len(batch)
	s.mu.Unlock()
}

// Close stops the committer (after the batch in progress) and closes the
// underlying store.
func (s *Store) Close() error {
	// Fail anything still queued rather than leave callers waiting.
	for _, it := range s.batcher.Close() {
		it.done <- ErrClosed
	}
	return s.CertStore.Close()
}
