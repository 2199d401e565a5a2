package wire

import (
	"context"
	"errors"
	"sync"
)

// Batching, written once for the sign stream, the put stream and the
// core's group commit. A batch is flushed when it is full or when nothing
// more is queued, never after a timer: a lone item leaves at once, and under
// load whatever queued while the previous batch was being processed leaves
// together, so batches grow by themselves.

// MaxBatch bounds the items per batch (per stream message, per transaction).
const MaxBatch = 256

// Fill appends to batch what is already queued on q, without waiting,
// until batch holds max items or q is empty or closed.
func Fill[T any](batch []T, q <-chan T, max int) []T {
	for len(batch) < max {
		select {
		case it, ok := <-q:
			if !ok {
				return batch
			}
			batch = append(batch, it)
		default:
			return batch
		}
	}
	return batch
}

// Batches calls flush with successive batches taken from q, each its first
// item waited for and the rest taken by Fill, until q is closed (after
// flushing what it held) or stop is closed. flush must not keep the slice:
// it is reused.
func Batches[T any](q <-chan T, stop <-chan struct{}, max int, flush func([]T)) {
	batch := make([]T, 0, max)
	for {
		select {
		case it, ok := <-q:
			if !ok {
				return
			}
			batch = Fill(append(batch[:0], it), q, max)
			flush(batch)
		case <-stop:
			return
		}
	}
}

// ErrBatcherClosed is returned by Batcher.Add after Close.
var ErrBatcherClosed = errors.New("batcher closed")

// Batcher hands the items added to it, from any number of goroutines, to a
// single goroutine running flush on batches of at most max items.
type Batcher[T any] struct {
	queue chan T
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// NewBatcher starts the flushing goroutine; Close stops it.
func NewBatcher[T any](max int, flush func([]T)) *Batcher[T] {
	b := &Batcher[T]{queue: make(chan T, max), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		Batches(b.queue, b.stop, max, flush)
	}()
	return b
}

// Add queues it for a coming batch. It fails with ctx's error (nothing is
// queued for a done ctx) or ErrBatcherClosed.
func (b *Batcher[T]) Add(ctx context.Context, it T) error {
	// select picks at random among ready cases: check first so a done
	// context never queues.
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-b.stop:
		return ErrBatcherClosed
	default:
	}
	select {
	case b.queue <- it:
		return nil
	case <-b.stop:
		return ErrBatcherClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the flushing goroutine after the batch in progress and
// returns the items queued but never flushed, for the caller to fail.
func (b *Batcher[T]) Close() []T {
	b.once.Do(func() { close(b.stop) })
	<-b.done
	var left []T
	for {
		select {
		case it := <-b.queue:
			left = append(left, it)
		default:
			return left
		}
	}
}
