package responder

import (
	"container/list"
	"crypto"
	"math/big"
	"sync"
	"time"
)

// entry is one response ready to serve: the DER and its precomputed
// headers.
type entry struct {
	key, serial  string
	der          []byte
	etag         string // quoted; "" for nonce responses
	lastModified string // "" when thisUpdate is zero
	expires      string // "" when nextUpdate is zero
	nextUpdate   time.Time
	hasNonce     bool
	deadline     time.Time // served from the cache until then
	elem         *list.Element
}

// cacheKey is the cache and FileSource key of a CertID.
func cacheKey(h crypto.Hash, nameHash, keyHash, serialMagnitude []byte, sign int) string {
	b := make([]byte, 0, 4+len(nameHash)+len(keyHash)+len(serialMagnitude))
	b = append(b, byte(h), byte(sign+1), byte(len(nameHash)), byte(len(keyHash)))
	b = append(b, nameHash...)
	b = append(b, keyHash...)
	b = append(b, serialMagnitude...)
	return string(b)
}

func requestKey(r *Request) string {
	return cacheKey(r.Hash, r.NameHash, r.KeyHash, r.Serial.Bytes(), r.Serial.Sign())
}

// cache is an LRU of entries bounded by the total DER bytes held.
type cache struct {
	mu       sync.Mutex
	max      int64
	bytes    int64
	ll       *list.List // front: most recently used
	byKey    map[string]*entry
	bySerial map[string]map[*entry]struct{}
	// gen changes on every Forget and Purge; a fill started under an
	// older generation is not stored, so a response fetched before a
	// revocation cannot outlive the Forget that followed it.
	gen uint64
}

func newCache(max int64) *cache {
	return &cache{max: max, ll: list.New(), byKey: map[string]*entry{}, bySerial: map[string]map[*entry]struct{}{}}
}

func (c *cache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// get returns the live entry for key, dropping it if it has expired.
func (c *cache) get(key string, now time.Time) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.byKey[key]
	if e == nil {
		return nil
	}
	if !now.Before(e.deadline) {
		c.remove(e)
		return nil
	}
	c.ll.MoveToFront(e.elem)
	return e
}

// put stores e unless the generation moved since gen, e is larger than
// the whole cache or already expired; it then evicts least recently used
// entries until the bound holds.
func (c *cache) put(e *entry, gen uint64, now time.Time) {
	if int64(len(e.der)) > c.max || !now.Before(e.deadline) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if old := c.byKey[e.key]; old != nil {
		c.remove(old)
	}
	e.elem = c.ll.PushFront(e)
	c.byKey[e.key] = e
	s := c.bySerial[e.serial]
	if s == nil {
		s = map[*entry]struct{}{}
		c.bySerial[e.serial] = s
	}
	s[e] = struct{}{}
	c.bytes += int64(len(e.der))
	for c.bytes > c.max {
		c.remove(c.ll.Back().Value.(*entry))
	}
}

// remove drops e; c.mu is held.
func (c *cache) remove(e *entry) {
	c.ll.Remove(e.elem)
	delete(c.byKey, e.key)
	if s := c.bySerial[e.serial]; s != nil {
		delete(s, e)
		if len(s) == 0 {
			delete(c.bySerial, e.serial)
		}
	}
	c.bytes -= int64(len(e.der))
}

func (c *cache) forget(serial *big.Int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for e := range c.bySerial[serial.String()] {
		c.remove(e)
	}
}

func (c *cache) purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.ll.Init()
	c.byKey = map[string]*entry{}
	c.bySerial = map[string]map[*entry]struct{}{}
	c.bytes = 0
}

// stats reports the entries and DER bytes held.
func (c *cache) stats() (entries int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byKey), c.bytes
}
