package wire

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

type fakeReq struct {
	id  uint64
	val int
}
type fakeRes struct {
	id  uint64
	val int
}

// fakeStream echoes val*2 and records batch sizes; it can be broken.
type fakeStream struct {
	mu       sync.Mutex
	batches  []int
	sendGate chan struct{} // when non-nil, the first send waits for it (a slow Send)
	gate     chan struct{} // when non-nil, replies wait for it
	broken   chan struct{}
}

func newFakeMux(fs *fakeStream) *Mux[*fakeReq, *fakeRes] {
	return &Mux[*fakeReq, *fakeRes]{Ops: StreamOps[*fakeReq, *fakeRes]{
		Open: func(ctx context.Context) (func([]*fakeReq) error, func() ([]*fakeRes, error), error) {
			in, broken := make(chan []*fakeReq, 1024), make(chan struct{})
			fs.mu.Lock()
			fs.broken = broken
			gate := fs.gate
			fs.mu.Unlock()
			send := func(b []*fakeReq) error {
				fs.mu.Lock()
				fs.batches = append(fs.batches, len(b))
				first := len(fs.batches) == 1
				fs.mu.Unlock()
				if first && fs.sendGate != nil {
					<-fs.sendGate
				}
				cp := append([]*fakeReq(nil), b...)
				select {
				case in <- cp:
					return nil
				case <-broken:
					return errors.New("broken pipe")
				}
			}
			recv := func() ([]*fakeRes, error) {
				select {
				case b := <-in:
					if gate != nil {
						select {
						case <-gate:
						case <-broken:
							return nil, errors.New("connection reset")
						}
					}
					out := make([]*fakeRes, len(b))
					for i, r := range b {
						out[i] = &fakeRes{id: r.id, val: r.val * 2}
					}
					return out, nil
				case <-broken:
					return nil, errors.New("connection reset")
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			return send, recv, nil
		},
		SetID: func(r *fakeReq, id uint64) { r.id = id },
		GetID: func(r *fakeRes) uint64 { return r.id },
	}}
}

func TestMuxMatchesResultsAndBatches(t *testing.T) {
	fs := &fakeStream{sendGate: make(chan struct{})}
	m := newFakeMux(fs)
	defer m.Close()
	// The first send is slow; the other 63 calls queue up behind it and
	// must leave together in few messages.
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := m.Call(context.Background(), &fakeReq{val: i})
			if err == nil && res.val != i*2 {
				err = errors.New("result delivered to the wrong caller")
			}
			errs <- err
		}()
	}
	time.Sleep(100 * time.Millisecond)
	close(fs.sendGate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.batches) >= 64 {
		t.Errorf("64 concurrent calls went out in %d messages; want batching", len(fs.batches))
	}
	t.Logf("batch sizes: %v", fs.batches)
}

func TestMuxFailsPendingCallsWhenStreamBreaks(t *testing.T) {
	fs := &fakeStream{gate: make(chan struct{})} // replies never come
	m := newFakeMux(fs)
	defer m.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := m.Call(context.Background(), &fakeReq{val: 1})
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	fs.mu.Lock()
	close(fs.broken)
	fs.mu.Unlock()
	wg.Wait()
	if d := time.Since(start); d > time.Second {
		t.Errorf("pending calls took %v to fail", d)
	}
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("pending call error %v; want ErrUnavailable", err)
		}
	}
	// The next call opens a new stream.
	fs.mu.Lock()
	fs.gate = nil
	fs.mu.Unlock()
	res, err := m.Call(context.Background(), &fakeReq{val: 21})
	if err != nil || res.val != 42 {
		t.Fatalf("call after reopen: %v %v", res, err)
	}
}

func TestMuxHonoursContext(t *testing.T) {
	fs := &fakeStream{gate: make(chan struct{})}
	m := newFakeMux(fs)
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := m.Call(ctx, &fakeReq{val: 1}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v; want deadline exceeded", err)
	}
}

// A call on a client closed under it (the host replaced a dead plugin
// process) fails with the retryable ErrUnavailable, never a bare "client
// closed" that the API would answer with 500.
func TestMuxClosedIsUnavailable(t *testing.T) {
	m := newFakeMux(&fakeStream{})
	if _, err := m.Call(context.Background(), &fakeReq{val: 1}); err != nil {
		t.Fatal(err)
	}
	m.Close()
	_, err := m.Call(context.Background(), &fakeReq{val: 2})
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("call after close: %v; want ErrUnavailable", err)
	}
	_, errs := m.CallMany(context.Background(), []*fakeReq{{val: 3}})
	if !errors.Is(errs[0], ErrUnavailable) {
		t.Errorf("callMany after close: %v; want ErrUnavailable", errs[0])
	}
}
