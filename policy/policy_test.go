package policy

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

const testPolicy = `
permissions: [w:read, w:delete, p:delete]
roles:
  viewer: [w:read]
  admin: [w:read, w:delete]
  moderator: [p:delete]
assignments:
  - {subject: user5, org: forum, role: moderator, scope: [/topics/houseplants, /topics/*/pinned]}
  - {subject: svc, org: acme, role: viewer}
`

func mustParse(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func route(t *testing.T, text string) *matcher.Route {
	t.Helper()
	r, err := matcher.ParseRoute(text)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDecisions(t *testing.T) {
	p := mustParse(t, testPolicy)
	del := route(t, "DELETE /orgs/{org}/w/{id} w:delete")
	pdel := route(t, "DELETE /orgs/{org}/topics/{t}/{rest...} p:delete")
	cases := []struct {
		name   string
		id     tokens.Identity
		route  *matcher.Route
		target Target
		allow  bool
		reason string
	}{
		{"an admin of acme deletes in acme", tokens.Identity{Subject: "a", Org: "acme", Roles: []string{"admin"}}, del, Target{Guarded: true, Org: "acme"}, true, `role "admin" in org "acme" grants "w:delete"`},
		{"a viewer of acme cannot delete", tokens.Identity{Subject: "v", Org: "acme", Roles: []string{"viewer"}}, del, Target{Guarded: true, Org: "acme"}, false, `role "viewer" in org "acme" lacks "w:delete"`},
		{"an admin of acme cannot delete in globex", tokens.Identity{Subject: "a", Org: "acme", Roles: []string{"admin"}}, del, Target{Guarded: true, Org: "globex"}, false, `token of org "acme" addresses org "globex"`},
		{"a request naming no org is denied", tokens.Identity{Subject: "a", Org: "acme", Roles: []string{"admin"}}, del, Target{Guarded: true}, false, "names no org"},
		{"a subject without roles is told so", tokens.Identity{Subject: "n", Org: "acme"}, del, Target{Guarded: true, Org: "acme"}, false, `subject "n" has no role in org "acme"`},
		{"user5 moderates houseplants", tokens.Identity{Subject: "user5", Org: "forum"}, pdel, Target{Guarded: true, Org: "forum", Resource: []string{"topics", "houseplants", "posts", "1"}}, true, "policy assignment"},
		{"user5 does not moderate houseplantsarchive", tokens.Identity{Subject: "user5", Org: "forum"}, pdel, Target{Guarded: true, Org: "forum", Resource: []string{"topics", "houseplantsarchive"}}, false, "scoped to /topics/houseplants"},
		{"a star matches one segment", tokens.Identity{Subject: "user5", Org: "forum"}, pdel, Target{Guarded: true, Org: "forum", Resource: []string{"topics", "cooking", "pinned", "3"}}, true, ""},
		{"a star does not match two segments", tokens.Identity{Subject: "user5", Org: "forum"}, pdel, Target{Guarded: true, Org: "forum", Resource: []string{"topics", "a", "b", "pinned"}}, false, ""},
		{"an unguarded route uses the token's own org", tokens.Identity{Subject: "svc", Org: "acme"}, route(t, "GET /w w:read"), Target{}, true, `"svc" in org "acme"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := c.id
			d := Decide(p, Options{}, &id, c.route, c.target)
			if d.Allow != c.allow || !strings.Contains(d.Reason, c.reason) {
				t.Fatalf("allow=%v reason=%q; want allow=%v reason containing %q", d.Allow, d.Reason, c.allow, c.reason)
			}
			if !d.Allow && d.Status != 403 {
				t.Fatalf("status %d", d.Status)
			}
		})
	}
}

func TestPolicyErrorsNameTheirLocation(t *testing.T) {
	cases := []struct{ doc, want string }{
		{"permissions: [a, a]", `permissions[1] "a": duplicate permission`},
		{"permissions: [\"*\"]", "wildcard permissions are not allowed"},
		{"permissions: [a]\nroles:\n  r: [\"a:*\"]", `roles.r[0] "a:*": wildcard`},
		{"permissions: [a]\nroles:\n  r: [a]\n  s: [r]", "roles cannot contain roles"},
		{"permissions: [a]\nroles:\n  r: [a]\n  r: [a]", `duplicate role "r"`},
		{"permissions: [a]\nroles:\n  r: [b]", `roles.r[0] "b": unknown permission`},
		{"permissions: [a]\nrolez: {}", "malformed YAML"},
		{"permissions: [a", "malformed YAML"},
		{"permissions: [a]\nroles:\n  r: [a]\nassignments:\n  - {subject: s, org: o, role: r, scope: topics}", "must be a path below /"},
		{"permissions: [a]\nroles:\n  r: [a]\nassignments:\n  - {subject: s, org: o, role: r, scope: /t/x*}", `"*" must be a whole segment`},
		{"permissions: [a]\nroles:\n  r: [a]\nassignments:\n  - {org: o, role: r}", "assignments[0]: subject, org and role are required"},
		{"permissions: [public]", "reserved"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v lacks %q", c.doc, err, c.want)
		}
	}
}

func TestTenantModes(t *testing.T) {
	r := route(t, "GET /orgs/{org}/w/{id} w:read")
	cases := []struct {
		tenant, host, header string
		path                 []string
		vals                 []string
		want                 Target
	}{
		{"path:org", "", "", []string{"orgs", "acme", "w", "1"}, []string{"acme", "1"}, Target{Guarded: true, Org: "acme", Resource: []string{"w", "1"}}},
		{"host:{org}.api.example.com", "ACME.api.example.com:443", "", []string{"w", "1"}, []string{"x", "1"}, Target{Guarded: true, Org: "acme"}},
		{"host:{org}.api.example.com", "a.b.api.example.com", "", []string{"w"}, nil, Target{Guarded: true, Org: ""}},
		{"header:X-Org-Id", "", "globex", []string{"w"}, nil, Target{Guarded: true, Org: "globex"}},
		{"none", "", "", []string{"w"}, nil, Target{}},
	}
	for _, c := range cases {
		tn, err := ParseTenant(c.tenant)
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = c.host
		if c.header != "" {
			req.Header.Set("X-Org-Id", c.header)
		}
		got := tn.Locate(req, r, c.path, c.vals)
		if got.Guarded != c.want.Guarded || got.Org != c.want.Org || (c.want.Resource != nil && strings.Join(got.Resource, "/") != strings.Join(c.want.Resource, "/")) {
			t.Errorf("%s host %q: got %+v, want %+v", c.tenant, c.host, got, c.want)
		}
	}
}
