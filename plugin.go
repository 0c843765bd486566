// Package gatehouse is a Traefik middleware plugin that authorizes every request at the trust
// boundary: it verifies the JWT, matches the route to the permission it requires, decides by RBAC
// with a tenant guard, forwards the verified identity in X-Auth-* headers (after stripping every
// client-sent copy) and explains each denial.
//
// New compiles everything (keys, routes, policy); ServeHTTP only looks up. A Gatehouse is safe for
// concurrent use.
package gatehouse

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// Config is the middleware configuration. Traefik decodes it with mapstructure from labels or the
// file provider: keys match case-insensitively, every value may arrive as a string, and a
// comma-separated string fills a list. Durations, sizes, numbers and booleans are strings ("30s",
// "8MiB", "10000", "false"), so that an option left unset ("") can be told from one set to its
// default: a settingsFile fills only what is unset, and New applies the defaults after that.
type Config struct {
	Issuers          []string
	Audiences        []string
	AllowAnyAudience string // "true": accept tokens for any audience even with keys from a JWKS (visible opt-out)
	JWKSURL          string
	Keys             []string
	Secret           string
	SecretFile       string
	Algorithms       []string
	Leeway           string
	RequireTyp       string
	TokenSources     []string
	ForwardToken     string // default true
	Claims           ClaimsConfig
	HeaderPrefix     string
	Realm            string
	AuditAllowed     string // default false
	CacheSize        string // entries of each cache, default 10000; 0 turns caching off
	CacheBytes       string // bytes of each cache, default 8MiB
	MaxPathLength    string // longest escaped request path, default 4096 (414 beyond)
	JWKSCooldown     string
	JWKSRefresh      string
	JWKSTimeout      string

	Routes                []string
	Unmatched             string
	Policy                string
	PolicyFile            string
	PolicyReload          string
	PolicyURL             string // the control plane's bundle (docs/control-plane.md); excludes policy and policyFile
	PolicyKey             string // the bundle verification key(s): PEM, a JWK or a JWKS, inline or a file
	PolicyCredential      string // the Bearer credential sent to the control plane
	PolicyCredentialFile  string // or a file holding it, read at every fetch (rotation without restart)
	AssignmentsURL        string // per-subject assignments: a URL template with {subject} (and {issuer})
	AssignmentsTTL        string // default 30s
	AssignmentsStale      string // default 5m
	AssignmentsCacheSize  string // default 10000
	TrustTokenPermissions string // default false
	Tenant                string
	Mode                  string
	Overrides             string // "refuse" (default) or "authorize"

	// Assertion signs every allowed request: a short-lived JWT of the decision in X-Auth-Assertion,
	// which backends verify against the keys published at AssertionJWKSPath.
	Assertion         AssertionConfig
	AssertionJWKSPath string // where Gatehouse answers with its public JWK Set (off when empty)

	// SettingsFile names a YAML file of options shared by many middlewares; it fills what this
	// configuration leaves unset.
	SettingsFile string

	// Unknown collects keys the decoder did not recognize; New fails on any (a typo must not
	// silently disable a check).
	Unknown map[string]interface{} `mapstructure:",remain"`
}

// ClaimsConfig names the claims identity is read from; dotted paths reach nested claims.
type ClaimsConfig struct {
	Subject     string
	Org         string
	Roles       string
	Permissions string
	OrgRoles    string
	Assignments string

	Unknown map[string]interface{} `mapstructure:",remain"`
}

// AssertionConfig configures the signed identity assertion (off when Key is empty).
type AssertionConfig struct {
	Key      string // PEM private key (EC P-256 for ES256, Ed25519 for EdDSA), inline or a file path
	KeyID    string // kid; default: the RFC 7638 thumbprint of the public key
	Issuer   string // iss of the assertions: the gateway's name (required)
	Audience string // aud; default: the middleware's name
	Lifetime string // default 60s
	Header   string // default <headerPrefix>Assertion
	Public   string // "true": sign public routes too

	Unknown map[string]interface{} `mapstructure:",remain"`
}

// CreateConfig returns an empty configuration: every option unset. Defaults are applied in New,
// after the settingsFile, so that a label equal to a default still overrides the file.
func CreateConfig() *Config {
	return &Config{}
}

// New compiles the configuration into a middleware. It reports every configuration problem at once
// and never returns a half-configured middleware. It makes no network call and starts no goroutine.
// The shared key sets and policy files it takes are released when ctx is cancelled (Traefik cancels
// it when it builds the next configuration generation).
func New(ctx context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	g, err := build(config, name)
	if err != nil {
		return nil, err
	}
	g.next = next
	if ctx != nil && ctx.Done() != nil {
		context.AfterFunc(ctx, g.release)
	}
	return g, nil
}

// ServeHTTP authorizes the request and either forwards it with identity headers or answers the
// denial itself. The backend is never called on a denial (except in shadow mode).
//
// The warm path (header rule, then a cached allow) is written as inline code and plain functions on
// purpose: under Yaegi a method call costs about five times a function call, and a deferred recover
// about a microsecond. It runs outside the recover of serve: it only reads maps and strings, and a
// panic there would still be answered 500 by Traefik's own recovery, never forwarded.
func (g *Gatehouse) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	h := req.Header
	override := ""
	for name := range h {
		// Cheap filters first (first, third and fifth byte, as the fold reads them), then one
		// compiled fold of the name: X-Forwarded-For, X-Real-Ip and most others stop at the filters.
		if name == "" {
			continue
		}
		if g.first[name[0]] == 0 {
			continue
		}
		if len(name) > 2 {
			if g.third[name[2]] == 0 {
				continue
			}
		}
		if len(name) > 4 {
			if g.fifth[name[4]] == 0 {
				continue
			}
		}
		if protectHeader(g, h, name) {
			override = name
		}
	}
	if req.Trailer != nil {
		stripTrailers(g, req)
	}
	if override != "" {
		serve(g, rw, req, override, "", true)
		return
	}
	if q := req.URL.RawQuery; q != "" {
		// Only a query that may hold _method takes the override rule's path; any other is
		// decided, cached and replayed like the same request without it (the decision key holds
		// the escaped path, not the query: no route, tenant or token source reads the query then).
		if queryMayOverride(q) {
			serve(g, rw, req, "", "", true)
			return
		}
	}
	if req.Method == methodPost {
		if formBody(h["Content-Type"]) {
			serve(g, rw, req, "", "", true)
			return
		}
	}
	if g.plainForward {
		// The warm path: a cached allow for this exact request, or a path known to match a
		// public route (written here rather than in a function: one call less for both).
		if auth := h["Authorization"]; auth != nil {
			if warmDecision(g, rw, req, h, auth) {
				return
			}
		} else if warmPublic(g, rw, req) {
			return
		}
	}
	// A configuration the inline warm path does not serve (a tenant header, allows audited,
	// signed public routes) replays its cached allows through serve's general
	// warm path, the one a request that may carry an override takes.
	serve(g, rw, req, "", "", g.replaysInServe)
}

// protectHeader applies the header rule to one request header that passed ServeHTTP's byte
// filters: it folds the name and deletes it when protected (identity prefix, assertion header, a
// tenant header spelling other than the canonical one). It reports whether the name is a method
// or path override. A function of its own, because few names get this far and under Yaegi every
// request would otherwise reserve its slots in ServeHTTP's frame.
func protectHeader(g *Gatehouse, h http.Header, name string) bool {
	p := g.protect
	f := headerFold.Replace(name)
	if strings.HasPrefix(f, p.prefix) {
		delete(h, name)
		return false
	}
	switch p.exact[f] {
	case hdrIdentity:
		delete(h, name)
	case hdrTenant:
		if name != g.tenantHeader {
			delete(h, name)
		}
	case hdrOverride:
		if g.overridesAuthorize {
			canonicalOverride(h, name)
		}
		return true
	}
	return false
}

// serve is everything but the warm path: the override rule, the decision cache, the pipeline. It
// answers its own panics with a 500 (never passing the request on); once the request is forwarded,
// a panic belongs to the backend (http.ErrAbortHandler included) and propagates.
//
// overrides says whether the request may carry an override (an override header, a query that may
// hold _method or a form body, as ServeHTTP found), or is one that the inline warm path does not
// replay (replaysInServe): only then are the override rule and the general warm path applied (an
// override rule with nothing to refuse costs little). key is the request's
// decision-cache key when warmDecision built it already (else "": finish builds it if it stores).
func serve(g *Gatehouse, rw http.ResponseWriter, req *http.Request, override, key string, overrides bool) {
	forwarded := false
	defer func() {
		if !forwarded {
			if r := recover(); r != nil {
				fail(g, rw, req, r)
			}
		}
	}()
	if g.publishesJWKS {
		if publishedJWKS(g, rw, req) {
			return
		}
	}
	// The answered… functions report that the request stops (not that it goes on): under Yaegi
	// a ! is one slot more.
	if overrides {
		if answeredOverrides(g, rw, req, override) {
			return
		}
	} else if o := evaluate(g, req, key); o != nil {
		// authorize written out: one call less for the request that carries no override.
		if answeredDenial(g, rw, req, o) {
			return
		}
	}
	forwarded = true
	g.next.ServeHTTP(rw, req)
}

// answeredOverrides is serve's decision for a request that may carry an override: the override
// rule, then the decision cache, then the pipeline. It reports whether it answered the request (a
// refusal or denial has been written); otherwise the request goes on to the backend. A function
// of its own, so that serve reserves no slot for it on the other requests.
func answeredOverrides(g *Gatehouse, rw http.ResponseWriter, req *http.Request, override string) bool {
	answered, decided := checkOverrides(g, rw, req, override)
	if answered {
		return true
	}
	if !decided {
		decided = warm(g, req)
	}
	if decided {
		return false
	}
	return !authorize(g, rw, req)
}

// warmDecision replays a cached allow for this exact request (decisionKey inline for plainForward's
// case: one Bearer header, no tenant header). Its own function: under Yaegi a call reserves the
// whole frame, and public requests need none of this. The header writes repeat forward's on
// purpose: the call costs this path about a fifth of its time under Yaegi. The entry's window
// (from, until: exp and nbf with the leeway, the assertion's remint time) is putDecision's. It
// reports whether it answered the request: a replay, or a miss decided afresh (missed) with the
// key built here; false leaves the request to ServeHTTP's serve (no cacheable token, or an
// entry no longer valid).
func warmDecision(g *Gatehouse, rw http.ResponseWriter, req *http.Request, h http.Header, auth []string) bool {
	if len(auth) != 1 {
		return false
	}
	v := auth[0]
	// One if per case, not || and &&: under Yaegi each of those is a slot more.
	if len(v) < 8 {
		return false
	}
	if len(v) > maxBearerValue {
		return false
	}
	if v[:7] != "Bearer " {
		if !bearer(v) {
			return false
		}
	}
	// The method, path and host are not bounded here: decisionKey stores no key whose parts
	// exceed maxMethodKey, maxPathLength or maxTenantKey, and none of the parts can hold the NUL
	// that separates them, so a request beyond a bound misses and takes the slow path, which
	// refuses it (414) or decides it afresh without caching.
	tenant := ""
	if g.tenantByHost {
		tenant = req.Host
	}
	key := req.Method + "\x00" + req.URL.EscapedPath() + "\x00" + tenant + "\x00" + v[7:]
	c := g.decisions
	c.mu.Lock()
	a := c.m[key]
	c.mu.Unlock()
	if a == nil {
		return missed(g, rw, req, key)
	}
	if g.dynamic {
		return warmDynamic(g, rw, req, h, a)
	}
	unix := time.Now().Unix()
	if unix >= a.until {
		return false
	}
	if unix < a.from {
		return false
	}
	if g.staticPolicy != a.policy {
		return false
	}
	if atomic.LoadInt32(a.retired) != 0 {
		return false
	}
	for i, w := range a.values {
		if w != nil {
			h[g.hNames[i]] = w
		}
	}
	if g.dropToken {
		delete(h, "Authorization") // forwardToken off (the decision cache's only token source: bearerOnly)
	}
	g.next.ServeHTTP(rw, req)
	return true
}

// missed decides a request afresh (serve) whose allow warmDecision did not find, handing on the
// key warmDecision built so that storing the allow does not build it again. For plainForward's
// configurations (one Bearer Authorization header, no tenant header) it is decisionKey's key once
// the parts are within decisionKey's bounds: missed hands on none for a method or host beyond them
// (finish then asks decisionKey, which refuses it too), and evaluate refuses a path beyond
// maxPathLength before it stores anything. TestTheMissHandsOnDecisionKeysKey holds them together.
func missed(g *Gatehouse, rw http.ResponseWriter, req *http.Request, key string) bool {
	if len(req.Method) > maxMethodKey {
		key = ""
	}
	if len(req.Host) > maxTenantKey {
		key = ""
	}
	serve(g, rw, req, "", key, false)
	return true
}

// bearer reports whether an Authorization value of at least 7 bytes starts with the Bearer
// scheme in another case than "Bearer " (RFC 9110: the scheme is case-insensitive).
func bearer(v string) bool {
	return v[6] == ' ' && strings.EqualFold(v[:6], "bearer")
}

// warmDynamic is warmDecision's replay when the policy can change after New (policyFile,
// policyURL, assignmentsURL): the cached allow holds only under the policy in force now for its
// identity. A function of its own, so that the inline policy's warm path reserves none of this.
func warmDynamic(g *Gatehouse, rw http.ResponseWriter, req *http.Request, h http.Header, a *allowed) bool {
	// The policy in force for a.id (dynamicPolicy's, without checkBundle: the bundle of a cached
	// allow was checked when the allow was made, and a new bundle never equals it).
	now := time.Now()
	pol := g.staticPolicy
	if g.remote != nil {
		pol = policy.CurrentRemote(g.remote, now)
	} else if g.policyFile != nil {
		pol = policy.CurrentFile(g.policyFile, now)
	}
	if pol != nil && g.lookup != nil && a.id.Subject != "" {
		pol = policy.SubjectPolicy(g.lookup, pol, a.id.Issuer, a.id.Subject, now)
	}
	unix := now.Unix()
	if unix >= a.until {
		return false
	}
	if unix < a.from {
		return false
	}
	if pol != a.policy {
		return false
	}
	if atomic.LoadInt32(a.retired) != 0 {
		return false
	}
	for i, w := range a.values {
		if w != nil {
			h[g.hNames[i]] = w
		}
	}
	if g.dropToken {
		delete(h, "Authorization") // forwardToken off (the decision cache's only token source: bearerOnly)
	}
	g.next.ServeHTTP(rw, req)
	return true
}

// warmPublic forwards a request whose method and path matched a public route before. Called
// under plainForward only, which holds only with a public cache: c is never nil here.
func warmPublic(g *Gatehouse, rw http.ResponseWriter, req *http.Request) bool {
	c := g.public
	// No bound on the path here: the public cache holds only paths within maxPathLength.
	c.mu.Lock()
	r := c.m[req.Method+"\x00"+req.URL.EscapedPath()]
	c.mu.Unlock()
	if r == nil {
		return false
	}
	g.next.ServeHTTP(rw, req)
	return true
}
