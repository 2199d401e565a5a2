package wire

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
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
func TestBatcherConcurrent(t *testing.T) {
	const n, max = 1000, 16
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	seen := map[int]int{}
	first := true
	b := NewBatcher(max, func(batch []int) {
		if first {
			first = false
			<-release // a slow first flush: the others queue up meanwhile
		}
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, len(batch))
		for _, it := range batch {
			seen[it]++
		}
	})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.Add(context.Background(), i); err != nil {
				t.Error(err)
			}
		}()
	}
	// The first flush holds the goroutine; wait until the queue is full
	// behind it, then let it go: the next batch must be full.
	for len(b.queue) < max {
		runtime.Gosched()
	}
	close(release)
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
	if len(sizes) >= n/2 {
		t.Errorf("%d items in %d batches: no batching", n, len(sizes))
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
