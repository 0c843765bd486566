package policy

import (
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

const explainPolicy = `
permissions: [w:read, w:delete, p:delete]
roles:
  viewer: [w:read]
  admin: [w:read, w:delete]
  moderator: [p:delete]
assignments:
  - {subject: user5, org: forum, role: moderator, scope: [/topics/houseplants, /topics/*/pinned]}
  - {subject: svc, org: acme, role: viewer}
  - {subject: svc, org: globex, role: admin, issuer: "https://a.example"}
  - {subject: bob, org: acme, role: admin, issuer: "https://b.example"}
`

// TestExplainAgreesWithDecideAndGrants holds Explain to the rule: over every combination of
// identity, route, target, options and policy, its verdict, reason and org are Decide's and its
// roles and permissions are what Grants forwards.
func TestExplainAgreesWithDecideAndGrants(t *testing.T) {
	pols := []*Policy{nil, mustParse(t, explainPolicy)}
	ids := []tokens.Identity{
		{Subject: "a", Org: "acme", Roles: []string{"admin"}},
		{Subject: "v", Org: "acme", Roles: []string{"viewer"}, Permissions: []string{"w:delete"}},
		{Subject: "svc", Org: "acme", Issuer: "https://a.example"},
		{Subject: "svc", Org: "acme", Issuer: "https://b.example"},
		{Subject: "bob", Org: "acme", Issuer: "https://b.example", OrgRoles: map[string][]string{"globex": {"viewer"}, "acme": {"moderator"}}},
		{Subject: "user5", Org: "forum"},
		{Subject: "t", Org: "forum", Assignments: []tokens.Assignment{{Role: "moderator", Org: "forum", Scope: []string{"/topics/cooking"}}, {Role: "admin", Org: "acme"}}},
		{Subject: "", Org: "", Roles: []string{"viewer"}, Permissions: []string{"w:read"}},
	}
	routes := []*matcher.Route{
		route(t, "DELETE /orgs/{org}/w/{id} w:delete"),
		route(t, "GET /orgs/{org}/w/{id} w:read"),
		route(t, "DELETE /orgs/{org}/topics/{t}/{rest...} p:delete"),
		route(t, "GET /me authenticated"),
	}
	targets := []Target{
		{Resource: []string{"me"}},
		{Guarded: true},
		{Guarded: true, Org: "acme", Resource: []string{"w", "1"}},
		{Guarded: true, Org: "globex", Resource: []string{"w", "1"}},
		{Guarded: true, Org: "forum", Resource: []string{"topics", "houseplants", "posts", "1"}},
		{Guarded: true, Org: "forum", Resource: []string{"topics", "cooking", "pinned"}},
		{Guarded: true, Org: "forum", Resource: []string{"topics", "gardening"}},
	}
	optsList := []Options{{}, {TrustTokenPermissions: true}, {IssuerQualified: true}, {TrustTokenPermissions: true, IssuerQualified: true}}
	n, allowed := 0, 0
	for pi, p := range pols {
		for ii := range ids {
			id := &ids[ii]
			for _, r := range routes {
				for ti, target := range targets {
					for oi, opts := range optsList {
						name := "policy " + strconv.Itoa(pi) + " id " + strconv.Itoa(ii) + " " + r.Text + " target " + strconv.Itoa(ti) + " opts " + strconv.Itoa(oi)
						d := Decide(p, opts, id, r, target)
						e := Explain(p, opts, id, r, target)
						roles, perms := Grants(p, opts, id, d.Org, target.Resource)
						if e.Allow != d.Allow || e.Reason != d.Reason || e.Org != d.Org {
							t.Errorf("%s: explain says allow=%v org=%q %q, Decide allow=%v org=%q %q", name, e.Allow, e.Org, e.Reason, d.Allow, d.Org, d.Reason)
						}
						if strings.Join(e.Roles, ",") != strings.Join(roles, ",") || strings.Join(e.Permissions, ",") != strings.Join(perms, ",") {
							t.Errorf("%s: explain forwards roles %v perms %v, Grants %v %v", name, e.Roles, e.Permissions, roles, perms)
						}
						if d.Allow && r.Requirement != matcher.Authenticated && !grantedBySource(e) {
							t.Errorf("%s: allowed, but no source is marked as granting %q: %+v", name, r.Requirement, e.Sources)
						}
						if !d.Allow && grantedBySource(e) && d.Org != "" {
							t.Errorf("%s: denied, but a source is marked as granting: %+v", name, e.Sources)
						}
						n++
						if d.Allow {
							allowed++
						}
					}
				}
			}
		}
	}
	if allowed == 0 || allowed == n {
		t.Fatalf("%d of %d combinations allowed: the table does not exercise both outcomes", allowed, n)
	}
}

func grantedBySource(e Explanation) bool {
	for _, s := range e.Sources {
		if s.Grants {
			return true
		}
	}
	return false
}

func TestExplainSaysWhySourcesDoNotApply(t *testing.T) {
	p := mustParse(t, explainPolicy)
	del := route(t, "DELETE /orgs/{org}/topics/{t}/{rest...} p:delete")
	read := route(t, "GET /orgs/{org}/w/{id} w:read")
	cases := []struct {
		name   string
		id     tokens.Identity
		route  *matcher.Route
		target Target
		opts   Options
		want   string // the Why of the source of kind, role
		kind   string
		role   string
	}{
		{"a moderator scoped to houseplants is told its scope does not cover gardening", tokens.Identity{Subject: "user5", Org: "forum"}, del, Target{Guarded: true, Org: "forum", Resource: []string{"topics", "gardening"}}, Options{}, "its scope does not cover /topics/gardening", SourcePolicy, "moderator"},
		{"a policy assignment of another issuer is named with both issuers", tokens.Identity{Subject: "bob", Org: "acme", Issuer: "https://a.example"}, read, Target{Guarded: true, Org: "acme"}, Options{}, `it holds for issuer "https://b.example", the token's is "https://a.example"`, SourcePolicy, "admin"},
		{"an unqualified assignment under several issuers is said to match nobody", tokens.Identity{Subject: "svc", Org: "acme", Issuer: "https://a.example"}, read, Target{Guarded: true, Org: "acme"}, Options{IssuerQualified: true}, "names no issuer", SourcePolicy, "viewer"},
		{"token roles do not count in another org reached through org roles", tokens.Identity{Subject: "bob", Org: "acme", Roles: []string{"admin"}, OrgRoles: map[string][]string{"globex": {"viewer"}}}, read, Target{Guarded: true, Org: "globex"}, Options{}, `only in its own org "acme"`, SourceTokenRole, "admin"},
		{"an org role in the addressed org applies", tokens.Identity{Subject: "bob", Org: "acme", OrgRoles: map[string][]string{"globex": {"viewer"}}}, read, Target{Guarded: true, Org: "globex"}, Options{}, "held in the org of the decision", SourceTokenOrgRole, "viewer"},
		{"a token assignment in the addressed org applies", tokens.Identity{Subject: "t", Org: "forum", Assignments: []tokens.Assignment{{Role: "admin", Org: "forum"}}}, read, Target{Guarded: true, Org: "forum"}, Options{}, "held in the org of the decision", SourceTokenAssignment, "admin"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := Explain(p, tc.opts, &tc.id, tc.route, tc.target)
			for _, s := range e.Sources {
				if s.Kind == tc.kind && s.Role == tc.role {
					if !strings.Contains(s.Why, tc.want) {
						t.Errorf("why %q, want %q", s.Why, tc.want)
					}
					return
				}
			}
			t.Errorf("no %s source for role %q in %+v", tc.kind, tc.role, e.Sources)
		})
	}
}

func TestExplainTrustedPermissions(t *testing.T) {
	read := route(t, "GET /orgs/{org}/w/{id} w:read")
	id := &tokens.Identity{Subject: "s", Org: "acme", Permissions: []string{"w:read"}}
	cases := []struct {
		name    string
		opts    Options
		target  Target
		applies bool
		why     string
	}{
		{"a token permission is ignored when trustTokenPermissions is off", Options{}, Target{Guarded: true, Org: "acme"}, false, "trustTokenPermissions is off"},
		{"a token permission grants in the token's org when trusted", Options{TrustTokenPermissions: true}, Target{Guarded: true, Org: "acme"}, true, "trustTokenPermissions is on"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := Explain(nil, tc.opts, id, read, tc.target)
			if len(e.Sources) != 1 || e.Sources[0].Applies != tc.applies || !strings.Contains(e.Sources[0].Why, tc.why) || e.Allow != tc.applies {
				t.Errorf("got %+v, allow %v; want applies=%v and %q", e.Sources, e.Allow, tc.applies, tc.why)
			}
		})
	}
}
