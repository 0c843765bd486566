package gatehouse

import (
	"net/http"
	"strings"
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
	// per request costs more than the whole lookup. Each is nil when the header is not set.
	vSubject, vIssuer, vOrg, vRoles, vPerms []string
}

// Bounds of one decision-cache entry: the key is at most a method, a path of maxPathLength, a tenant
// source of maxTenantKey and a token of tokens.MaxTokenSize; requests beyond them are not cached.
const (
	maxTenantKey = 256
	maxMethodKey = 32
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

func (c *decisionCache) put(key string, a *allowed) {
	a.cost = int64(len(key)+len(a.org)+len(a.roles)+len(a.perms)+len(a.reason)) + a.id.Bytes() + entryOverhead
	if a.cost > c.maxBytes {
		return
	}
	c.mu.Lock()
	if old := c.m[key]; old != nil {
		c.bytes -= old.cost
		delete(c.m, key)
	}
	for len(c.m) > 0 && (len(c.m) >= c.max || c.bytes+a.cost > c.maxBytes) {
		for k, v := range c.m {
			c.bytes -= v.cost
			delete(c.m, k)
			break
		}
	}
	c.m[key] = a
	c.bytes += a.cost
	c.mu.Unlock()
}

func (c *decisionCache) drop(key string) {
	c.mu.Lock()
	if old := c.m[key]; old != nil {
		c.bytes -= old.cost
		delete(c.m, key)
	}
	c.mu.Unlock()
}

// requestKey returns the decision-cache key of a request whose only token source is a single
// Authorization header, or "" when the request cannot use the cache. The token in the key is the
// raw text after "Bearer "; the slow path stores only keys whose token it extracted identically.
// NUL separates the parts: it can appear in none of them. Nothing is copied for a request whose
// parts exceed the bounds (token cap, maxPathLength): it takes the slow path, which refuses it.
func (g *Gatehouse) requestKey(req *http.Request) string {
	if g.decisions == nil {
		return ""
	}
	v := req.Header["Authorization"]
	if len(v) != 1 || len(v[0]) < 8 || len(v[0]) > tokens.MaxTokenSize+7 || v[0][6] != ' ' || !strings.EqualFold(v[0][:6], "bearer") {
		return ""
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
	path := req.URL.EscapedPath()
	if len(path) > g.maxPath || len(tenant) > maxTenantKey || len(req.Method) > maxMethodKey {
		return ""
	}
	return req.Method + "\x00" + path + "\x00" + tenant + "\x00" + v[0][7:]
}

// replay lets a request through from a cached allow if it is still valid; it reports whether it
// did. With the header strip in ServeHTTP it is the whole warm path, kept to few calls: under
// Yaegi each call costs about a microsecond.
func (g *Gatehouse) replay(req *http.Request) bool {
	key := g.requestKey(req)
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
	if unix >= a.id.Expires+g.leeway || unix < a.id.NotBefore-g.leeway || g.currentPolicyAt(now) != a.policy || a.id.KeyRetired() {
		c.drop(key)
		return false
	}
	g.forward(req, a)
	if g.auditAllowed {
		g.allowAudit(req, a.route, a.id, a.org, a.reason)
	}
	return true
}
