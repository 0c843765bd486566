package gatehouse

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/assertion"
	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// Gatehouse is the compiled middleware. Every field is read-only after New.
type Gatehouse struct {
	next               http.Handler
	name               string
	verifier           *tokens.Verifier
	sources            []tokens.Source
	routes             *matcher.Table
	unmatched          *matcher.Route
	tenant             *policy.Tenant
	staticPolicy       *policy.Policy // the inline policy (nil with policyFile)
	policyFile         *policy.File
	remote             *policy.Remote // policyURL: the control plane's bundle
	lookup             *policy.Lookup // assignmentsURL: per-subject assignments
	controlPlane       bool           // remote or lookup: the policy comes (partly) from the control plane
	dynamic            bool           // the policy may change after New (policyFile or controlPlane)
	issuers            []string       // the trusted issuers, for checking bundles
	bundleSeen         *bundleCheck   // the last bundle or policy-file parse checked against the routes
	trust              policy.Options
	forwardToken       bool
	dropToken          bool // !forwardToken, for the inline warm path (one slot less than the !)
	auditAllowed       bool
	shadow             bool
	overridesAuthorize bool // overrides: authorize (else refuse)
	decisions          *decisionCache
	public             *publicCache
	bearerOnly         bool   // the only token source is the Authorization header (tokens.HeaderToken reads it)
	replaysInServe     bool   // caches but not plainForward: serve replays cached answers (warm) before deciding
	plainForward       bool   // the warm path may forward inline: no tenant header, no allow audit, no signed public route
	finishAllow        bool   // an allow may be signed, stored or audited: evaluate ends it in finish
	plainAllow         bool   // not finishAllow, token kept, no tenant header: evaluate ends an allow in plainAllow
	tenantByHost       bool   // the decision key must include the Host
	tenantHeader       string // the decision key must include this header (header tenant mode)
	leeway             int64  // seconds
	maxPath            int    // longest escaped path served (414 beyond)
	sets               []*tokens.RemoteSet

	protect *protection // the header rule
	// The header rule's byte filters, read by ServeHTTP (fields of Gatehouse rather than of
	// protection: one selector each under Yaegi, and no local for g.protect). Strings of 256
	// bytes, 1 where the raw byte folds to the byte at that position of a protected name (every
	// byte for a name shorter than that): indexing an array field copies the array, a string not.
	first string // the first byte
	third string // the third byte
	fifth string // the fifth byte

	prefixText    string // the identity header prefix as configured
	hAssertion    string
	signer        *assertion.Signer // nil: no assertion
	signPublic    bool              // assertion.public
	remint        int64             // seconds before an assertion's exp when a replay mints a fresh one
	jwksPath      string            // assertionJWKSPath
	publishesJWKS bool              // jwksPath != ""
	hSubject      string
	hIssuer       string
	hOrg          string
	hRoles        string
	hPermissions  string
	hNames        []string // hSubject, hIssuer, hOrg, hRoles, hPermissions, hAssertion: the names of allowed.values
	challenge     string
}

// Other packages' constants that the request path compares with, as constants of this package:
// under Yaegi a constant of another package read in a function takes a frame slot (a selector),
// one of this package is folded.
const (
	methodPost    = http.MethodPost
	requirePublic = matcher.Public
	requireDeny   = matcher.Deny
)

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
	grant      *allowed // shadow mode: what the request forwards although denied
}

// authorize runs the whole pipeline (identity headers already stripped) and reports whether the
// request may go on to the backend; on a denial it has written the response.
func authorize(g *Gatehouse, rw http.ResponseWriter, req *http.Request) bool {
	o := evaluate(g, req, "")
	if o == nil {
		return true
	}
	return !answeredDenial(g, rw, req, o)
}

// answeredDenial answers a denial, or in shadow mode audits it and forwards the request anyway; it
// reports whether it answered (the request does not go on). A function of its own: most requests
// are allowed, and serve and authorize then reserve no slot for this.
func answeredDenial(g *Gatehouse, rw http.ResponseWriter, req *http.Request, o *outcome) bool {
	if g.shadow && o.status != 500 {
		g.audit(req, o, "shadow-deny")
		forward(g, req, o.grant)
		return false
	}
	g.respond(rw, req, o)
	return true
}

// fail answers a panic in Gatehouse with a 500: the request is never passed through.
func fail(g *Gatehouse, rw http.ResponseWriter, req *http.Request, r interface{}) {
	g.respond(rw, req, &outcome{status: 500, detail: "internal error", reason: "panic in gatehouse: " + panicText(r)})
}

// evaluate returns nil to let the request through (the request already shaped for the backend), or
// the denial. key is the request's decision-cache key if the caller has it already ("": finish
// builds it if it stores the allow). A plain function with its rare branches in their own
// functions: under Yaegi a call reserves room for every variable and intermediate value of the
// function it enters, taken or not.
// strToUpper is strings.ToUpper for evaluate: under Yaegi a package variable is no frame slot,
// where a compiled package's function named in the frame is one.
var strToUpper = strings.ToUpper

func evaluate(g *Gatehouse, req *http.Request, key string) *outcome {
	path := req.URL.EscapedPath()
	// One if per refusal, not ||: under Yaegi a || costs more than another return.
	if req.URL.Opaque != "" {
		return refused(g, req, path)
	}
	if len(path) > g.maxPath {
		return refused(g, req, path)
	}
	method := req.Method
	if strToUpper(method) != method {
		return refused(g, req, path)
	}
	segs, err := matcher.Split(path)
	if err != nil {
		return refused(g, req, path)
	}
	route, vals := matcher.MatchTable(g.routes, method, segs)
	if route == nil {
		route = g.unmatched
	}
	switch route.Requirement {
	case requirePublic, requireDeny:
		return publicOrDeny(g, req, route, path)
	}
	var token string
	if g.bearerOnly { // the default source: one call and Extract's frame fewer under Yaegi
		token, err = tokens.HeaderToken(req.Header["Authorization"], true)
	} else {
		token, err = tokens.Extract(req, g.sources)
	}
	if err != nil {
		return tokenDenial(err, route)
	}
	id, err := tokens.VerifyToken(g.verifier, token)
	if err != nil {
		return tokenDenial(err, route)
	}
	target := policy.LocateTarget(g.tenant, req, route, segs, vals)
	pol := g.staticPolicy
	if g.dynamic {
		pol = dynamicPolicy(g, id)
		if pol == nil {
			return unavailable(g, id, route)
		}
	}
	d := policy.Decide(pol, g.trust, id, route, target)
	if d.Allow { // not if !d.Allow { return …: the ! is a slot more under Yaegi
		if g.plainAllow {
			plainAllow(g, req, pol, id, d, target)
			return nil
		}
		a := grant(g, pol, id, route, d, target)
		if g.finishAllow {
			return finish(g, req, key, token, a)
		}
		forward(g, req, a)
		return nil
	}
	return forbidden(g, pol, id, route, d, target)
}

// finish is the end of evaluate's allow when the allow is signed, cached or audited: rarer than
// a plain forward, so evaluate reserves no slot for it. The allow is stored under the request's
// decision-cache key (key, or requestKey when key is "": "" when it has none) when the token is
// the one the key holds.
func finish(g *Gatehouse, req *http.Request, key, token string, a *allowed) *outcome {
	if g.signer != nil {
		if o := signAllow(g, req, a); o != nil {
			return o
		}
	}
	if key == "" {
		key = requestKey(g, req)
	}
	// The key ends with the token as extracted (NUL before it): one compiled call under Yaegi
	// costs less than the four comparisons that say the same.
	if strings.HasSuffix(key, "\x00"+token) {
		putDecision(g.decisions, key, a, g.leeway)
	}
	forward(g, req, a)
	if g.auditAllowed {
		auditAllow(g, req, a)
	}
	return nil
}

// signAllow signs the allow a (sign) and returns nil, or the 500 when the assertion could not be
// signed. A function of its own: finish then reserves no slot for the outcome.
func signAllow(g *Gatehouse, req *http.Request, a *allowed) *outcome {
	if sign(g, a, req, time.Now()) {
		return nil
	}
	return &outcome{status: 500, detail: "internal error", reason: "the identity assertion could not be signed", route: a.route, id: a.id, org: a.org}
}

// auditAllow writes the audit line of the allow a (a function of its own for finish's frame).
func auditAllow(g *Gatehouse, req *http.Request, a *allowed) {
	g.allowAudit(req, a.route, a.id, a.org, a.reason)
}

// refused is the answer to an opaque, overlong or ambiguous path, or a method not upper-case.
func refused(g *Gatehouse, req *http.Request, path string) *outcome {
	switch {
	case req.URL.Opaque != "":
		return &outcome{status: 400, detail: "unsafe path", reason: "opaque request URI"}
	case len(path) > g.maxPath:
		return &outcome{status: 414, detail: "path too long", reason: "path of " + strconv.Itoa(len(path)) + " bytes exceeds maxPathLength " + strconv.Itoa(g.maxPath)}
	case strings.ToUpper(req.Method) != req.Method:
		// RFC 9110 methods are case-sensitive, but many backends upper-case them: "delete" would
		// match no DELETE route here and be performed as DELETE there.
		return &outcome{status: 400, detail: "method not upper-case", reason: "the method is not upper-case"}
	}
	return &outcome{status: 400, detail: "unsafe path", reason: "the path could be read differently by the backend"}
}

// publicOrDeny lets a public route through (remembering it) or answers a deny route.
func publicOrDeny(g *Gatehouse, req *http.Request, route *matcher.Route, path string) *outcome {
	if route.Requirement == matcher.Deny {
		if route == g.unmatched {
			return &outcome{status: 403, code: "insufficient_scope", detail: "no route", reason: "no route matches", route: route}
		}
		return &outcome{status: 403, code: "insufficient_scope", detail: "forbidden", reason: "the route denies every request", route: route}
	}
	if g.signPublic {
		a := &allowed{route: route, reason: "public route", remintAt: 1 << 62}
		if !sign(g, a, req, time.Now()) {
			return &outcome{status: 500, detail: "internal error", reason: "the identity assertion could not be signed", route: route}
		}
		forward(g, req, a)
	} else {
		if g.public != nil {
			putPublic(g.public, req.Method+"\x00"+path, route)
		}
		forward(g, req, nil)
	}
	if g.auditAllowed {
		g.allowAudit(req, route, nil, "", "public route")
	}
	return nil
}

// forbidden is the 403 of a policy decision (in shadow mode with what the request forwards anyway).
func forbidden(g *Gatehouse, pol *policy.Policy, id *tokens.Identity, route *matcher.Route, d policy.Decision, target policy.Target) *outcome {
	o := &outcome{status: 403, code: "insufficient_scope", detail: "forbidden", reason: d.Reason, route: route, permission: d.Permission, id: id, org: d.Org}
	if g.shadow {
		o.grant = grant(g, pol, id, route, d, target)
	}
	return o
}

// grant computes what a decision forwards: the roles and permissions id holds in the decision's org,
// and the header values, built once.
func grant(g *Gatehouse, pol *policy.Policy, id *tokens.Identity, route *matcher.Route, d policy.Decision, target policy.Target) *allowed {
	org := d.Org
	roles, perms := policy.GrantHeaders(pol, g.trust, id, org, target.Resource)
	values := make([][]string, 6)
	for i, s := range []string{id.Subject, id.Issuer, org, roles, perms} {
		if s != "" {
			values[i] = []string{s}
		}
	}
	return &allowed{id: id, policy: pol, route: route, org: org, roles: roles, perms: perms, reason: d.Reason, remintAt: 1 << 62,
		values: values, vOrg: values[2]}
}

// plainAllow is grant and forward in one for an allow that is neither signed, cached nor audited,
// with the token kept and no tenant header (Gatehouse.plainAllow): it writes the identity headers
// grant's values would hold, without building the allow. Under Yaegi the two frames and the allow
// cost a cold request more than the headers. TestThePlainAllowForwardsWhatGrantAndForwardDo holds
// it to grant and forward.
func plainAllow(g *Gatehouse, req *http.Request, pol *policy.Policy, id *tokens.Identity, d policy.Decision, target policy.Target) {
	roles, perms := policy.GrantHeaders(pol, g.trust, id, d.Org, target.Resource)
	for i, s := range []string{id.Subject, id.Issuer, d.Org, roles, perms} {
		if s != "" {
			req.Header[g.hNames[i]] = []string{s}
		}
	}
}

func tokenDenial(err error, route *matcher.Route) *outcome {
	switch err {
	case tokens.ErrNoToken:
		return &outcome{status: 401, detail: "token required", reason: "no token", route: route}
	case tokens.ErrKeysUnavailable:
		return &outcome{status: 503, detail: "key source unavailable", reason: err.Error(), route: route}
	}
	return &outcome{status: 401, code: "invalid_token", detail: tokens.Category(err), reason: err.Error(), route: route}
}

// release gives back the shared key sets and policy file this middleware holds (ctx cancelled).
func (g *Gatehouse) release() {
	defer func() { _ = recover() }() // runs in its own goroutine: a panic there would kill Traefik
	for _, s := range g.sets {
		s.Release()
	}
	if g.policyFile != nil {
		g.policyFile.Release()
	}
	if g.remote != nil {
		g.remote.Release()
	}
	if g.lookup != nil {
		g.lookup.Release()
	}
}

// basePolicy returns the policy every subject shares: the bundle (nil before the first one), the
// policy file's current parse, or the inline policy.
func basePolicy(g *Gatehouse, now time.Time) *policy.Policy {
	if g.remote != nil {
		p := policy.CurrentRemote(g.remote, now)
		if p != nil {
			checkBundle(g, p)
		}
		return p
	}
	if g.policyFile != nil {
		return currentFile(g, now)
	}
	return g.staticPolicy
}

// currentFile is the policy file's current parse, checked against the routes the first time a
// request meets it (a reload that drops a permission a route requires is reported, as a bundle's).
func currentFile(g *Gatehouse, now time.Time) *policy.Policy {
	p := policy.CurrentFile(g.policyFile, now)
	if p != nil {
		checkBundle(g, p)
	}
	return p
}

// dynamicPolicy returns the policy in force for id when it can change after New (policyFile,
// policyURL, assignmentsURL); nil when the control plane could not provide it. One plain call, so
// that the inline policy's paths reserve no slot for any of it (docs/yaegi.md).
func dynamicPolicy(g *Gatehouse, id *tokens.Identity) *policy.Policy {
	if g.controlPlane {
		return controlPlanePolicy(g, id, time.Now())
	}
	return currentFile(g, time.Now())
}

// controlPlanePolicy returns the policy that decides for id: the base policy with, under
// assignmentsURL, id's looked-up assignments added. nil: the control plane could not provide it
// (the request is answered 503). The pointer stays the same while nothing changes, so cached
// decisions stay valid; a new bundle or changed assignments give a new one.
func controlPlanePolicy(g *Gatehouse, id *tokens.Identity, now time.Time) *policy.Policy {
	base := basePolicy(g, now)
	if base == nil || g.lookup == nil || id == nil || id.Subject == "" {
		return base
	}
	return policy.SubjectPolicy(g.lookup, base, id.Issuer, id.Subject, now)
}

// unavailable is the 503 of a request the control plane's policy must decide while none is there.
func unavailable(g *Gatehouse, id *tokens.Identity, route *matcher.Route) *outcome {
	o := &outcome{status: 503, detail: "policy not yet available from the control plane", route: route, id: id,
		reason: "no bundle from policyURL yet (the first fetch failed or is under way): failing closed"}
	if g.remote == nil || policy.HasBundle(g.remote) {
		o.detail = "assignments not available from the control plane"
		o.reason = "the subject's assignments could not be fetched from assignmentsURL and none are cached: failing closed"
	}
	return o
}

// bundleCheck remembers the last bundle a middleware checked against its routes.
type bundleCheck struct {
	mu   sync.Mutex
	seen *policy.Policy
}

// checkBundle (called with the bundle in force on every request that uses it) writes one error
// line when a new bundle lacks permissions the routes require (their
// requests are denied: nothing in the bundle can grant them) or holds assignments that grant
// nothing here (no issuer while several issuers are trusted, or an issuer that is not trusted).
func checkBundle(g *Gatehouse, p *policy.Policy) {
	b := g.bundleSeen
	b.mu.Lock()
	if b.seen == p {
		b.mu.Unlock()
		return
	}
	b.seen = p
	b.mu.Unlock()
	reportBundle(g, p)
}

// reportBundle is checkBundle's check of a bundle it has not seen: a function of its own, because
// under Yaegi checkBundle's early return would otherwise still reserve all of this on every
// request that reads the bundle.
func reportBundle(g *Gatehouse, p *policy.Policy) {
	noun := "bundle"
	var source string
	if g.remote != nil {
		source = `,"policyURL":` + jsonString(g.remote.URL())
	} else {
		noun = "policy file"
		source = `,"policyFile":` + jsonString(g.policyFile.Path())
	}
	var problems []string
	for _, r := range g.routes.Routes {
		req := r.Requirement
		if req != matcher.Public && req != matcher.Authenticated && req != matcher.Deny && !p.HasPermission(req) {
			problems = append(problems, "routes["+strconv.Itoa(r.Index)+"] "+strconv.Quote(r.Text)+" requires "+strconv.Quote(req)+", which the "+noun+" does not declare: its requests are denied")
		}
	}
	if g.trust.IssuerQualified {
		if u := p.Unqualified(); len(u) > 0 {
			problems = append(problems, strconv.Itoa(len(u))+" assignments name no issuer ("+strings.Join(boundedList(u, 5), ", ")+"), but several issuers are trusted: they grant nothing")
		}
	}
	for _, iss := range p.Issuers() {
		if len(g.issuers) > 0 && !hasString(g.issuers, iss) {
			problems = append(problems, "assignments name issuer "+strconv.Quote(iss)+", which is not among issuers: they grant nothing")
		}
	}
	if len(problems) > 0 {
		_, _ = os.Stderr.WriteString(`{"gatehouse":` + jsonString(g.name) + source + `,"error":` + jsonString(strings.Join(problems, "; ")) + "}\n")
	}
}

func boundedList(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(append([]string(nil), list[:n]...), "…")
}

// sign mints the identity assertion of an allow (a) for this request and records when a replay of
// it must mint again. It reports false if minting failed: the request is then refused.
func sign(g *Gatehouse, a *allowed, req *http.Request, now time.Time) bool {
	c := assertion.Claims{Org: a.org, Permission: a.route.Requirement, Route: a.route.Text, Method: req.Method, Path: req.URL.EscapedPath()}
	if a.id != nil {
		c.Subject = a.id.Subject
		c.Vouched = a.id.Issuer
		if a.roles != "" {
			c.Roles = strings.Split(a.roles, ",")
		}
	}
	tok, exp := g.signer.Mint(c, now)
	if tok == "" {
		return false
	}
	// A new slice: a replay's copy of a cached allow shares the cached one's values.
	values := make([][]string, 6)
	copy(values, a.values)
	values[5] = []string{tok}
	a.values = values
	a.remintAt = exp - g.remint
	return true
}

// publishedJWKS answers a request for assertionJWKSPath (spelt exactly, no escapes) with the
// published keys and reports whether it did.
func publishedJWKS(g *Gatehouse, rw http.ResponseWriter, req *http.Request) bool {
	if req.URL.Path == g.jwksPath && req.URL.RawPath == "" {
		publishJWKS(g, rw, req)
		return true
	}
	return false
}

// publishJWKS answers the assertion key set (RFC 7517 §5) at assertionJWKSPath.
func publishJWKS(g *Gatehouse, rw http.ResponseWriter, req *http.Request) {
	h := rw.Header()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		g.respond(rw, req, &outcome{status: 405, detail: "method not allowed", reason: "the assertion key set answers GET and HEAD"})
		return
	}
	body := g.signer.JWKS(time.Now())
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "max-age=60")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rw.WriteHeader(http.StatusOK)
	if req.Method == http.MethodGet {
		_, _ = rw.Write(body)
	}
}
