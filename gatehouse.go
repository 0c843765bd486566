package gatehouse

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// Gatehouse is the compiled middleware. Every field is read-only after New.
type Gatehouse struct {
	next         http.Handler
	name         string
	verifier     *tokens.Verifier
	sources      []tokens.Source
	routes       *matcher.Table
	unmatched    *matcher.Route
	tenant       *policy.Tenant
	staticPolicy *policy.Policy
	policyFile   *policy.File
	trust        policy.Options
	forwardToken bool
	auditAllowed bool
	shadow       bool

	prefix       string // normalized identity header prefix ("x-auth-")
	prefixFirst  byte
	hSubject     string
	hOrg         string
	hRoles       string
	hPermissions string
	realm        string
	challenge    string
}

// outcome is everything a response and an audit line need.
type outcome struct {
	status     int
	code       string // RFC 6750 error code: "", invalid_token or insufficient_scope
	detail     string // short category shown to the client
	reason     string // full reason, audit only
	route      *matcher.Route
	permission string
	id         *tokens.Identity
	org        string
}

// authorize runs the pipeline and reports whether the request may go on to the backend. A panic
// here is recovered and denied (500); panics of the backend itself are not ours to catch.
func (g *Gatehouse) authorize(rw http.ResponseWriter, req *http.Request) (pass bool) {
	defer func() {
		if r := recover(); r != nil {
			pass = false
			g.respond(rw, req, &outcome{status: 500, detail: "internal error", reason: "panic in gatehouse: " + panicText(r)})
		}
	}()
	g.stripIdentity(req.Header)
	o := g.evaluate(req)
	if o == nil {
		return true
	}
	if g.shadow {
		g.audit(req, o, "shadow-deny")
		return true
	}
	g.respond(rw, req, o)
	return false
}

// evaluate returns nil to let the request through (identity headers already set), or the denial.
func (g *Gatehouse) evaluate(req *http.Request) *outcome {
	if req.URL.Opaque != "" {
		return &outcome{status: 400, detail: "unsafe path", reason: "opaque request URI"}
	}
	segs, err := matcher.Split(req.URL.EscapedPath())
	if err != nil {
		return &outcome{status: 400, detail: "unsafe path", reason: "path " + req.URL.EscapedPath() + " could be read differently by the backend"}
	}
	route, vals := g.routes.Match(req.Method, segs)
	if route == nil {
		route = g.unmatched
	}
	switch route.Requirement {
	case matcher.Public:
		g.allowAudit(req, route, nil, "", "public route")
		return nil
	case matcher.Deny:
		return &outcome{status: 403, code: "insufficient_scope", detail: "no route", reason: "no route matches " + req.Method + " " + req.URL.EscapedPath(), route: route}
	}
	token, err := tokens.Extract(req, g.sources)
	if err != nil {
		return g.tokenDenial(err, route)
	}
	id, err := g.verifier.Verify(token)
	if err != nil {
		return g.tokenDenial(err, route)
	}
	target := g.tenant.Locate(req, route, segs, vals)
	pol := g.currentPolicy()
	d := policy.Decide(pol, g.trust, id, route, target)
	if !d.Allow {
		if g.shadow {
			g.setIdentity(req, pol, id, d.Org, target.Resource)
		}
		return &outcome{status: 403, code: "insufficient_scope", detail: "forbidden", reason: d.Reason, route: route, permission: d.Permission, id: id, org: d.Org}
	}
	g.setIdentity(req, pol, id, d.Org, target.Resource)
	if !g.forwardToken {
		tokens.Remove(req, g.sources)
	}
	g.allowAudit(req, route, id, d.Org, d.Reason)
	return nil
}

func (g *Gatehouse) tokenDenial(err error, route *matcher.Route) *outcome {
	switch err {
	case tokens.ErrNoToken:
		return &outcome{status: 401, detail: "token required", reason: "no token", route: route}
	case tokens.ErrKeysUnavailable:
		return &outcome{status: 503, detail: "key source unavailable", reason: err.Error(), route: route}
	}
	return &outcome{status: 401, code: "invalid_token", detail: tokens.Category(err), reason: err.Error(), route: route}
}

func (g *Gatehouse) currentPolicy() *policy.Policy {
	if g.policyFile != nil {
		return g.policyFile.Current(time.Now())
	}
	return g.staticPolicy
}

// stripIdentity deletes every header whose name, lowercased with "_" and "." read as "-", starts
// with the identity prefix: clients can neither set nor append identity.
func (g *Gatehouse) stripIdentity(h http.Header) {
	n := len(g.prefix)
	for name := range h {
		if len(name) >= n && name[0]|0x20 == g.prefixFirst && normalizeHeaderName(name[:n]) == g.prefix {
			delete(h, name)
		}
	}
}

var headerNormalizer = strings.NewReplacer("_", "-", ".", "-")

func normalizeHeaderName(s string) string {
	return headerNormalizer.Replace(strings.ToLower(s))
}

func (g *Gatehouse) setIdentity(req *http.Request, pol *policy.Policy, id *tokens.Identity, org string, resource []string) {
	roles, perms := policy.Grants(pol, g.trust, id, org, resource)
	h := req.Header
	if id.Subject != "" {
		h[g.hSubject] = []string{id.Subject}
	}
	if org != "" {
		h[g.hOrg] = []string{org}
	}
	if len(roles) > 0 {
		h[g.hRoles] = []string{strings.Join(roles, ",")}
	}
	if len(perms) > 0 {
		h[g.hPermissions] = []string{strings.Join(perms, ",")}
	}
}
