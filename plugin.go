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
)

// Config is the middleware configuration. Traefik decodes it with mapstructure from labels or the
// file provider: keys match case-insensitively, every value may arrive as a string, and a
// comma-separated string fills a list. Durations are strings ("30s").
type Config struct {
	Issuers      []string
	Audiences    []string
	JWKSURL      string
	Keys         []string
	Secret       string
	SecretFile   string
	Algorithms   []string
	Leeway       string
	RequireTyp   string
	TokenSources []string
	ForwardToken bool
	Claims       ClaimsConfig
	HeaderPrefix string
	Realm        string
	AuditAllowed bool
	CacheSize    int
	JWKSCooldown string
	JWKSRefresh  string
	JWKSTimeout  string

	Routes                []string
	Unmatched             string
	Policy                string
	PolicyFile            string
	PolicyReload          string
	TrustTokenPermissions bool
	Tenant                string
	Mode                  string

	// SettingsFile names a YAML file of options shared by many middlewares; it fills what this
	// configuration leaves at the default.
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

// CreateConfig returns the defaults. List defaults are applied in New, not here: the decoder
// overwrites a pre-filled list element by element and would keep stale entries.
func CreateConfig() *Config {
	return &Config{
		ForwardToken: true,
		Leeway:       "30s",
		HeaderPrefix: "X-Auth-",
		Realm:        "gatehouse",
		CacheSize:    10000,
		PolicyReload: "2s",
		JWKSCooldown: "10s",
		JWKSRefresh:  "15m",
		JWKSTimeout:  "5s",
	}
}

// New compiles the configuration into a middleware. It reports every configuration problem at once
// and never returns a half-configured middleware. It makes no network call and starts no goroutine.
func New(ctx context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	g, err := build(config, name)
	if err != nil {
		return nil, err
	}
	g.next = next
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
	n := len(g.prefix)
	for name := range h {
		if len(name) >= n && name[0]|0x20 == g.prefixFirst && (g.prefixThird == 0 || name[2]|0x20 == g.prefixThird) &&
			normalizeHeaderName(name[:n]) == g.prefix {
			delete(h, name)
		}
	}
	if !g.replay(req) && !g.authorize(rw, req) {
		return
	}
	forwarded = true
	g.next.ServeHTTP(rw, req)
}
