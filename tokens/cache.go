package tokens

import "sync"

// Cache is a bounded map from the exact token string to its verified identity. It is safe for
// concurrent use. When full, an arbitrary entry is evicted (Go map order is randomized), which keeps
// every operation O(1) and gives an attacker no eviction order to game.
type Cache struct {
	mu      sync.Mutex
	max     int
	entries map[string]*Identity
}

// NewCache returns a cache holding at most max identities.
func NewCache(max int) *Cache {
	return &Cache{max: max, entries: make(map[string]*Identity, 64)}
}

// Get returns the cached identity of token if it is still valid at now (Unix seconds, with leeway
// seconds of skew) and its key has not left the key set; otherwise it drops the entry and returns nil.
func (c *Cache) Get(token string, now, leeway int64) *Identity {
	c.mu.Lock()
	id := c.entries[token]
	if id == nil {
		c.mu.Unlock()
		return nil
	}
	if now >= id.Expires+leeway || now < id.NotBefore-leeway || id.key.Retired() {
		delete(c.entries, token)
		id = nil
	}
	c.mu.Unlock()
	return id
}

// Put stores id under token, evicting an arbitrary entry when the cache is full.
func (c *Cache) Put(token string, id *Identity) {
	c.mu.Lock()
	if len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[token] = id
	c.mu.Unlock()
}

// Len returns the number of cached identities.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
