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
	TrustTokenPermissions string // default false
	Tenant                string
	Mode                  string
	Overrides             string // "refuse" (default) or "authorize"

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
// The header strip is written inline on purpose: under Yaegi every call costs about a microsecond.
func (g *Gatehouse) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	forwarded := false
	defer func() {
		// Recover only our own panics: once the request is forwarded, a panic belongs to the
		// backend (http.ErrAbortHandler included) and must propagate.
		if !forwarded {
			if r := recover(); r != nil {
				g.fail(rw, req, r)
			}
		}
	}()
	h := req.Header
	p := g.protect
	override := ""
	for name := range h {
		// Cheap filters first (first, third and fifth byte, as the fold reads them), then one
		// compiled fold of the name: X-Forwarded-For, X-Real-Ip and most others stop at the filters.
		if name == "" || p.first[name[0]] == 0 || (len(name) > 2 && p.third[name[2]] == 0) || (len(name) > 4 && p.fifth[name[4]] == 0) {
			continue
		}
		f := headerFold.Replace(name)
		if strings.HasPrefix(f, p.prefix) {
			delete(h, name)
			continue
		}
		switch p.exact[f] {
		case hdrTenant:
			if name != g.tenantHeader {
				delete(h, name)
			}
		case hdrOverride:
			override = name
			if g.overridesAuthorize {
				canonicalOverride(h, name)
			}
		}
	}
	decided := false
	if override != "" || req.URL.RawQuery != "" || (req.Method == http.MethodPost && formBody(h["Content-Type"])) {
		answered := false
		answered, decided = g.checkOverrides(rw, req, override)
		if answered {
			return
		}
	}
	if !decided && !g.replay(req) && !g.authorize(rw, req) {
		return
	}
	forwarded = true
	g.next.ServeHTTP(rw, req)
}
