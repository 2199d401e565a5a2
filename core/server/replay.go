package server

import (
	"container/heap"
	"sync"
	"time"
)

// Replay protection for pkid_auth v2 tokens (docs/differences-from-cfssl.md,
// "Replay-resistant tokens"): a token carries its
// time and a random nonce under the MAC; the server accepts it within
// replayWindow of its clock and remembers the nonce until the token could
// no longer be accepted, so each token works once per server (one per daemon process).

// replayWindow is how far a v2 token's ts may be from the server's clock,
// either way.
const replayWindow = 5 * time.Minute

// maxNonces caps the nonces remembered (about 100 bytes each, so ~10 MB).
// At the cap the daemon refuses new v2 tokens (503) rather than forget a
// nonce still inside its window, which would reopen that token to replay;
// entries expire within 2×replayWindow, so the refusal clears by itself.
const maxNonces = 100_000

// nonceCache remembers nonce identifiers until their expiry. It is safe
// for concurrent use.
type nonceCache struct {
	mu    sync.Mutex
	max   int
	seen  map[[32]byte]int64 // id -> expiry, Unix seconds
	order expiryHeap
}

func newNonceCache(max int) *nonceCache {
	return &nonceCache{max: max, seen: map[[32]byte]int64{}}
}

// errReplay and errNonceCacheFull are nonceCache.add's refusals.
var (
	errReplay         = badRequest("invalid token: replayed (this token's nonce was already used)")
	errNonceCacheFull = requestError(503, "too many recent authenticated requests to remember their nonces: try again later")
)

// add records id until expiry, first forgetting the ids expired at now.
// Errors: errReplay when id is remembered, errNonceCacheFull when max ids
// are remembered.
func (c *nonceCache) add(id [32]byte, expiry, now int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.order) > 0 && c.order[0].expiry < now {
		delete(c.seen, heap.Pop(&c.order).(nonceEntry).id)
	}
	if _, ok := c.seen[id]; ok {
		return errReplay
	}
	if len(c.seen) >= c.max {
		return errNonceCacheFull
	}
	c.seen[id] = expiry
	heap.Push(&c.order, nonceEntry{id: id, expiry: expiry})
	return nil
}

// len returns the number of ids remembered.
func (c *nonceCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

type nonceEntry struct {
	id     [32]byte
	expiry int64
}

// expiryHeap is a min-heap of entries by expiry.
type expiryHeap []nonceEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expiry < h[j].expiry }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(nonceEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
