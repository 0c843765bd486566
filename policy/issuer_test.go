package policy

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/tokens"
)

const (
	issuerA = "https://a.example"
	issuerB = "https://b.example"
)

// issuerPolicy gives svc-ci of issuer A the admin role and, unqualified, svc-shared the viewer
// role; dana of issuer A is a viewer and dana of issuer B an admin.
const issuerPolicy = `
permissions: [w:read, w:delete]
roles:
  viewer: [w:read]
  admin: [w:read, w:delete]
assignments:
  - {subject: svc-ci, issuer: "https://a.example", org: acme, role: admin}
  - {subject: svc-shared, org: acme, role: viewer}
  - {subject: dana, issuer: "https://a.example", org: acme, role: viewer}
  - {subject: dana, issuer: "https://b.example", org: acme, role: admin}
`

func TestAssignmentsFollowTheIssuer(t *testing.T) {
	p := mustParse(t, issuerPolicy)
	read := route(t, "GET /orgs/{org}/w w:read")
	del := route(t, "DELETE /orgs/{org}/w/{id} w:delete")
	on := Options{IssuerQualified: true}
	cases := []struct {
		name      string
		sub, iss  string
		opts      Options
		allowRead bool
		allowDel  bool
		reason    string // of the delete decision
		roles     string // from Grants, comma-joined
	}{
		{"issuer A's svc-ci holds its qualified assignment", "svc-ci", issuerA, on, true, true, `policy assignment of role "admin" to "svc-ci" of issuer "https://a.example" in org "acme" grants "w:delete"`, "admin"},
		{"issuer B's svc-ci does not receive issuer A's assignment", "svc-ci", issuerB, on, false, false, `subject "svc-ci" has no role in org "acme"`, ""},
		{"a qualified assignment holds for its issuer without IssuerQualified", "svc-ci", issuerA, Options{}, true, true, `of issuer "https://a.example"`, "admin"},
		{"a qualified assignment does not hold for another issuer without IssuerQualified", "svc-ci", issuerB, Options{}, false, false, `subject "svc-ci" has no role`, ""},
		{"a token without iss does not receive a qualified assignment", "svc-ci", "", Options{}, false, false, `subject "svc-ci" has no role`, ""},
		{"an unqualified assignment holds for any issuer without IssuerQualified", "svc-shared", issuerB, Options{}, true, false, `role "viewer" in org "acme" lacks "w:delete"`, "viewer"},
		{"an unqualified assignment holds for nobody with IssuerQualified (issuer A)", "svc-shared", issuerA, on, false, false, `subject "svc-shared" has no role`, ""},
		{"an unqualified assignment holds for nobody with IssuerQualified (issuer B)", "svc-shared", issuerB, on, false, false, `subject "svc-shared" has no role`, ""},
		{"a denial names only the assignment of the token's issuer", "dana", issuerA, on, true, false, `role "viewer" of issuer "https://a.example" in org "acme" lacks "w:delete"`, "viewer"},
		{"the same subject of another issuer holds that issuer's role", "dana", issuerB, on, true, true, `role "admin" to "dana" of issuer "https://b.example"`, "admin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id := tokens.Identity{Subject: c.sub, Issuer: c.iss, Org: "acme"}
			target := Target{Guarded: true, Org: "acme"}
			if d := Decide(p, c.opts, &id, read, target); d.Allow != c.allowRead {
				t.Errorf("read: allow=%v (%s), want %v", d.Allow, d.Reason, c.allowRead)
			}
			d := Decide(p, c.opts, &id, del, target)
			if d.Allow != c.allowDel || !strings.Contains(d.Reason, c.reason) {
				t.Errorf("delete: allow=%v reason=%q; want allow=%v reason containing %q", d.Allow, d.Reason, c.allowDel, c.reason)
			}
			if strings.Contains(d.Reason, "admin") && !c.allowDel {
				t.Errorf("delete: the reason mentions a role that does not count: %q", d.Reason)
			}
			roles, _ := Grants(p, c.opts, &id, "acme", nil)
			if got := strings.Join(roles, ","); got != c.roles {
				t.Errorf("Grants roles = %q, want %q", got, c.roles)
			}
		})
	}
}

func TestTokenAssignmentScopes(t *testing.T) {
	resource := []string{"topics", "houseplants"}
	cases := []struct {
		name  string
		scope []string
		want  bool
	}{
		{"an absent scope covers the whole org", nil, true},
		{"a present but empty scope list covers nothing", []string{}, false},
		{"a scope containing the resource covers it", []string{"/topics/houseplants"}, true},
		{"a scope elsewhere does not cover the resource", []string{"/topics/cooking"}, false},
		{"a scope that does not parse covers nothing", []string{"topics"}, false},
	}
	p := mustParse(t, testPolicy)
	del := route(t, "DELETE /orgs/{org}/topics/{t} p:delete")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := scopeStrings(c.scope, resource); got != c.want {
				t.Fatalf("scopeStrings = %v, want %v", got, c.want)
			}
			id := tokens.Identity{Subject: "t", Org: "forum", Assignments: []tokens.Assignment{{Role: "moderator", Org: "forum", Scope: c.scope}}}
			d := Decide(p, Options{IssuerQualified: true}, &id, del, Target{Guarded: true, Org: "forum", Resource: resource})
			roles, _ := Grants(p, Options{IssuerQualified: true}, &id, "forum", resource)
			if d.Allow != c.want || (len(roles) == 1) != c.want {
				t.Fatalf("Decide allow=%v (%s), Grants roles %v; want %v", d.Allow, d.Reason, roles, c.want)
			}
		})
	}
}

func TestUnqualifiedAndIssuersReportTheDocument(t *testing.T) {
	const head = "permissions: [a]\nroles:\n  r: [a]\n"
	cases := []struct {
		name        string
		doc         string
		unqualified string
		issuers     string
	}{
		{"a document without assignments reports none", head, "", ""},
		{"qualified assignments are not reported as unqualified", head + "assignments:\n  - {subject: s, issuer: \"https://b\", org: o, role: r}\n  - {subject: t, issuer: \"https://a\", org: o, role: r}\n", "", "https://a,https://b"},
		{"unqualified assignments are reported by location in document order", head + "assignments:\n  - {subject: s, issuer: \"https://a\", org: o, role: r}\n  - {subject: t, org: o, role: r}\n  - {subject: u, issuer: \"https://b\", org: o, role: r}\n  - {subject: v, issuer: \"https://a\", org: o, role: r}\n  - {subject: w, org: o, role: r}\n", "assignments[1],assignments[4]", "https://a,https://b"},
		{"an issuer named twice is reported once", head + "assignments:\n  - {subject: s, issuer: \"https://a\", org: o, role: r}\n  - {subject: t, issuer: \"https://a\", org: p, role: r}\n", "", "https://a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, c.doc)
			if got := strings.Join(p.Unqualified(), ","); got != c.unqualified {
				t.Errorf("Unqualified() = %q, want %q", got, c.unqualified)
			}
			if got := strings.Join(p.Issuers(), ","); got != c.issuers {
				t.Errorf("Issuers() = %q, want %q", got, c.issuers)
			}
		})
	}
	t.Run("a nil policy reports nothing", func(t *testing.T) {
		var p *Policy
		if p.Unqualified() != nil || p.Issuers() != nil {
			t.Fatal("a nil policy reported assignments")
		}
	})
}

func TestAssignmentFieldsAreValidated(t *testing.T) {
	const head = "permissions: [a]\nroles:\n  r: [a]\nassignments:\n"
	cases := []struct {
		name string
		doc  string
		want []string
	}{
		{"a subject with a trailing space is refused", head + "  - {subject: \"svc-ci \", org: o, role: r}", []string{`assignments[0].subject "svc-ci ": not a valid value`}},
		{"an org with a leading space is refused", head + "  - {subject: s, org: \" acme\", role: r}", []string{`assignments[0].org " acme": not a valid value`}},
		{"an issuer with a trailing space is refused", head + "  - {subject: s, issuer: \"https://a \", org: o, role: r}", []string{`assignments[0].issuer "https://a ": not a valid value`}},
		{"an issuer with a control character is refused", head + "  - {subject: s, issuer: \"https://a\\r\", org: o, role: r}", []string{`assignments[0].issuer "https://a\r": not a valid value`}},
		{"an empty issuer is refused", head + "  - {subject: s, issuer: \"\", org: o, role: r}", []string{`assignments[0].issuer "": empty`}},
		{"an issuer that is not a string is refused", head + "  - {subject: s, issuer: [a], org: o, role: r}", []string{"assignments[0].issuer: must be a string"}},
		{"an empty scope list is refused", head + "  - {subject: s, org: o, role: r, scope: []}", []string{"assignments[0]: scope is an empty list"}},
		{"an unknown role is refused", head + "  - {subject: s, org: o, role: q}", []string{`assignments[0]: unknown role "q"`}},
		{"every problem of every assignment is reported at once", head + "  - {subject: \"s \", org: o, role: q}\n  - {subject: s, issuer: \" x\", org: o, role: r}", []string{`assignments[0].subject "s "`, `assignments[0]: unknown role "q"`, `assignments[1].issuer " x"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc))
			if err == nil {
				t.Fatal("the document was accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
