package tokens

import (
	"sync"
	"sync/atomic"
)

// DefaultCacheBytes is the byte budget of a verified-token cache when Options.CacheBytes is 0: 8 MiB,
// room for about 800 maximal (8 KiB) tokens or several thousand typical ones.
const DefaultCacheBytes int64 = 8 << 20

// cacheEntryOverhead is charged for every entry on top of its token and identity strings: the
// cache's map slot (with the spare capacity of a growing map), the Identity struct and the headers
// of its slices, rounded up generously. TestCacheHeapStaysWithinBudget measures the real heap.
const cacheEntryOverhead = 512

// Cache is a bounded map from the exact token string to its verified identity, bounded both in
// entries and in bytes: an entry costs len(token) plus the identity's strings and slices (see
// Identity.Bytes) plus a fixed overhead. When a new entry does not fit, arbitrary entries are
// evicted (Go map order is randomized) until it does, which keeps every operation cheap and gives an
// attacker no eviction order to game; an entry larger than the whole budget is not cached. The
// cache keeps its own copy of each token, so a token sliced out of a larger header never keeps that
// header alive. Safe for concurrent use.
type Cache struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int64
	maxCost    int64 // the dearest entry stored: maxBytes, or -1 when maxEntries <= 0 (nothing is stored)
	bytes      int64
	entries    map[string]cacheEntry
}

type cacheEntry struct {
	id   *Identity
	cost int64
}

// NewCache returns a cache holding at most maxEntries identities and at most maxBytes bytes
// (DefaultCacheBytes when maxBytes <= 0). A cache with maxEntries <= 0 stores nothing.
func NewCache(maxEntries int, maxBytes int64) *Cache {
	if maxBytes <= 0 {
		maxBytes = DefaultCacheBytes
	}
	c := &Cache{maxEntries: maxEntries, maxBytes: maxBytes, maxCost: maxBytes, entries: make(map[string]cacheEntry, 64)}
	if maxEntries <= 0 {
		c.maxCost = -1 // every entry costs more (at least cacheEntryOverhead)
	}
	return c
}

// Get returns the cached identity of token if it is still valid at now (Unix seconds, with leeway
// seconds of skew) and its key has not left the key set; otherwise it drops the entry and returns nil.
func (c *Cache) Get(token string, now, leeway int64) *Identity {
	return cacheGet(c, token, now, leeway)
}

// Put stores id under token, evicting arbitrary entries until the new one fits both bounds. An
// entry costing more than the byte budget is not stored.
func (c *Cache) Put(token string, id *Identity) { cachePut(c, token, id, BytesOf(id)) }

// cacheGet and cachePut are Get and Put as the verifier calls them: plain functions, which cost a
// fraction of a method call under Yaegi, with the key check of KeyRetired written out.
func cacheGet(c *Cache, token string, now, leeway int64) *Identity {
	c.mu.Lock()
	e, ok := c.entries[token]
	if !ok {
		c.mu.Unlock()
		return nil
	}
	id := e.id
	if now >= id.Expires+leeway || now < id.NotBefore-leeway || id.key == nil || atomic.LoadInt32(&id.key.retired) != 0 {
		delete(c.entries, token)
		c.bytes -= e.cost
		id = nil
	}
	c.mu.Unlock()
	return id
}

// cachePut stores id, whose BytesOf is bytes, under token. Replacing a stored token and evicting
// are in makeRoom, called only when the token is stored or the new entry does not fit, so that
// under Yaegi an entry that fits does not pay for that code's frame.
func cachePut(c *Cache, token string, id *Identity, bytes int64) {
	cost := bytes + cacheEntryOverhead
	if l := len(token); l > 0 {
		cost += int64(l + l/4 + 16) // arrayCost
	}
	if cost > c.maxCost { // beyond the byte budget, or a cache that stores nothing
		return
	}
	token = cloneString(token) // never keep the request's header (or cookie, or query) alive
	c.mu.Lock()
	if _, stored := c.entries[token]; stored {
		makeRoom(c, token, cost)
	} else if len(c.entries) >= c.maxEntries {
		makeRoom(c, token, cost)
	} else if c.bytes+cost > c.maxBytes {
		makeRoom(c, token, cost)
	}
	c.entries[token] = cacheEntry{id: id, cost: cost}
	c.bytes += cost
	c.mu.Unlock()
}

// makeRoom drops the entry of token, if any, then arbitrary entries until one costing cost fits
// both bounds. Call with mu held.
func makeRoom(c *Cache, token string, cost int64) {
	if old, ok := c.entries[token]; ok {
		delete(c.entries, token)
		c.bytes -= old.cost
	}
	for len(c.entries) > 0 && (len(c.entries) >= c.maxEntries || c.bytes+cost > c.maxBytes) {
		c.evictOne()
	}
}

// evictOne drops an arbitrary entry. Call with mu held.
func (c *Cache) evictOne() {
	for k, e := range c.entries {
		delete(c.entries, k)
		c.bytes -= e.cost
		return
	}
}

// Len returns the number of cached identities.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// Bytes returns what the cached entries cost, in the units of the byte budget.
func (c *Cache) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}
