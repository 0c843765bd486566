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
}

// decisionCache maps a request's exact shape (method, escaped path, tenant source, token) to its
// allow, so that a repeated request costs a few map lookups under Yaegi instead of the whole
// pipeline. Bounded; an arbitrary entry is evicted when full. Safe for concurrent use.
type decisionCache struct {
	mu  sync.Mutex
	max int
	m   map[string]*allowed
}

func newDecisionCache(max int) *decisionCache {
	if max <= 0 {
		return nil
	}
	return &decisionCache{max: max, m: make(map[string]*allowed, 64)}
}

func (c *decisionCache) put(key string, a *allowed) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[key] = a
	c.mu.Unlock()
}

func (c *decisionCache) drop(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

// requestKey returns the decision-cache key of a request whose only token source is a single
// Authorization header, or "" when the request cannot use the cache. The token in the key is the
// raw text after "Bearer "; the slow path stores only keys whose token it extracted identically.
// NUL separates the parts: it can appear in none of them.
func (g *Gatehouse) requestKey(req *http.Request) string {
	if g.decisions == nil {
		return ""
	}
	v := req.Header["Authorization"]
	if len(v) != 1 || len(v[0]) < 8 || v[0][6] != ' ' || !strings.EqualFold(v[0][:6], "bearer") {
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
	return req.Method + "\x00" + req.URL.EscapedPath() + "\x00" + tenant + "\x00" + v[0][7:]
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
	g.setIdentity(req, a)
	if !g.forwardToken {
		tokens.Remove(req, g.sources)
	}
	if g.auditAllowed {
		g.allowAudit(req, a.route, a.id, a.org, a.reason)
	}
	return true
}
