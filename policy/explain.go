package policy

import (
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// Kinds of grant source in an Explanation.
const (
	SourceTokenRole       = "token role"        // the token's roles claim (its own org only)
	SourceTokenOrgRole    = "token org_roles"   // the token's org-roles claim, per org
	SourceTokenAssignment = "token assignment"  // a scoped assignment carried in the token
	SourcePolicy          = "policy assignment" // an assignment in the policy document
	SourceTokenPermission = "token permission"  // a permission carried in the token (trustTokenPermissions)
)

// Source is one place a role or permission could come from, and whether it counts for the request.
type Source struct {
	Kind        string   // one of the Source* constants
	Role        string   // the role ("" for a token permission)
	Org         string   // the org the source holds in ("" when it holds in the token's own org)
	Scope       string   // the scope paths, comma-separated ("" for the whole org)
	Issuer      string   // policy assignment: the issuer it is qualified with ("" for none)
	Applies     bool     // it counts for this request
	Why         string   // why it applies or not
	Permissions []string // what it grants when it applies, sorted
	Grants      bool     // it applies and grants the permission the route requires
}

// Explanation is the step-by-step account of one decision: what Decide answers and what Grants
// forwards, with every grant source that was considered.
type Explanation struct {
	Allow       bool
	Permission  string // the permission the route requires
	Guarded     bool   // the request names an org, which the token must belong to
	Target      string // the org the request names ("" when it names none)
	Org         string // the org the decision was taken in ("" when the tenant guard refused)
	Guard       string // what the tenant guard saw and concluded
	Sources     []Source
	Roles       []string // the roles forwarded (as Grants returns them)
	Permissions []string // the permissions forwarded (as Grants returns them)
	Reason      string   // Decide's reason
}

// Explain walks the data Decide and Grants use and lists every grant source with whether it
// applies and why. Its Allow and Reason are Decide's, its Org, Roles and Permissions those Decide
// and Grants report for the same arguments (TestExplainAgreesWithDecideAndGrants holds it to that).
// p may be nil, as for Decide.
func Explain(p *Policy, opts Options, id *tokens.Identity, route *matcher.Route, target Target) Explanation {
	d := Decide(p, opts, id, route, target)
	e := Explanation{Allow: d.Allow, Permission: route.Requirement, Guarded: target.Guarded, Target: target.Org, Org: d.Org, Reason: d.Reason}
	e.Guard = guardNote(id, target)
	org := d.Org
	perm := route.Requirement
	e.Sources = tokenSources(p, opts, id, org, perm)
	e.Sources = append(e.Sources, assignmentSources(p, id, org, perm, target.Resource)...)
	e.Sources = append(e.Sources, policySources(p, opts, id, org, perm, target.Resource)...)
	var roles, perms []string
	for _, s := range e.Sources {
		if !s.Applies {
			continue
		}
		if s.Role != "" {
			roles = append(roles, s.Role)
		}
		perms = append(perms, s.Permissions...)
	}
	e.Roles = tokens.SortedSet(roles)
	e.Permissions = tokens.SortedSet(perms)
	return e
}

func guardNote(id *tokens.Identity, target Target) string {
	switch {
	case !target.Guarded:
		return "the request names no org: the decision is taken in the token's org " + strconv.Quote(id.Org)
	case target.Org == "":
		return "the request names no org (or a malformed one): refused"
	case target.Org == id.Org:
		return "the request names org " + strconv.Quote(target.Org) + ", the token's org claim"
	case !guardRefuses(id, target.Org): // not empty, as the case above says
		return "the request names org " + strconv.Quote(target.Org) + ", for which the token carries org roles"
	}
	return "the request names org " + strconv.Quote(target.Org) + ": the token's org is " + strconv.Quote(id.Org) + " and it carries no roles there: refused"
}

// rolePermissions returns what role grants under p, sorted.
func rolePermissions(p *Policy, role string) []string {
	if p == nil {
		return nil
	}
	var out []string
	for perm := range p.roles[role] {
		out = append(out, perm)
	}
	sort.Strings(out)
	return out
}

// tokenSources lists the token's roles, org roles and (trusted) permissions.
func tokenSources(p *Policy, opts Options, id *tokens.Identity, org, perm string) []Source {
	var out []Source
	for _, r := range id.Roles {
		s := Source{Kind: SourceTokenRole, Role: r, Org: id.Org}
		s.Applies = org == id.Org
		if s.Applies {
			s.Why = "the decision is taken in the token's own org"
		} else {
			s.Why = "the token's roles count only in its own org " + strconv.Quote(id.Org)
		}
		out = append(out, roleSource(p, s, perm))
	}
	orgs := make([]string, 0, len(id.OrgRoles))
	for o := range id.OrgRoles {
		orgs = append(orgs, o)
	}
	sort.Strings(orgs)
	for _, o := range orgs {
		for _, r := range id.OrgRoles[o] {
			s := Source{Kind: SourceTokenOrgRole, Role: r, Org: o, Applies: o == org}
			if s.Applies {
				s.Why = "held in the org of the decision"
			} else {
				s.Why = "held in another org"
			}
			out = append(out, roleSource(p, s, perm))
		}
	}
	for _, tp := range id.Permissions {
		s := Source{Kind: SourceTokenPermission, Org: id.Org}
		switch {
		case !opts.TrustTokenPermissions:
			s.Why = "trustTokenPermissions is off"
		case org != id.Org:
			s.Why = "token permissions count only in the token's own org " + strconv.Quote(id.Org)
		default:
			s.Applies = true
			s.Why = "trustTokenPermissions is on"
			s.Permissions = []string{tp}
			s.Grants = tp == perm
		}
		out = append(out, permissionSource(s, tp))
	}
	return out
}

// permissionSource names the permission a token-permission source carries in its Why when it
// does not apply (Permissions stays empty: it grants nothing).
func permissionSource(s Source, tp string) Source {
	if !s.Applies {
		s.Why = strconv.Quote(tp) + ": " + s.Why
	}
	return s
}

// roleSource fills what an applying role grants.
func roleSource(p *Policy, s Source, perm string) Source {
	if !s.Applies {
		return s
	}
	s.Permissions = rolePermissions(p, s.Role)
	s.Grants = p != nil && p.roles[s.Role][perm]
	if p == nil {
		s.Why += " (no policy document: roles grant no permission)"
	}
	return s
}

// assignmentSources lists the token-carried assignments.
func assignmentSources(p *Policy, id *tokens.Identity, org, perm string, resource []string) []Source {
	var out []Source
	for _, a := range id.Assignments {
		s := Source{Kind: SourceTokenAssignment, Role: a.Role, Org: a.Org, Scope: strings.Join(a.Scope, ",")}
		switch {
		case p == nil:
			s.Why = "no policy document defines its role"
		case a.Org != org:
			s.Why = "held in another org"
		case !scopeStrings(a.Scope, resource):
			s.Why = "its scope does not cover /" + strings.Join(resource, "/")
		default:
			s.Applies = true
			s.Why = "held in the org of the decision" + coverNote(a.Scope != nil, resource)
		}
		out = append(out, roleSource(p, s, perm))
	}
	return out
}

// policySources lists the policy's assignments to id's subject, in every org (sorted by org).
func policySources(p *Policy, opts Options, id *tokens.Identity, org, perm string, resource []string) []Source {
	if p == nil {
		return nil
	}
	var keys []string
	for k := range p.grants {
		if strings.HasPrefix(k, id.Subject+"\x00") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []Source
	for _, k := range keys {
		o := k[len(id.Subject)+1:]
		for _, g := range p.grants[k] {
			s := Source{Kind: SourcePolicy, Role: g.role, Org: o, Issuer: g.issuer, Scope: scopeText(g.scopes)}
			switch {
			case o != org:
				s.Why = "held in another org"
			case !g.applies(opts, id) && g.issuer == "":
				s.Why = "it names no issuer and more than one issuer is trusted"
			case !g.applies(opts, id):
				s.Why = "it holds for issuer " + strconv.Quote(g.issuer) + ", the token's is " + strconv.Quote(id.Issuer)
			case !covers(g.scopes, resource):
				s.Why = "its scope does not cover /" + strings.Join(resource, "/")
			default:
				s.Applies = true
				s.Why = "assigned to " + strconv.Quote(id.Subject) + g.issuerNote() + " in the org of the decision" + coverNote(g.scopes != nil, resource)
			}
			out = append(out, roleSource(p, s, perm))
		}
	}
	return out
}

func coverNote(scoped bool, resource []string) string {
	if !scoped {
		return ""
	}
	return ", its scope covers /" + strings.Join(resource, "/")
}

func scopeText(scopes [][]string) string {
	var parts []string
	for _, s := range scopes {
		parts = append(parts, "/"+strings.Join(s, "/"))
	}
	return strings.Join(parts, ",")
}
