package gatehouse

import (
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

var errSettings = errors.New("malformed YAML")

// problems collects configuration errors, each with its location.
type problems struct{ list []string }

func (p *problems) add(where, msg string) { p.list = append(p.list, where+": "+msg) }

func (p *problems) err(name string) error {
	if len(p.list) == 0 {
		return nil
	}
	return errors.New("gatehouse " + strconv.Quote(name) + ": invalid configuration:\n  " + strings.Join(p.list, "\n  "))
}

// build validates the whole configuration, collecting every problem, and compiles it.
func build(c *Config, name string) (*Gatehouse, error) {
	if c == nil {
		c = CreateConfig()
	}
	copied := *c // Traefik may hand the same Config to New for several routers: never modify it
	c = &copied
	p := &problems{}
	unknownKeys(p, "", c.Unknown, configKeys)
	unknownKeys(p, "claims.", c.Claims.Unknown, claimKeys)
	if c.SettingsFile != "" {
		applySettingsFile(p, c)
	}
	g := &Gatehouse{name: name, forwardToken: c.ForwardToken, auditAllowed: c.AuditAllowed, trust: policy.Options{TrustTokenPermissions: c.TrustTokenPermissions}}
	opts := tokens.Options{Issuers: trimAll(c.Issuers), Audiences: trimAll(c.Audiences), RequireTyp: strings.TrimSpace(c.RequireTyp)}
	opts.Leeway = duration(p, "leeway", c.Leeway, 0)
	opts.Claims = tokens.ClaimNames{Subject: c.Claims.Subject, Org: c.Claims.Org, Roles: c.Claims.Roles, Permissions: c.Claims.Permissions, OrgRoles: c.Claims.OrgRoles, Assignments: c.Claims.Assignments}
	if c.CacheSize < 0 {
		p.add("cacheSize", "must be 0 (off) or more")
	}
	opts.CacheSize = c.CacheSize
	families := buildKeys(p, c, &opts)
	opts.Algorithms = algorithms(p, c.Algorithms, families)
	g.sources = sources(p, c.TokenSources)
	buildHeaders(p, g, c)
	initial := buildPolicy(p, g, c)
	buildRoutes(p, g, c, initial)
	if err := p.err(name); err != nil {
		return nil, err
	}
	g.verifier = tokens.NewVerifier(opts)
	g.leeway = int64(opts.Leeway / time.Second)
	if len(g.sources) == 1 && g.sources[0].Kind == "header" && g.sources[0].Name == "Authorization" {
		g.decisions = newDecisionCache(c.CacheSize)
	}
	return g, nil
}

// configKeys are the accepted option names (lower case) for "did you mean" hints.
var configKeys = []string{"issuers", "audiences", "jwksurl", "keys", "secret", "secretfile", "algorithms", "leeway", "requiretyp",
	"tokensources", "forwardtoken", "claims", "headerprefix", "realm", "auditallowed", "cachesize", "jwkscooldown", "jwksrefresh",
	"jwkstimeout", "routes", "unmatched", "policy", "policyfile", "policyreload", "trusttokenpermissions", "tenant", "mode",
	"settingsfile"}

var claimKeys = []string{"subject", "org", "roles", "permissions", "orgroles", "assignments"}

func unknownKeys(p *problems, prefix string, unknown map[string]interface{}, known []string) {
	names := make([]string, 0, len(unknown))
	for k := range unknown {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		msg := "unknown option"
		if s := closest(strings.ToLower(k), known); s != "" {
			msg += " (did you mean " + s + "?)"
		}
		p.add(prefix+k, msg)
	}
}

// closest returns the known name within edit distance 2 of k, or "".
func closest(k string, known []string) string {
	best, bestD := "", 3
	for _, n := range known {
		if d := editDistance(k, n); d < bestD {
			best = n
			bestD = d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = smallest(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func smallest(a, b, c int) int {
	if b < a {
		a = b
	}
	if c < a {
		a = c
	}
	return a
}

func duration(p *problems, where, s string, def time.Duration) time.Duration {
	s = strings.TrimSpace(s)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		p.add(where, "not a duration such as 30s: "+strconv.Quote(s))
		return def
	}
	return d
}

func trimAll(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// buildKeys loads static keys and sets up JWKS sources; it returns the key families available.
func buildKeys(p *problems, c *Config, opts *tokens.Options) []string {
	var families []string
	for i, entry := range c.Keys {
		where := "keys[" + strconv.Itoa(i) + "]"
		if strings.TrimSpace(entry) == "" {
			p.add(where, "empty")
			continue
		}
		keys, err := tokens.ParsePEMKeys(entry)
		if err != nil {
			p.add(where, err.Error())
			continue
		}
		for _, k := range keys {
			opts.Static = append(opts.Static, k)
			families = append(families, k.Family)
		}
	}
	families = append(families, buildSecret(p, c, opts)...)
	settings := tokens.RemoteSettings{MaxBody: 1 << 20}
	settings.Cooldown = duration(p, "jwksCooldown", c.JWKSCooldown, 10*time.Second)
	settings.Refresh = duration(p, "jwksRefresh", c.JWKSRefresh, 15*time.Minute)
	settings.Timeout = duration(p, "jwksTimeout", c.JWKSTimeout, 5*time.Second)
	remote := false
	switch u := strings.TrimSpace(c.JWKSURL); {
	case u != "":
		if !httpURL(u) {
			p.add("jwksURL", "must be an absolute http(s) URL")
			break
		}
		opts.Remote = []*tokens.RemoteSet{tokens.SharedJWKS(u, settings)}
		remote = true
	case len(opts.Static) == 0 && len(opts.Issuers) > 0:
		opts.RemoteByIssuer = map[string]*tokens.RemoteSet{}
		for i, iss := range opts.Issuers {
			if !httpURL(iss) {
				p.add("issuers["+strconv.Itoa(i)+"]", "OIDC discovery needs an http(s) issuer URL (or set jwksURL, keys or secret)")
				continue
			}
			opts.RemoteByIssuer[iss] = tokens.SharedDiscovery(iss, settings)
		}
		remote = true
	case len(opts.Static) == 0:
		p.add("keys", "no key source: configure keys, secret, secretFile, jwksURL or issuers (OIDC discovery)")
	}
	if remote {
		families = append(families, tokens.FamilyRSA, tokens.FamilyEC, tokens.FamilyOKP)
	}
	return families
}

func buildSecret(p *problems, c *Config, opts *tokens.Options) []string {
	secret := []byte(c.Secret)
	where := "secret"
	if c.SecretFile != "" {
		where = "secretFile"
		if c.Secret != "" {
			p.add("secretFile", "set secret or secretFile, not both")
			return nil
		}
		b, err := tokens.ReadSecretFile(c.SecretFile)
		if err != nil {
			p.add(where, "cannot read: "+err.Error())
			return nil
		}
		secret = b
	}
	if len(secret) == 0 {
		return nil
	}
	k, err := tokens.SecretKey(secret)
	if err != nil {
		p.add(where, err.Error())
		return nil
	}
	opts.Static = append(opts.Static, k)
	return []string{tokens.FamilyHMAC}
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func algorithms(p *problems, list []string, families []string) []string {
	list = trimAll(list)
	if len(list) == 0 {
		return tokens.DefaultAlgorithms(families)
	}
	var out []string
	for i, alg := range list {
		where := "algorithms[" + strconv.Itoa(i) + "]"
		switch {
		case strings.EqualFold(alg, "none"):
			p.add(where, "\"none\" is never allowed: unsigned tokens prove nothing")
		case !tokens.KnownAlgorithm(alg):
			p.add(where, "unknown algorithm "+strconv.Quote(alg)+" (supported: HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512, EdDSA)")
		case !hasString(families, tokens.AlgorithmFamily(alg)):
			p.add(where, strconv.Quote(alg)+" has no configured key of its type ("+tokens.AlgorithmFamily(alg)+")")
		default:
			out = append(out, alg)
		}
	}
	return out
}

func sources(p *problems, list []string) []tokens.Source {
	list = trimAll(list)
	if len(list) == 0 {
		return []tokens.Source{{Kind: "header", Name: "Authorization"}}
	}
	var out []tokens.Source
	for i, s := range list {
		src, err := tokens.ParseSource(s)
		if err != nil {
			p.add("tokenSources["+strconv.Itoa(i)+"]", err.Error())
			continue
		}
		out = append(out, src)
	}
	return out
}

func buildHeaders(p *problems, g *Gatehouse, c *Config) {
	prefix := strings.TrimSpace(c.HeaderPrefix)
	if prefix == "" || !validHeaderName(prefix) {
		p.add("headerPrefix", "must be a non-empty header name prefix such as X-Auth-")
		prefix = "X-Auth-"
	}
	g.prefix = normalizeHeaderName(prefix)
	g.prefixFirst = g.prefix[0]
	if len(g.prefix) > 2 && isAlnum(g.prefix[2]) {
		g.prefixThird = g.prefix[2] // a cheap first filter: X-Forwarded-For and X-Real-Ip stop here
	}
	g.hSubject = textproto.CanonicalMIMEHeaderKey(prefix + "Subject")
	g.hOrg = textproto.CanonicalMIMEHeaderKey(prefix + "Org")
	g.hRoles = textproto.CanonicalMIMEHeaderKey(prefix + "Roles")
	g.hPermissions = textproto.CanonicalMIMEHeaderKey(prefix + "Permissions")
	if strings.ContainsAny(c.Realm, "\"\\") || !safeText(c.Realm) {
		p.add("realm", "must not contain quotes, backslashes or control characters")
	}
	g.challenge = "Bearer realm=\"" + c.Realm + "\""
	switch strings.ToLower(strings.TrimSpace(c.Mode)) {
	case "", "enforce":
	case "shadow":
		g.shadow = true
	default:
		p.add("mode", "want enforce (default) or shadow")
	}
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch <= ' ' || ch >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", ch) >= 0 {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }

func safeText(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// buildPolicy sets up the tenant guard and the policy; it returns the policy in force now, which
// routes are checked against.
func buildPolicy(p *problems, g *Gatehouse, c *Config) *policy.Policy {
	tenant, err := policy.ParseTenant(c.Tenant)
	if err != nil {
		p.add("tenant", err.Error())
	}
	g.tenant = tenant
	if tenant != nil {
		g.tenantByHost = tenant.Mode() == "host"
		g.tenantHeader = tenant.Header()
	}
	reload := duration(p, "policyReload", c.PolicyReload, 2*time.Second)
	switch {
	case c.Policy != "" && c.PolicyFile != "":
		p.add("policyFile", "set policy or policyFile, not both")
	case c.Policy != "":
		pol, err := policy.Parse([]byte(c.Policy))
		if err != nil {
			p.add("policy", err.Error())
		}
		g.staticPolicy = pol
	case c.PolicyFile != "":
		f, err := policy.SharedFile(c.PolicyFile, reload)
		if err != nil {
			p.add("policyFile", err.Error())
			return nil
		}
		g.policyFile = f
		return f.Current(time.Now())
	}
	return g.staticPolicy
}

func buildRoutes(p *problems, g *Gatehouse, c *Config, pol *policy.Policy) {
	table, errs := matcher.Compile(c.Routes)
	for _, e := range errs {
		p.list = append(p.list, e)
	}
	g.routes = table
	for _, r := range table.Routes {
		where := "routes[" + strconv.Itoa(r.Index) + "] " + strconv.Quote(r.Text)
		req := r.Requirement
		switch {
		case req == matcher.Public || req == matcher.Authenticated || req == matcher.Deny:
		case pol != nil && !pol.HasPermission(req):
			p.add(where, "unknown permission "+strconv.Quote(req)+": declare it in the policy's permissions")
		case pol == nil && !c.TrustTokenPermissions && c.Policy == "" && c.PolicyFile == "":
			p.add(where, "nothing can grant "+strconv.Quote(req)+": configure policy/policyFile or trustTokenPermissions")
		}
		if g.tenant != nil && g.tenant.Mode() == "path" && strings.Contains(r.Path, "{"+g.tenant.Param()+"...}") {
			p.add(where, "the tenant wildcard {"+g.tenant.Param()+"} must match one segment, not the rest of the path")
		}
	}
	unmatched := strings.ToLower(strings.TrimSpace(c.Unmatched))
	if unmatched == "" {
		unmatched = matcher.Deny
		if len(c.Routes) == 0 {
			unmatched = matcher.Authenticated
		}
	}
	switch unmatched {
	case matcher.Deny, matcher.Authenticated, matcher.Public:
	default:
		p.add("unmatched", "want deny, authenticated or public")
	}
	g.unmatched = &matcher.Route{Index: -1, Text: "(no route)", Requirement: unmatched}
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var _ http.Handler = (*Gatehouse)(nil)
