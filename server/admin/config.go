package admin

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/server/forwardauth"
)

// tokenOptions are the Config fields the admin middleware takes from the operator's settings:
// how tokens are verified and read, and its caches. Every other option (routes, policy, tenant,
// mode, overrides, token sources, permissions in tokens, assertions, policyURL, ...) is the
// Server's own, so a gateway's settings file can be given to serve as it is.
var tokenOptions = []string{"Issuers", "Audiences", "AllowAnyAudience", "JWKSURL", "Keys", "Secret", "SecretFile", "Algorithms",
	"Leeway", "RequireTyp", "Claims", "Realm", "AuditAllowed", "CacheSize", "CacheBytes", "MaxPathLength",
	"JWKSCooldown", "JWKSRefresh", "JWKSTimeout"}

// adminConfig builds the admin middleware's configuration (without its policy) from the
// operator's: the token options of c, then of its settingsFile where c leaves them unset, and the
// Server's own routes and rules.
func adminConfig(c *gatehouse.Config) (*gatehouse.Config, error) {
	if c == nil {
		return nil, fmt.Errorf("admin: no token settings (serve --config FILE)")
	}
	var settings *gatehouse.Config
	if c.SettingsFile != "" {
		s, err := forwardauth.LoadConfig(c.SettingsFile)
		if err != nil {
			return nil, fmt.Errorf("settingsFile %s: %w", c.SettingsFile, err)
		}
		settings = s
	}
	out := gatehouse.CreateConfig()
	dst, src := reflect.ValueOf(out).Elem(), reflect.ValueOf(c).Elem()
	for _, name := range tokenOptions {
		f := src.FieldByName(name)
		if settings != nil && f.IsZero() {
			f = reflect.ValueOf(settings).Elem().FieldByName(name)
		}
		dst.FieldByName(name).Set(f)
	}
	if settings != nil {
		fillClaims(&out.Claims, settings.Claims)
	}
	out.Unknown = c.Unknown // a misspelled option still fails New
	out.Issuers = trim(out.Issuers)
	out.Routes = middlewareRoutes()
	out.Unmatched = "deny"
	out.Tenant = "path:org"
	out.Mode = "enforce"
	out.Overrides = "refuse"
	out.TrustTokenPermissions = "false" // a token's own permissions never count here
	out.TokenSources = []string{"header:Authorization"}
	out.HeaderPrefix = "X-Auth-"
	out.ForwardToken = "false"
	return out, nil
}

// fillClaims fills the claim names c leaves unset from s.
func fillClaims(c *gatehouse.ClaimsConfig, s gatehouse.ClaimsConfig) {
	for _, p := range []struct {
		dst *string
		src string
	}{{&c.Subject, s.Subject}, {&c.Org, s.Org}, {&c.Roles, s.Roles},
		{&c.Permissions, s.Permissions}, {&c.OrgRoles, s.OrgRoles}, {&c.Assignments, s.Assignments}} {
		if *p.dst == "" {
			*p.dst = p.src
		}
	}
}

func trim(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
