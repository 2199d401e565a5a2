package wire

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func queued(n int, closed bool) chan int {
	q := make(chan int, max(n, 1))
	for i := range n {
		q <- i
	}
	if closed {
		close(q)
	}
	return q
}

func TestFill(t *testing.T) {
	for _, tc := range []struct {
		name        string
		start       []int
		queued, max int
		closed      bool
		want        []int
		left        int
	}{
		{name: "empty queue leaves at once", start: []int{-1}, max: 4, want: []int{-1}},
		{name: "takes what is queued", start: []int{-1}, queued: 2, max: 4, want: []int{-1, 0, 1}},
		{name: "stops when full", start: []int{-1}, queued: 5, max: 4, want: []int{-1, 0, 1, 2}, left: 2},
		{name: "already full", start: []int{-1, -2}, queued: 3, max: 2, want: []int{-1, -2}, left: 3},
		{name: "closed queue", start: []int{-1}, queued: 1, max: 4, closed: true, want: []int{-1, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := queued(tc.queued, tc.closed)
			got := Fill(slices.Clone(tc.start), q, tc.max)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Fill = %v; want %v", got, tc.want)
			}
			if len(q) != tc.left {
				t.Errorf("%d left queued; want %d", len(q), tc.left)
			}
		})
	}
}

// Batches flushes what a closed queue still held, in order, then returns.
func TestBatchesDrainsClosedQueue(t *testing.T) {
	var got [][]int
	Batches(queued(10, true), nil, 4, func(b []int) { got = append(got, slices.Clone(b)) })
	want := [][]int{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("batches %v; want %v", got, want)
	}
}

// Items added while a flush is in progress leave together in the next
// batch, every item is flushed exactly once, and no batch exceeds max.
//
// Every flush is slow: it lasts until the queue behind it is full (or every
// item is in), as under load. Without that, on a busy machine the flusher
// can outrun the adding goroutines and take items one at a time, which is
// correct behaviour and not what this test is about.
func TestBatcherConcurrent(t *testing.T) {
	const n, max = 1000, 16
	var (
		added atomic.Int64
		b     *Batcher[int]
		mu    sync.Mutex
		sizes []int
		seen  = map[int]int{}
		ready = make(chan struct{})
	)
	b = NewBatcher(max, func(batch []int) {
		<-ready
		deadline := time.Now().Add(10 * time.Second)
		for len(b.queue) < max && added.Load() < n {
			if time.Now().After(deadline) {
				t.Error("the queue did not fill behind a flush within 10s")
				break
			}
			runtime.Gosched()
		}
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, len(batch))
		for _, it := range batch {
			seen[it]++
		}
	})
	close(ready) // b is set
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Add(context.Background(), i); err != nil {
				t.Error(err)
			}
			added.Add(1)
		}()
	}
	wg.Wait()
	// Close may come before the last batch: what it hands back was never
	// flushed, and counts as handled once (the caller fails it).
	left := b.Close()
	for _, it := range left {
		seen[it]++
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if seen[i] != 1 {
			t.Fatalf("item %d handled %d times", i, seen[i])
		}
	}
	for _, s := range sizes {
		if s > max {
			t.Fatalf("batch of %d > max %d", s, max)
		}
	}
	if len(sizes) < 2 || sizes[1] != max {
		t.Errorf("batch sizes %v: the items queued behind the first flush did not leave together", sizes)
	}
	// The first batch may be small; each later one takes a full queue,
	// until the adders run out.
	if limit := n/max + 3; len(sizes) > limit {
		t.Errorf("%d items in %d batches, want at most %d: the items queued during a flush did not leave together (sizes %v)", n, len(sizes), limit, sizes)
	}
}

func TestBatcherAddAfterCloseAndCanceled(t *testing.T) {
	flushed := make(chan int, 10)
	b := NewBatcher(4, func(batch []int) {
		for _, it := range batch {
			flushed <- it
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Add(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("Add with a canceled ctx: %v", err)
	}
	if err := b.Add(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if it := <-flushed; it != 2 {
		t.Errorf("flushed %d; want 2 (the canceled Add must not queue)", it)
	}
	b.Close()
	if err := b.Add(context.Background(), 3); !errors.Is(err, ErrBatcherClosed) {
		t.Errorf("Add after Close: %v; want ErrBatcherClosed", err)
	}
	b.Close() // idempotent
}
