package gatehouse

import (
	"errors"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/assertion"
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

// Defaults of the options that New resolves (the others default to "none").
const (
	defaultCacheSize  = 10000
	defaultCacheBytes = 8 << 20
	defaultMaxPath    = 4096
	defaultPrefix     = "X-Auth-"
	defaultRealm      = "gatehouse"
)

// build validates the whole configuration, collecting every problem, and compiles it. Shared state it
// took (key sets, the policy file) is given back if the configuration is refused.
func build(c *Config, name string) (*Gatehouse, error) {
	if c == nil {
		c = CreateConfig()
	}
	copied := *c // Traefik may hand the same Config to New for several routers: never modify it
	c = &copied
	p := &problems{}
	unknownKeys(p, "", c.Unknown, configKeys)
	unknownKeys(p, "claims.", c.Claims.Unknown, claimKeys)
	unknownKeys(p, "assertion.", c.Assertion.Unknown, assertionKeys)
	if c.SettingsFile != "" {
		applySettingsFile(p, c)
	}
	g := &Gatehouse{name: name}
	g.forwardToken = flag(p, "forwardToken", c.ForwardToken, true)
	g.auditAllowed = flag(p, "auditAllowed", c.AuditAllowed, false)
	g.trust = policy.Options{TrustTokenPermissions: flag(p, "trustTokenPermissions", c.TrustTokenPermissions, false)}
	opts := tokens.Options{Issuers: trimAll(c.Issuers), Audiences: trimAll(c.Audiences), RequireTyp: strings.TrimSpace(c.RequireTyp)}
	opts.Leeway = duration(p, "leeway", c.Leeway, 30*time.Second)
	opts.Claims = tokens.ClaimNames{Subject: c.Claims.Subject, Org: c.Claims.Org, Roles: c.Claims.Roles, Permissions: c.Claims.Permissions, OrgRoles: c.Claims.OrgRoles, Assignments: c.Claims.Assignments}
	opts.CacheSize = number(p, "cacheSize", c.CacheSize, defaultCacheSize)
	opts.CacheBytes = byteSize(p, "cacheBytes", c.CacheBytes, defaultCacheBytes)
	g.maxPath = number(p, "maxPathLength", c.MaxPathLength, defaultMaxPath)
	if g.maxPath < 1 {
		p.add("maxPathLength", "must be at least 1")
	}
	secretLen, remote := buildKeys(p, g, c, &opts)
	opts.Algorithms = algorithms(p, c.Algorithms, &opts, remote, secretLen)
	g.sources = sources(p, c.TokenSources)
	initial := buildPolicy(p, g, c, opts.Issuers)
	buildHeaders(p, g, c)
	checkIssuers(p, g, opts.Issuers, initial)
	buildRoutes(p, g, c, initial)
	buildAssertion(p, g, c)
	g.hNames = []string{g.hSubject, g.hIssuer, g.hOrg, g.hRoles, g.hPermissions, g.hAssertion}
	if err := p.err(name); err != nil {
		g.release()
		return nil, err
	}
	g.verifier = tokens.NewVerifier(opts)
	g.leeway = int64(opts.Leeway / time.Second)
	g.bearerOnly = len(g.sources) == 1 && g.sources[0].Kind == "header" && g.sources[0].Name == "Authorization"
	if g.bearerOnly {
		g.decisions = newDecisionCache(opts.CacheSize, opts.CacheBytes)
	}
	g.public = newPublicCache(opts.CacheSize, opts.CacheBytes/8)
	g.dropToken = !g.forwardToken
	g.plainForward = g.decisions != nil && g.public != nil && g.tenantHeader == "" && !g.auditAllowed && !g.signPublic
	g.replaysInServe = !g.plainForward && (g.decisions != nil || g.public != nil)
	g.finishAllow = g.signer != nil || g.decisions != nil || g.auditAllowed
	g.plainAllow = !g.finishAllow && g.tenantHeader == "" && g.forwardToken
	return g, nil
}

// flag reads a boolean option ("" is unset: def).
func flag(p *problems, where, s string, def bool) bool {
	s = strings.TrimSpace(s)
	if s == "" {
		return def
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		p.add(where, "want true or false, not "+strconv.Quote(s))
		return def
	}
	return b
}

// number reads a whole-number option, 0 or more ("" is unset: def).
func number(p *problems, where, s string, def int) int {
	s = strings.TrimSpace(s)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		p.add(where, "want a whole number, 0 or more, not "+strconv.Quote(s))
		return def
	}
	return n
}

// byteSize reads a size such as 8MiB, 512KiB or 1048576 ("" is unset: def).
func byteSize(p *problems, where, s string, def int64) int64 {
	s = strings.TrimSpace(s)
	if s == "" {
		return def
	}
	unit := int64(1)
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s = strings.TrimSpace(strings.TrimSuffix(s, u.suffix))
			unit = u.size
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<40)/unit {
		p.add(where, "want a size such as 8MiB, 512KiB or a number of bytes")
		return def
	}
	return n * unit
}

// buildAssertion sets up the signer of the identity assertion and the header rule (whose protected
// names include the assertion header when it lies outside the identity prefix).
func buildAssertion(p *problems, g *Gatehouse, c *Config) {
	a := c.Assertion
	g.hAssertion = textproto.CanonicalMIMEHeaderKey(g.prefixText + "Assertion")
	if h := strings.TrimSpace(a.Header); h != "" {
		if !validHeaderName(h) {
			p.add("assertion.header", "must be a header name such as X-Auth-Assertion")
		}
		g.hAssertion = textproto.CanonicalMIMEHeaderKey(h)
	}
	var folded []string
	g.protect, folded = newProtection(g.prefixText, g.tenantHeader, g.hAssertion)
	g.first = byteTable(folded, 0)
	g.third = byteTable(folded, 2)
	g.fifth = byteTable(folded, 4)
	path := strings.TrimSpace(c.AssertionJWKSPath)
	if strings.TrimSpace(a.Key) == "" {
		if path != "" || a.Issuer != "" || a.Audience != "" || a.Lifetime != "" || a.KeyID != "" || a.Public != "" {
			p.add("assertion.key", "required to sign assertions (the other assertion settings and assertionJWKSPath need it)")
		}
		return
	}
	if path != "" {
		if _, err := matcher.Split(path); err != nil || path[len(path)-1] == '/' {
			p.add("assertionJWKSPath", "must be a plain path such as /.well-known/gatehouse/jwks.json")
		}
		if r, _ := g.routes.Match(http.MethodGet, splitOrNil(path)); r != nil {
			p.add("assertionJWKSPath", "is also the path of routes["+strconv.Itoa(r.Index)+"] "+strconv.Quote(r.Text)+": Gatehouse answers it itself")
		}
		g.jwksPath = path
		g.publishesJWKS = true
	}
	audience := strings.TrimSpace(a.Audience)
	if audience == "" {
		audience = g.name
	}
	settings := assertion.Settings{Key: a.Key, KeyID: strings.TrimSpace(a.KeyID), Issuer: strings.TrimSpace(a.Issuer), Audience: audience}
	settings.Lifetime = duration(p, "assertion.lifetime", a.Lifetime, assertion.DefaultLifetime)
	g.signPublic = flag(p, "assertion.public", a.Public, false)
	signer, err := assertion.New(settings)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			if where, msg, ok := strings.Cut(line, ": "); ok {
				p.add(where, msg)
			} else {
				p.add("assertion", line)
			}
		}
		return
	}
	g.signer = signer
	// Mint again this long before an assertion expires, so a replayed one is never nearly stale.
	g.remint = int64(signer.Lifetime()/time.Second) / 4
}

func splitOrNil(path string) []string {
	segs, err := matcher.Split(path)
	if err != nil {
		return nil
	}
	return segs
}

// checkIssuers makes identity issuer-aware: with more than one trusted issuer every policy
// assignment must name its issuer (a subject is unique only within its issuer), and an issuer an
// assignment names must be trusted.
func checkIssuers(p *problems, g *Gatehouse, issuers []string, pol *policy.Policy) {
	g.trust.IssuerQualified = len(issuers) > 1
	if pol == nil {
		return
	}
	if g.trust.IssuerQualified {
		for _, where := range pol.Unqualified() {
			p.add("policy "+where, "names no issuer, but "+strconv.Itoa(len(issuers))+" issuers are trusted: add issuer: so that a subject of one issuer never receives another's assignments")
		}
	}
	if len(issuers) > 0 {
		for _, iss := range pol.Issuers() {
			if !hasString(issuers, iss) {
				p.add("policy", "an assignment names issuer "+strconv.Quote(iss)+", which is not among issuers")
			}
		}
	}
}

// configKeys are the accepted option names (lower case) for "did you mean" hints.
var configKeys = []string{"issuers", "audiences", "allowanyaudience", "jwksurl", "keys", "secret", "secretfile", "algorithms", "leeway", "requiretyp",
	"tokensources", "forwardtoken", "claims", "headerprefix", "realm", "auditallowed", "cachesize", "cachebytes", "maxpathlength", "jwkscooldown", "jwksrefresh",
	"jwkstimeout", "routes", "unmatched", "policy", "policyfile", "policyreload", "policyurl", "policykey", "policycredential", "policycredentialfile",
	"assignmentsurl", "assignmentsttl", "assignmentsstale", "assignmentscachesize", "trusttokenpermissions", "tenant", "mode",
	"overrides", "assertion", "assertionjwkspath", "settingsfile"}

var assertionKeys = []string{"key", "keyid", "issuer", "audience", "lifetime", "header", "public"}

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

// buildKeys loads static keys and sets up JWKS sources; it returns the HMAC secret's length (0: none)
// and whether keys come from a JWKS.
func buildKeys(p *problems, g *Gatehouse, c *Config, opts *tokens.Options) (int, bool) {
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
		opts.Static = append(opts.Static, keys...)
	}
	secretLen := buildSecret(p, c, opts)
	settings := tokens.RemoteSettings{MaxBody: 1 << 20}
	settings.Cooldown = duration(p, "jwksCooldown", c.JWKSCooldown, 10*time.Second)
	settings.Refresh = duration(p, "jwksRefresh", c.JWKSRefresh, 15*time.Minute)
	settings.Timeout = duration(p, "jwksTimeout", c.JWKSTimeout, 5*time.Second)
	if settings.Timeout == 0 {
		p.add("jwksTimeout", "must be more than 0")
	}
	remote := false
	switch u := strings.TrimSpace(c.JWKSURL); {
	case u != "":
		if !httpURL(u) {
			p.add("jwksURL", "must be an absolute http(s) URL")
			break
		}
		set := tokens.SharedJWKS(u, settings)
		g.sets = append(g.sets, set)
		opts.Remote = []*tokens.RemoteSet{set}
		remote = true
	case len(opts.Static) == 0 && len(opts.Issuers) > 0:
		opts.RemoteByIssuer = map[string]*tokens.RemoteSet{}
		for i, iss := range opts.Issuers {
			if !httpURL(iss) {
				p.add("issuers["+strconv.Itoa(i)+"]", "OIDC discovery needs an http(s) issuer URL (or set jwksURL, keys or secret)")
				continue
			}
			set := tokens.SharedDiscovery(iss, settings)
			g.sets = append(g.sets, set)
			opts.RemoteByIssuer[iss] = set
		}
		remote = true
	case len(opts.Static) == 0:
		p.add("keys", "no key source: configure keys, secret, secretFile, jwksURL or issuers (OIDC discovery)")
	}
	anyAudience := flag(p, "allowAnyAudience", c.AllowAnyAudience, false)
	switch {
	case anyAudience && len(opts.Audiences) > 0:
		p.add("allowAnyAudience", "set audiences or allowAnyAudience, not both")
	case remote && len(opts.Audiences) == 0 && !anyAudience:
		p.add("audiences", "required with keys from a JWKS or OIDC discovery (RFC 8725 §3.9): such an issuer signs tokens for many applications; list this API's audiences, or set allowAnyAudience: true to accept them all")
	case anyAudience:
		_, _ = os.Stderr.WriteString(`{"gatehouse":` + jsonString(g.name) + `,"warning":"allowAnyAudience: tokens issued for any audience are accepted"}` + "\n")
	}
	return secretLen, remote
}

// buildSecret loads the HMAC secret; it returns its length (0: none).
func buildSecret(p *problems, c *Config, opts *tokens.Options) int {
	secret := []byte(c.Secret)
	where := "secret"
	if c.SecretFile != "" {
		where = "secretFile"
		if c.Secret != "" {
			p.add("secretFile", "set secret or secretFile, not both")
			return 0
		}
		b, err := tokens.ReadSecretFile(c.SecretFile)
		if err != nil {
			p.add(where, "cannot read: "+err.Error())
			return 0
		}
		secret = b
	}
	if len(secret) == 0 {
		return 0
	}
	k, err := tokens.SecretKey(secret)
	if err != nil {
		p.add(where, err.Error())
		return 0
	}
	opts.Static = append(opts.Static, k)
	return len(secret)
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// algorithms returns the allowlist: the configured algorithms, each of which some key can verify
// (an HMAC secret at least as long as the hash, RFC 7518 §3.2; ES* on its curve), or by default
// every algorithm a configured key can verify.
func algorithms(p *problems, list []string, opts *tokens.Options, remote bool, secretLen int) []string {
	list = trimAll(list)
	if len(list) == 0 {
		return tokens.DefaultAlgorithmsFor(opts.Static, remote)
	}
	families := keyFamilies(opts, remote)
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
		case tokens.AlgorithmFamily(alg) == tokens.FamilyHMAC && secretLen < tokens.MinHMACKeyBytes(alg):
			p.add(where, strconv.Quote(alg)+" needs an HMAC secret of at least "+strconv.Itoa(tokens.MinHMACKeyBytes(alg))+" bytes (RFC 7518 §3.2); the secret has "+strconv.Itoa(secretLen))
		default:
			out = append(out, alg)
		}
	}
	return out
}

// keyFamilies lists the key families available: static keys' and, with a JWKS, every asymmetric one.
func keyFamilies(opts *tokens.Options, remote bool) []string {
	var families []string
	for _, k := range opts.Static {
		families = append(families, k.Family)
	}
	if remote {
		families = append(families, tokens.FamilyRSA, tokens.FamilyEC, tokens.FamilyOKP)
	}
	return families
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

// buildHeaders compiles the header rule (after buildPolicy, which knows the tenant header), the
// challenge and the mode.
func buildHeaders(p *problems, g *Gatehouse, c *Config) {
	prefix := strings.TrimSpace(c.HeaderPrefix)
	if prefix == "" {
		prefix = defaultPrefix
	}
	if !validHeaderName(prefix) {
		p.add("headerPrefix", "must be a header name prefix such as X-Auth-")
		prefix = defaultPrefix
	}
	g.hSubject = textproto.CanonicalMIMEHeaderKey(prefix + "Subject")
	g.hIssuer = textproto.CanonicalMIMEHeaderKey(prefix + "Issuer")
	g.hOrg = textproto.CanonicalMIMEHeaderKey(prefix + "Org")
	g.hRoles = textproto.CanonicalMIMEHeaderKey(prefix + "Roles")
	g.hPermissions = textproto.CanonicalMIMEHeaderKey(prefix + "Permissions")
	if g.tenantHeader != "" && strings.HasPrefix(foldHeader(g.tenantHeader), foldHeader(prefix)) {
		p.add("tenant", "the tenant header "+g.tenantHeader+" is under headerPrefix "+prefix+", whose headers Gatehouse deletes from every request")
	}
	for _, h := range overrideHeaders {
		if g.tenantHeader != "" && foldHeader(h) == foldHeader(g.tenantHeader) {
			p.add("tenant", "the tenant header "+g.tenantHeader+" is a method or path override header")
		}
	}
	g.prefixText = prefix
	realm := c.Realm
	if realm == "" {
		realm = defaultRealm
	}
	if strings.ContainsAny(realm, "\"\\") || !safeText(realm) {
		p.add("realm", "must not contain quotes, backslashes or control characters")
	}
	g.challenge = "Bearer realm=\"" + realm + "\""
	switch strings.ToLower(strings.TrimSpace(c.Mode)) {
	case "", "enforce":
	case "shadow":
		g.shadow = true
	default:
		p.add("mode", "want enforce (default) or shadow")
	}
	switch strings.ToLower(strings.TrimSpace(c.Overrides)) {
	case "", "refuse":
	case "authorize":
		g.overridesAuthorize = true
	default:
		p.add("overrides", "want refuse (the default: a request carrying a method or path override is answered 400) or authorize (it must be allowed as sent and as overridden)")
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
func buildPolicy(p *problems, g *Gatehouse, c *Config, issuers []string) *policy.Policy {
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
	g.issuers = issuers
	controlPlane := buildControlPlane(p, g, c, issuers, reload)
	switch {
	case controlPlane:
		// The bundle arrives on the first request (New makes no network call): routes are checked
		// against each new bundle as it arrives (checkBundle).
		return nil
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
		g.dynamic = true
		g.bundleSeen = &bundleCheck{}
		first := policy.CurrentFile(f, time.Now())
		g.bundleSeen.seen = first // checked here, by New's own checks
		return first
	}
	return g.staticPolicy
}

// Defaults of the per-subject lookup (assignmentsURL).
const (
	defaultAssignmentsTTL   = 30 * time.Second
	defaultAssignmentsStale = 5 * time.Minute
	defaultAssignmentsSize  = 10000
)

// buildControlPlane sets up policyURL and assignmentsURL (docs/control-plane.md) and reports
// whether policyURL is set.
func buildControlPlane(p *problems, g *Gatehouse, c *Config, issuers []string, reload time.Duration) bool {
	policyURL := strings.TrimSpace(c.PolicyURL)
	lookupURL := strings.TrimSpace(c.AssignmentsURL)
	if policyURL == "" && lookupURL == "" {
		for _, o := range [][2]string{{"policyKey", c.PolicyKey}, {"policyCredential", c.PolicyCredential}, {"policyCredentialFile", c.PolicyCredentialFile}} {
			if strings.TrimSpace(o[1]) != "" {
				p.add(o[0], "needs policyURL or assignmentsURL (it is for the control plane)")
			}
		}
	}
	if lookupURL == "" {
		for _, o := range [][2]string{{"assignmentsTTL", c.AssignmentsTTL}, {"assignmentsStale", c.AssignmentsStale}, {"assignmentsCacheSize", c.AssignmentsCacheSize}} {
			if strings.TrimSpace(o[1]) != "" {
				p.add(o[0], "needs assignmentsURL")
			}
		}
	}
	if policyURL == "" && lookupURL == "" {
		return false
	}
	keyText := strings.TrimSpace(c.PolicyKey)
	var keys []*tokens.Key
	if keyText != "" {
		k, err := tokens.ParseVerificationKeys(keyText)
		if err != nil {
			p.add("policyKey", err.Error())
		}
		keys = k
	}
	credential := strings.TrimSpace(c.PolicyCredential)
	if credential != "" && !policy.IsToken68(credential) {
		p.add("policyCredential", "must be a bearer token (RFC 6750 token68: letters, digits, -._~+/ and trailing =), without spaces, line breaks or control bytes")
		credential = ""
	}
	if file := strings.TrimSpace(c.PolicyCredentialFile); file != "" {
		if credential != "" || c.PolicyCredential != "" {
			p.add("policyCredentialFile", "set policyCredential or policyCredentialFile, not both")
		} else if _, err := policy.ReadCredential(file); err != nil {
			p.add("policyCredentialFile", err.Error())
		} else {
			credential = policy.CredentialFilePrefix + file
		}
	}
	if policyURL != "" {
		if c.Policy != "" || c.PolicyFile != "" {
			p.add("policyURL", "set one of policy, policyFile and policyURL: the policy comes from one place")
		}
		controlPlaneURL(p, g, "policyURL", policyURL, keyText, credential)
		if reload <= 0 {
			p.add("policyReload", "must be more than 0 with policyURL: every request would fetch the bundle")
		}
		g.remote = policy.SharedRemote(policyURL, keys, keyText, credential, reload)
		g.bundleSeen = &bundleCheck{}
	}
	if lookupURL != "" {
		buildLookup(p, g, c, lookupURL, issuers, keys, keyText, credential)
	}
	g.controlPlane = true
	g.dynamic = true
	return policyURL != ""
}

// buildLookup sets up the per-subject assignments cache of assignmentsURL.
func buildLookup(p *problems, g *Gatehouse, c *Config, template string, issuers []string, keys []*tokens.Key, keyText, credential string) {
	if !strings.Contains(template, "{subject}") {
		p.add("assignmentsURL", "must contain {subject}, as in http://gatehouse:8081/v1/subjects/{subject}/assignments?issuer={issuer}")
	}
	if len(issuers) > 1 && !strings.Contains(template, "{issuer}") {
		p.add("assignmentsURL", "must contain {issuer}: "+strconv.Itoa(len(issuers))+" issuers are trusted, and a subject is unique only within its issuer")
	}
	if c.Policy == "" && c.PolicyFile == "" && strings.TrimSpace(c.PolicyURL) == "" {
		p.add("assignmentsURL", "needs policy, policyFile or policyURL: the roles it assigns are declared there")
	}
	probe := strings.Replace(strings.Replace(template, "{subject}", "subject", -1), "{issuer}", "issuer", -1)
	controlPlaneURL(p, g, "assignmentsURL", probe, keyText, credential)
	s := policy.LookupSettings{}
	s.TTL = duration(p, "assignmentsTTL", c.AssignmentsTTL, defaultAssignmentsTTL)
	s.Stale = duration(p, "assignmentsStale", c.AssignmentsStale, defaultAssignmentsStale)
	s.MaxEntries = number(p, "assignmentsCacheSize", c.AssignmentsCacheSize, defaultAssignmentsSize)
	if s.TTL <= 0 {
		p.add("assignmentsTTL", "must be more than 0")
	}
	if s.MaxEntries < 1 {
		p.add("assignmentsCacheSize", "must be at least 1")
	}
	g.lookup = policy.SharedLookup(template, keys, keyText, credential, s)
}

// controlPlaneURL checks a control-plane URL: absolute http(s), no user info (the credential is
// policyCredential), no fragment. Over plain http to a host other than loopback, documents must be
// signed (policyKey): anyone on the path could otherwise rewrite the policy. A credential then still
// crosses the network in clear, which a warning line says; it can only read, never change, what the
// gateway enforces.
func controlPlaneURL(p *problems, g *Gatehouse, where, raw, keyText, credential string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p.add(where, "must be an absolute http(s) URL")
		return
	}
	if u.User != nil {
		p.add(where, "must not carry user information: set the credential in policyCredential")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		p.add(where, "must not have a fragment")
	}
	if u.Scheme == "https" || loopbackHost(u.Hostname()) {
		return
	}
	if keyText == "" {
		p.add(where, "plain http to "+u.Hostname()+", which is not loopback: use https, or set policyKey so that only documents the control plane signed are accepted (an unsigned policy over http can be rewritten by anyone on the path)")
		return
	}
	if credential != "" {
		_, _ = os.Stderr.WriteString(`{"gatehouse":` + jsonString(g.name) + `,"warning":` + jsonString(where+": policyCredential crosses the network in clear to "+u.Hostname()+" (plain http): the documents are signed, but anyone on the path can read them and reuse the credential to read them; use https") + "}\n")
	}
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
		case pol == nil && !g.trust.TrustTokenPermissions && c.Policy == "" && c.PolicyFile == "" && strings.TrimSpace(c.PolicyURL) == "":
			p.add(where, "nothing can grant "+strconv.Quote(req)+": configure policy, policyFile, policyURL or trustTokenPermissions")
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
