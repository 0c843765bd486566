package gatehouse

import (
	"net/http"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// allowed is a cached allow: everything ServeHTTP needs to let the same request through again.
// It is valid only while its token is (exp, nbf, key still published) and its policy is in force.
type allowed struct {
	id     *tokens.Identity
	policy *policy.Policy
	route  *matcher.Route
	org    string
	roles  string
	perms  string
	reason string
	cost   int64 // bytes charged to the decision cache

	// The forwarded header values, built once per decision: under Yaegi a slice literal per header
	// per request costs more than the whole lookup. values holds the subject, issuer, org, roles,
	// permissions and signed assertion values in the order of Gatehouse.hNames, each nil when its
	// header is not set (values itself is nil for an unsigned public route's allow); one loop
	// writes them all, which costs the warm path a fifth of six separate writes under Yaegi.
	values [][]string
	vOrg   []string // values[2], for the tenant header

	remintAt int64  // Unix seconds from which a replay must mint a fresh assertion
	retired  *int32 // the verifying key's retired flag (tokens.Identity.RetiredFlag); never nil in the cache

	// The window in which the inline replays may use the entry, set by putDecision: from
	// nbf - leeway (inclusive) to the earlier of exp + leeway and remintAt (exclusive), Unix seconds.
	from, until int64
}

// Bounds of one decision-cache entry: the key is at most a method, a path of maxPathLength, a tenant
// source of maxTenantKey and a token of tokens.MaxTokenSize; requests beyond them are not cached.
const (
	maxTenantKey = 256
	maxMethodKey = 32
	// maxBearerValue is the longest Authorization value whose token can be cached: "Bearer " and
	// a token of tokens.MaxTokenSize (a constant here, where Yaegi folds it: the sum written
	// inline takes a frame slot).
	maxBearerValue = tokens.MaxTokenSize + 7
	// entryOverhead is charged per entry on top of the bytes of its strings: the map slot, the
	// allowed struct and the identity's own structure, rounded up (measured in TestCacheMemoryBound).
	entryOverhead = 640
)

// decisionCache maps a request's exact shape (method, escaped path, tenant source, token) to its
// allow, so that a repeated request costs a few map lookups under Yaegi instead of the whole
// pipeline. Bounded in entries and in bytes (keys, forwarded values and the identity each entry
// keeps alive); arbitrary entries are evicted until a new one fits. Safe for concurrent use.
type decisionCache struct {
	mu       sync.Mutex
	max      int
	maxBytes int64
	bytes    int64
	m        map[string]*allowed
}

func newDecisionCache(max int, maxBytes int64) *decisionCache {
	if max <= 0 || maxBytes <= 0 {
		return nil
	}
	return &decisionCache{max: max, maxBytes: maxBytes, m: make(map[string]*allowed, 64)}
}

// putDecision stores an allow under key (a plain function: under Yaegi a method call costs about 28
// allocations more, and every cold request that is cached makes this call).
func putDecision(c *decisionCache, key string, a *allowed, leeway int64) {
	id := a.id
	if a.retired = tokens.RetiredFlagOf(id); a.retired == nil {
		return // an identity without a key is never replayed
	}
	a.from = id.NotBefore - leeway
	until := id.Expires + leeway
	if a.remintAt < until {
		until = a.remintAt
	}
	a.until = until
	cost := int64(len(key)+len(a.org)+len(a.roles)+len(a.perms)+len(a.reason)) + tokens.BytesOf(id) + entryOverhead
	a.cost = cost
	if cost > c.maxBytes {
		return
	}
	c.mu.Lock()
	// One if per case, not ||: under Yaegi each || is a slot more.
	if len(c.m) >= c.max {
		makeRoom(c, key, cost)
	} else if c.bytes+cost > c.maxBytes {
		makeRoom(c, key, cost)
	} else if c.m[key] != nil {
		makeRoom(c, key, cost)
	}
	c.m[key] = a
	c.bytes += cost
	c.mu.Unlock()
}

// makeRoom (c locked) removes key's entry and then arbitrary entries until one of cost fits within
// the cache's bounds. A function of its own: until the cache is full, puts need none of it.
func makeRoom(c *decisionCache, key string, cost int64) {
	if old := c.m[key]; old != nil {
		c.bytes -= old.cost
		delete(c.m, key)
	}
	for len(c.m) > 0 && (len(c.m) >= c.max || c.bytes+cost > c.maxBytes) {
		for k, v := range c.m {
			c.bytes -= v.cost
			delete(c.m, k)
			break
		}
	}
}

// stale drops the entry under key (no longer valid) and reports false, for replay's returns.
func stale(c *decisionCache, key string) bool {
	dropDecision(c, key)
	return false
}

func dropDecision(c *decisionCache, key string) {
	c.mu.Lock()
	if old := c.m[key]; old != nil {
		c.bytes -= old.cost
		delete(c.m, key)
	}
	c.mu.Unlock()
}

// publicCache remembers which method and escaped path matched a public route, so that a repeated
// public request costs one lookup under Yaegi instead of the path rule and the tree walk. Routes are
// fixed at New, so an entry never goes stale. Bounded in entries and bytes like the decision cache.
type publicCache struct {
	mu       sync.Mutex
	max      int
	maxBytes int64
	bytes    int64
	m        map[string]*matcher.Route
}

func newPublicCache(max int, maxBytes int64) *publicCache {
	if max <= 0 || maxBytes <= 0 {
		return nil
	}
	return &publicCache{max: max, maxBytes: maxBytes, m: make(map[string]*matcher.Route, 16)}
}

// publicEntryOverhead is charged per public-cache entry on top of its key (map slot and string header).
const publicEntryOverhead = 128

// putPublic remembers that key (method and escaped path) matched the public route r.
func putPublic(c *publicCache, key string, r *matcher.Route) {
	cost := int64(len(key)) + publicEntryOverhead
	c.mu.Lock()
	if c.m[key] == nil {
		for len(c.m) > 0 && (len(c.m) >= c.max || c.bytes+cost > c.maxBytes) {
			for k := range c.m {
				c.bytes -= int64(len(k)) + publicEntryOverhead
				delete(c.m, k)
				break
			}
		}
		c.m[key] = r
		c.bytes += cost
	}
	c.mu.Unlock()
}

// warm is the warm path: a cached allow for this exact request (decision cache), or a path known
// to match a public route (public cache). It reports whether it let the request through.
func warm(g *Gatehouse, req *http.Request) bool {
	// One if per test, not &&: under Yaegi each && is a slot more.
	if g.decisions != nil {
		if auth := req.Header["Authorization"]; auth != nil {
			if replay(g, req, auth) {
				return true
			}
		}
	}
	if g.public == nil {
		return false
	}
	return warmPublicOverride(g, req)
}

// warmPublicOverride is warm's lookup in the public cache (a function of its own: a replayed
// allow reserves none of it).
func warmPublicOverride(g *Gatehouse, req *http.Request) bool {
	c := g.public
	path := req.URL.EscapedPath()
	if len(path) > g.maxPath {
		return false
	}
	key := req.Method + "\x00" + path
	c.mu.Lock()
	r := c.m[key]
	c.mu.Unlock()
	if r == nil {
		return false
	}
	forward(g, req, nil)
	if g.auditAllowed {
		g.allowAudit(req, r, nil, "", "public route")
	}
	return true
}

// requestKey returns the decision-cache key of a request whose only token source is a single
// Authorization header, or "" when the request cannot use the cache. The token in the key is the
// raw text after "Bearer "; the slow path stores only keys whose token it extracted identically.
// NUL separates the parts: it can appear in none of them. Nothing is copied for a request whose
// parts exceed the bounds (token cap, maxPathLength): it takes the slow path, which refuses it.
func requestKey(g *Gatehouse, req *http.Request) string {
	if g.decisions == nil {
		return ""
	}
	return decisionKey(g, req, req.Header["Authorization"], req.URL.EscapedPath())
}

// decisionKey builds the key of requestKey from the request's Authorization values and escaped path.
func decisionKey(g *Gatehouse, req *http.Request, auth []string, path string) string {
	if len(auth) != 1 {
		return ""
	}
	v := auth[0]
	// One if per case, not || and &&: under Yaegi each of those is a slot more.
	if len(v) < 8 {
		return ""
	}
	if len(v) > maxBearerValue {
		return ""
	}
	if v[:7] != "Bearer " {
		if !bearer(v) {
			return ""
		}
	}
	tenant := ""
	if g.tenantByHost {
		tenant = req.Host
	} else if g.tenantHeader != "" {
		t := req.Header[g.tenantHeader]
		if len(t) != 1 {
			return ""
		}
		tenant = t[0]
	}
	if len(path) > g.maxPath {
		return ""
	}
	if len(tenant) > maxTenantKey {
		return ""
	}
	if len(req.Method) > maxMethodKey {
		return ""
	}
	return req.Method + "\x00" + path + "\x00" + tenant + "\x00" + v[7:]
}

// replay lets a request through from a cached allow if it is still valid; it reports whether it
// did. With the header rule in ServeHTTP it is the whole warm path, kept to few calls (plain
// functions: under Yaegi a method call costs about five times as much).
// auth is the request's Authorization values (g.decisions is not nil).
func replay(g *Gatehouse, req *http.Request, auth []string) bool {
	key := decisionKey(g, req, auth, req.URL.EscapedPath())
	if key == "" {
		return false
	}
	c := g.decisions
	c.mu.Lock()
	a := c.m[key]
	c.mu.Unlock()
	if a == nil {
		return false
	}
	now := time.Now()
	unix := now.Unix()
	pol := g.staticPolicy
	if g.dynamic {
		pol = replayPolicy(g, a, now) // nil (control plane down, nothing known) never equals a.policy
	}
	// One if per case, not ||: under Yaegi each || is a slot more. a.from is nbf - leeway
	// (putDecision); the end of the entry's window is not a.until, which also ends at remintAt.
	if unix >= a.id.Expires+g.leeway {
		return stale(c, key)
	}
	if unix < a.from {
		return stale(c, key)
	}
	if pol != a.policy {
		return stale(c, key)
	}
	if tokens.KeyRetiredOf(a.id) {
		return stale(c, key)
	}
	if unix >= a.remintAt {
		if a = reminted(g, req, c, key, a, unix); a == nil {
			return false
		}
	}
	forward(g, req, a)
	if g.auditAllowed {
		auditAllow(g, req, a)
	}
	return true
}

// replayPolicy is the policy in force at now for the cached allow a when it can change after New
// (policyFile, policyURL, assignmentsURL): replay's, in a function of its own so that the inline
// policy's replays reserve none of it.
func replayPolicy(g *Gatehouse, a *allowed, now time.Time) *policy.Policy {
	if g.controlPlane {
		return controlPlanePolicy(g, a.id, now)
	}
	return policy.CurrentFile(g.policyFile, now)
}

// reminted is replay's allow when its assertion is close to its exp: the same allow with a fresh
// assertion (a copy: cached entries are read concurrently and never changed), stored in place of
// a; nil (a dropped) when minting failed.
func reminted(g *Gatehouse, req *http.Request, c *decisionCache, key string, a *allowed, unix int64) *allowed {
	fresh := *a
	if !sign(g, &fresh, req, time.Unix(unix, 0)) {
		dropDecision(c, key)
		return nil
	}
	a = &fresh
	putDecision(c, key, a, g.leeway)
	return a
}
