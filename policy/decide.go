package policy

import (
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// Decision is the outcome of one authorization question. Reason explains it for audit logs and
// tests; it never goes to the client.
type Decision struct {
	Allow      bool
	Status     int    // 0 on allow, 403 on deny
	Route      string // the matched route declaration
	Permission string // the permission the route requires ("authenticated" for any valid token)
	Reason     string
	Org        string // the org the decision was taken in
}

// Options are the policy switches of one middleware.
type Options struct {
	TrustTokenPermissions bool // permissions carried in the token count (in the token's own org)

	// IssuerQualified makes policy assignments without an issuer match nobody, in Decide and in
	// Grants alike. It MUST be set when the middleware trusts more than one issuer: a sub is
	// unique only within its issuer (RFC 7519 Section 4.1.2), so an unqualified assignment
	// would also grant its role to another issuer's subject of the same name.
	IssuerQualified bool
}

// Decide answers whether id may perform the request that matched route and addresses target.
// p may be nil (no policy document): then only token permissions can grant. A policy assignment
// counts only for its issuer's tokens when it names one, and for no token when it names none and
// opts.IssuerQualified is set.
func Decide(p *Policy, opts Options, id *tokens.Identity, route *matcher.Route, target Target) Decision {
	org := id.Org
	if target.Guarded {
		if guardRefuses(id, target.Org) {
			return guardDenial(route, id, target)
		}
		org = target.Org
	}
	if route.Requirement == authenticated {
		return Decision{Allow: true, Route: route.Text, Permission: authenticated, Reason: "any valid token", Org: org}
	}
	return decidePermission(p, opts, id, Decision{Route: route.Text, Permission: route.Requirement, Status: 403, Org: org}, target.Resource)
}

// authenticated is matcher.Authenticated as a constant of this package: under Yaegi each use of
// another package's constant is a frame slot, where this package's constants are folded.
const authenticated = matcher.Authenticated

// The steps of Decide a request may skip are functions of their own: under Yaegi a call reserves
// room for every variable and intermediate value of the function it enters, taken or not
// (docs/yaegi.md), and most requests are allowed by the first step that looks. For the same
// reason Decide builds each Decision where it returns it, rather than one it then amends.

// guardRefuses is the tenant guard: a request that names org is for id only when org is not
// empty and id belongs to it (its org claim, or an org it carries roles for). It reports the
// refusal rather than the admission so that Decide needs no "!": under Yaegi each operator is a
// frame slot.
func guardRefuses(id *tokens.Identity, org string) bool {
	if org == "" {
		return true
	}
	if org == id.Org {
		return false
	}
	_, ok := id.OrgRoles[org]
	return !ok
}

// guardDenial is the tenant guard's refusal: the request names no org, or one id does not belong to.
func guardDenial(route *matcher.Route, id *tokens.Identity, target Target) Decision {
	d := Decision{Route: route.Text, Permission: route.Requirement, Status: 403}
	if target.Org == "" {
		d.Reason = "the request names no org"
		return d
	}
	d.Reason = "token of org " + strconv.Quote(id.Org) + " addresses org " + strconv.Quote(target.Org)
	return d
}

// decidePermission decides a route that requires a permission, in d.Org: token permissions, then
// the token's roles, then assignments.
func decidePermission(p *Policy, opts Options, id *tokens.Identity, d Decision, resource []string) Decision {
	org := d.Org
	perm := d.Permission
	if opts.TrustTokenPermissions {
		if tokenGrants(id, org, perm) {
			return allow(d, "token grants \""+perm+"\"")
		}
	}
	if p == nil {
		return noPolicy(d)
	}
	// The token's roles are tokenRoles(id, org); when no org roles count, they are id.Roles, read
	// here without a call.
	roles := id.Roles
	if id.OrgRoles != nil { // empty: tokenRoles gives id.Roles too; a slot less than len under Yaegi
		roles = tokenRoles(id, org)
	}
	if org != id.Org {
		roles = tokenRoles(id, org)
	}
	for _, r := range roles {
		if p.roles[r][perm] {
			return allow(d, strJoin([]string{"role \"", r, "\" in org \"", org, "\" grants \"", perm, "\""}, ""))
		}
	}
	return decideAssigned(p, opts, id, d, roles, resource)
}

// decideAssigned is the last step of decidePermission: assignments carried in the token, then the
// policy's assignments; a denial explains what id holds in the org.
func decideAssigned(p *Policy, opts Options, id *tokens.Identity, d Decision, roles, resource []string) Decision {
	org := d.Org
	perm := d.Permission
	// Token-carried assignments come from the token itself: they are its issuer's by construction.
	for _, a := range id.Assignments {
		if a.Org == org && p.roles[a.Role][perm] && scopeStrings(a.Scope, resource) {
			return allow(d, "token assignment of role \""+a.Role+"\" in org \""+org+"\" grants \""+perm+"\"")
		}
	}
	for _, g := range p.grants[id.Subject+"\x00"+org] {
		if g.perms[perm] && g.applies(opts, id) && covers(g.scopes, resource) {
			return allow(d, "policy assignment of role "+strconv.Quote(g.role)+" to "+strconv.Quote(id.Subject)+g.issuerNote()+" in org "+strconv.Quote(org)+" grants "+strconv.Quote(perm))
		}
	}
	d.Reason = lacks(p, opts, id, roles, org, perm)
	return d
}

// strJoin is strings.Join through a package variable: under Yaegi each + of a chain is a frame
// slot and a new string, and the selector strings.Join is a slot too, where a package variable
// is none. One call builds a reason for one slot, its result.
var strJoin = strings.Join

// tokenGrants reports whether id carries perm as a token permission that counts in org: only in
// the token's own org.
func tokenGrants(id *tokens.Identity, org, perm string) bool {
	if org != id.Org {
		return false
	}
	return has(id.Permissions, perm)
}

// noPolicy is decidePermission's denial without a policy, where only token permissions grant.
func noPolicy(d Decision) Decision {
	d.Reason = "token does not carry " + strconv.Quote(d.Permission)
	return d
}

func allow(d Decision, reason string) Decision {
	d.Allow = true
	d.Status = 0
	d.Reason = reason
	return d
}

// tokenRoles returns the token's roles that count in org.
func tokenRoles(id *tokens.Identity, org string) []string {
	extra := id.OrgRoles[org]
	if org != id.Org {
		return extra
	}
	if len(extra) == 0 {
		return id.Roles
	}
	return tokens.SortedSet(append(append([]string{}, id.Roles...), extra...))
}

// lacks explains a denial, listing the roles that count for id in org (policy assignments only
// when they apply to id's issuer).
func lacks(p *Policy, opts Options, id *tokens.Identity, roles []string, org, perm string) string {
	var held []string
	for _, r := range roles {
		held = append(held, strconv.Quote(r))
	}
	for _, g := range p.grants[id.Subject+"\x00"+org] {
		if g.applies(opts, id) {
			held = append(held, strconv.Quote(g.role)+g.issuerNote()+scopeNote(g.scopes))
		}
	}
	for _, a := range id.Assignments {
		if a.Org == org {
			held = append(held, strconv.Quote(a.Role)+" (token assignment)")
		}
	}
	switch len(held) {
	case 0:
		return "subject " + strconv.Quote(id.Subject) + " has no role in org " + strconv.Quote(org) + " granting " + strconv.Quote(perm)
	case 1:
		return "role " + held[0] + " in org " + strconv.Quote(org) + " lacks " + strconv.Quote(perm)
	}
	return "roles " + strings.Join(held, ", ") + " in org " + strconv.Quote(org) + " lack " + strconv.Quote(perm)
}

func scopeNote(scopes [][]string) string {
	if scopes == nil {
		return ""
	}
	var parts []string
	for _, s := range scopes {
		parts = append(parts, "/"+strings.Join(s, "/"))
	}
	return " (scoped to " + strings.Join(parts, ", ") + ")"
}

// scopeStrings applies a token-carried scope list, given as paths: nil (no scope claim) covers
// the whole org; a non-nil empty list covers nothing (the tokens package refuses present-but-empty
// scopes; this is defence in depth). A scope that does not parse covers nothing.
func scopeStrings(scopes []string, resource []string) bool {
	if scopes == nil {
		return true
	}
	for _, s := range scopes {
		segs, err := ParseScope(s)
		if err == nil && inside(segs, resource) {
			return true
		}
	}
	return false
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Grants returns the roles and permissions id holds in org for the resource, sorted and
// deduplicated, for the identity headers. It counts exactly what Decide counts: policy
// assignments only when they apply to id's issuer (see Options.IssuerQualified).
func Grants(p *Policy, opts Options, id *tokens.Identity, org string, resource []string) (roles, perms []string) {
	roles = append(roles, tokenRoles(id, org)...)
	if opts.TrustTokenPermissions && org == id.Org {
		perms = append(perms, id.Permissions...)
	}
	if p == nil {
		return tokens.SortedSet(roles), tokens.SortedSet(perms)
	}
	for _, a := range id.Assignments {
		if a.Org == org && scopeStrings(a.Scope, resource) {
			roles = append(roles, a.Role)
		}
	}
	for _, g := range p.grants[id.Subject+"\x00"+org] {
		if g.applies(opts, id) && covers(g.scopes, resource) {
			roles = append(roles, g.role)
		}
	}
	for _, r := range roles {
		for perm := range p.roles[r] {
			perms = append(perms, perm)
		}
	}
	return tokens.SortedSet(roles), tokens.SortedSet(perms)
}

// GrantHeaders returns what Grants returns, joined by commas as the identity headers carry them.
// It is the request path's one call: in the common case (the token's roles in its own org, no
// org roles, assignments or token permissions to merge) it builds each list once,
// without the copies Grants makes for the general case.
func GrantHeaders(p *Policy, opts Options, id *tokens.Identity, org string, resource []string) (roles, perms string) {
	// The cases of joinGrants one if each: under Yaegi a || costs more than another return. An
	// empty but non-nil list or map goes to joinGrants too (the same answer): x != nil is one
	// slot less than len(x) != 0 under Yaegi.
	if org != id.Org {
		return joinGrants(p, opts, id, org, resource)
	}
	if id.OrgRoles != nil {
		return joinGrants(p, opts, id, org, resource)
	}
	if id.Assignments != nil {
		return joinGrants(p, opts, id, org, resource)
	}
	if opts.TrustTokenPermissions {
		if id.Permissions != nil {
			return joinGrants(p, opts, id, org, resource)
		}
	}
	if p != nil {
		return policyHeaders(p, opts, id, org, resource)
	}
	// Without a policy the roles are all there is; one role (the common case) is its own list.
	list := id.Roles
	if len(list) == 1 {
		return list[0], ""
	}
	return roleHeaders(nil, list)
}

// policyHeaders is GrantHeaders' common case under a policy: unless the policy assigns id roles
// in org, the token's roles and their permissions. One role's permissions were sorted and joined
// when the policy was built (Policy.joined); under Yaegi the steps that build the lists are
// functions of their own, so that the request path reserves no room for them.
func policyHeaders(p *Policy, opts Options, id *tokens.Identity, org string, resource []string) (string, string) {
	if p.grants[id.Subject+"\x00"+org] != nil { // never an empty list: != nil is a slot less than len
		return joinGrants(p, opts, id, org, resource)
	}
	list := id.Roles
	if len(list) == 1 {
		return list[0], p.joined[list[0]]
	}
	return roleHeaders(p, list)
}

// roleHeaders joins a list of roles other than one (none, or several in any order, perhaps
// repeated) and, under p (which may be nil), their permissions.
func roleHeaders(p *Policy, list []string) (roles, perms string) {
	if len(list) > 1 {
		list = tokens.SortedSet(list)
	}
	roles = strings.Join(list, ",")
	if p == nil {
		return roles, ""
	}
	var all []string
	for _, r := range list {
		for perm := range p.roles[r] {
			all = append(all, perm)
		}
	}
	all = tokens.SortedSet(all)
	perms = strings.Join(all, ",")
	return roles, perms
}

// joinGrants is GrantHeaders' general case.
func joinGrants(p *Policy, opts Options, id *tokens.Identity, org string, resource []string) (string, string) {
	roles, perms := Grants(p, opts, id, org, resource)
	r := strings.Join(roles, ",")
	return r, strings.Join(perms, ",")
}
