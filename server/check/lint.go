package check

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// lint adds the findings of a configuration New may well accept.
func lint(r *resolved, rev *Review) {
	c := r.cfg
	add := func(sev, code string, loc Location, msg string) {
		rev.Findings = append(rev.Findings, Finding{Severity: sev, Code: code, Location: loc, Message: msg})
	}
	trust := isTrue(c.TrustTokenPermissions)
	table, _ := matcher.Compile(c.Routes) // New reports the routes that do not compile
	src := loadPolicy(r)
	rev.policy = src
	rev.required = map[string]bool{}
	for _, rt := range table.Routes {
		if !isPermission(rt.Requirement) {
			continue
		}
		rev.required[rt.Requirement] = true
		if src != nil && !trust && src.pol.HasPermission(rt.Requirement) && len(src.grantedBy(rt.Requirement)) == 0 {
			add(Error, "unreachable-route", r.at(routeWhere(rt)), "no role grants "+strconv.Quote(rt.Requirement)+", so no request can reach this route: add it to a role")
		}
	}
	for _, s := range shadowed(table) {
		add(Error, "shadowed-route", r.at(routeWhere(s.route)), "every path of this route is taken by "+describe(s.by)+", which the matcher prefers as more specific: the route is never used")
	}
	if strings.EqualFold(strings.TrimSpace(c.Unmatched), matcher.Public) {
		add(Warning, "unmatched-public", r.at("unmatched"), "a request no route matches is let through without a token: a route added to the backend but not here is public (prefer deny)")
	}
	if strings.EqualFold(strings.TrimSpace(c.Mode), "shadow") {
		add(Warning, "shadow-mode", r.at("mode"), "mode: shadow forwards denied requests to the backend and only logs them: switch to enforce before production")
	}
	if trust && len(nonEmpty(c.Audiences)) == 0 {
		add(Warning, "trust-without-audiences", r.at("trustTokenPermissions"), "the token's permissions are trusted, but no audiences are set: a token the issuer minted for another application grants its permissions here")
	}
	if isTrue(c.AllowAnyAudience) {
		add(Warning, "allow-any-audience", r.at("allowAnyAudience"), "tokens issued for any audience are accepted (RFC 8725 §3.9): list this API's audiences instead")
	}
	lintTenant(r, table, add)
}

// lintTenant flags a path tenant mode (the default is path:org) whose wildcard no route requiring
// a permission has: no request is then guarded by an org.
func lintTenant(r *resolved, table *matcher.Table, add func(sev, code string, loc Location, msg string)) {
	t, err := policy.ParseTenant(r.cfg.Tenant)
	if err != nil || t.Mode() != "path" {
		return
	}
	guarded := 0
	for _, rt := range table.Routes {
		if !isPermission(rt.Requirement) {
			continue
		}
		guarded++
		if rt.SegmentIndex(t.Param()) >= 0 {
			return
		}
	}
	if guarded == 0 {
		return
	}
	mode := "tenant path:" + t.Param()
	if strings.TrimSpace(r.cfg.Tenant) == "" {
		mode += " (the default)"
	}
	add(Warning, "unused-tenant-placeholder", r.at("tenant"), mode+" names the org by the route wildcard {"+t.Param()+"}, but no route requiring a permission has it: set tenant: none for a single-tenant API, or name the org in the routes")
}

func isPermission(req string) bool {
	return req != matcher.Public && req != matcher.Authenticated && req != matcher.Deny
}

func isTrue(s string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	return err == nil && b
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if strings.TrimSpace(s) != "" {
			out = append(out, s)
		}
	}
	return out
}

func routeWhere(r *matcher.Route) string {
	return "routes[" + strconv.Itoa(r.Index) + "] " + strconv.Quote(r.Text)
}

func describe(routes []*matcher.Route) string {
	parts := make([]string, len(routes))
	for i, r := range routes {
		parts[i] = routeWhere(r)
	}
	return strings.Join(parts, " and ")
}

// policySource is a policy a middleware decides with, compiled by policy.Parse. The role and
// permission names are read from the document only to list them (Policy does not export them);
// what a role grants comes from policy.Grants.
type policySource struct {
	key       string   // shared by every middleware deciding with the same policy
	loc       Location // the file (the policy file, or the middleware's for an inline policy)
	option    string   // "" for a policy file, "policy " for an inline policy
	pol       *policy.Policy
	perms     []string            // declared, in document order
	roles     []string            // sorted
	rolePerms map[string][]string // role → the permissions it grants (policy.Grants)
}

type policyNames struct {
	Permissions []string            `yaml:"permissions"`
	Roles       map[string][]string `yaml:"roles"`
}

// loadPolicy compiles the middleware's policy; nil when it has none or New refuses it.
func loadPolicy(r *resolved) *policySource {
	c := r.cfg
	src := &policySource{}
	var data []byte
	switch {
	case c.Policy != "" && c.PolicyFile != "":
		return nil
	case c.Policy != "":
		data = []byte(c.Policy)
		src.loc = r.at("policy")
		src.key = "inline\x00" + src.loc.File + "\x00" + r.m.Name
		src.option = "policy "
	case c.PolicyFile != "":
		b, err := os.ReadFile(c.PolicyFile)
		if err != nil {
			return nil
		}
		data = b
		src.loc = r.fileLoc(c.PolicyFile)
		abs, err := filepath.Abs(c.PolicyFile)
		if err != nil {
			abs = c.PolicyFile
		}
		src.key = "file\x00" + abs
		if src.loc.Object != "" {
			src.key = "object\x00" + src.loc.File + "\x00" + src.loc.Object
		}
	default:
		return nil
	}
	pol, err := policy.Parse(data)
	if err != nil {
		return nil
	}
	var names policyNames
	if yaml.Unmarshal(data, &names) != nil {
		return nil
	}
	src.pol = pol
	src.perms = names.Permissions
	src.rolePerms = map[string][]string{}
	for role := range names.Roles {
		src.roles = append(src.roles, role)
		id := &tokens.Identity{Org: "check", Roles: []string{role}}
		_, perms := policy.Grants(pol, policy.Options{}, id, "check", nil)
		src.rolePerms[role] = perms
	}
	sort.Strings(src.roles)
	return src
}

// grantedBy returns the roles that grant perm.
func (s *policySource) grantedBy(perm string) []string {
	var out []string
	for _, role := range s.roles {
		for _, p := range s.rolePerms[role] {
			if p == perm {
				out = append(out, role)
				break
			}
		}
	}
	return out
}

func (s *policySource) at(option string) Location {
	loc := s.loc
	loc.Option = s.option + option
	return loc
}

// policyUse gathers what every middleware sharing a policy requires of it.
type policyUse struct {
	src      *policySource
	required map[string]bool
}

// findings flags the permissions no route requires and the roles no route needs.
func (u *policyUse) findings() []Finding {
	var out []Finding
	for i, p := range u.src.perms {
		if u.src.pol.HasPermission(p) && !u.required[p] {
			out = append(out, Finding{Severity: Warning, Code: "unused-permission", Location: u.src.at("permissions[" + strconv.Itoa(i) + "] " + strconv.Quote(p)),
				Message: "no route requires this permission: remove it, or add the route that needs it"})
		}
	}
	for _, role := range u.src.roles {
		needed := false
		for _, p := range u.src.rolePerms[role] {
			needed = needed || u.required[p]
		}
		if !needed {
			out = append(out, Finding{Severity: Warning, Code: "unused-role", Location: u.src.at("roles." + role),
				Message: "no route requires any permission this role grants: a holder of only this role can reach nothing but public and authenticated routes"})
		}
	}
	return out
}
