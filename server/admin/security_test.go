package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/server/store"
)

// TestEscalationAttemptsAreRefused: every way an admin of one org, a gateway, or a token that
// merely claims rights could reach beyond what the store gave it.
func TestEscalationAttemptsAreRefused(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.assign("alice", "acme", "gatehouse-org-admin")
	e.assign("erin", "globex", "gatehouse-org-admin")
	e.assign("gw-1", adminOrgID, "gatehouse-gateway")
	e.assign("otto", adminOrgID, "gatehouse-auditor")
	e.assign("gwacme", "acme", "gatehouse-gateway")
	erinsID := assignmentOf(t, e, "erin", "globex", "admin")
	alice := tok(t, "alice", "acme")
	gw := tok(t, "gw-1", adminOrgID)
	asg := func(org, role string) map[string]interface{} {
		return map[string]interface{}{"subject": "alice", "issuer": testIssuer, "org": org, "role": role}
	}
	otherKey := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": testIssuer, "aud": testAud, "sub": root, "org_id": adminOrgID,
			"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte("another-secret-of-thirty-two-byt"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	cases := []struct {
		name   string
		r      req
		status int
		detail string // in the problem's detail
	}{
		{"an org admin lists another org's assignments", req{method: "GET", path: "/v1/orgs/globex/assignments", token: alice}, 403, "forbidden"},
		{"an org admin creates an assignment in another org", req{method: "POST", path: "/v1/orgs/globex/assignments", token: alice, body: asg("", "admin")}, 403, "forbidden"},
		{"an org admin edits another org's assignment by id under its own org", req{method: "PUT", path: "/v1/orgs/acme/assignments/" + itoa(erinsID), token: alice, body: asg("", "viewer")}, 404, "no assignment"},
		{"an org admin deletes another org's assignment by id under its own org", req{method: "DELETE", path: "/v1/orgs/acme/assignments/" + itoa(erinsID), token: alice}, 404, "no assignment"},
		{"an org admin reads another org's assignment by id under its own org", req{method: "GET", path: "/v1/orgs/acme/assignments/" + itoa(erinsID), token: alice}, 404, "no assignment"},
		{"an org admin moves an assignment of its org to another org", req{method: "POST", path: "/v1/orgs/acme/assignments", token: alice, body: asg("globex", "admin")}, 422, "the body names"},
		{"an org admin uses the every-org assignment route", req{method: "POST", path: "/v1/assignments", token: alice, body: asg("acme", "admin")}, 403, "admin org"},
		{"an org admin assigns itself the platform role in its own org", req{method: "POST", path: "/v1/orgs/acme/assignments", token: alice, body: asg("", "gatehouse-platform-admin")}, 422, "admin org"},
		{"an org admin assigns itself the platform role in the admin org", req{method: "POST", path: "/v1/orgs/gatehouse/assignments", token: alice, body: asg("", "gatehouse-platform-admin")}, 403, "forbidden"},
		{"an org admin edits a role", req{method: "PUT", path: "/v1/roles/viewer", token: alice, body: map[string]interface{}{"permissions": []string{"workflows:read", "workflows:delete"}}}, 403, "forbidden"},
		{"an org admin adds a permission to a role", req{method: "PUT", path: "/v1/roles/viewer/permissions/workflows:delete", token: alice}, 403, "forbidden"},
		{"an org admin creates a permission", req{method: "POST", path: "/v1/permissions", token: alice, body: map[string]string{"name": "x:y"}}, 403, "forbidden"},
		{"an org admin edits a subject of every org", req{method: "PUT", path: "/v1/subjects/bob?issuer=" + testIssuer, token: alice, body: map[string]string{"kind": "service"}}, 403, "admin org"},
		{"an org admin reads another org's change log", req{method: "GET", path: "/v1/orgs/globex/changes", token: alice}, 403, "forbidden"},
		{"an org admin reads the whole change log", req{method: "GET", path: "/v1/changes", token: alice}, 403, "admin org"},
		{"an org admin exports every org", req{method: "GET", path: "/v1/export", token: alice}, 403, "admin org"},
		{"an org admin imports", req{method: "POST", path: "/v1/import", token: alice, body: "permissions: []"}, 403, "forbidden"},
		{"an org admin asks what a subject can do in another org", req{method: "GET", path: "/v1/orgs/globex/subjects/erin/can", token: alice}, 403, "forbidden"},
		{"an org admin asks who can in another org", req{method: "GET", path: "/v1/orgs/globex/whocan/workflows:read", token: alice}, 403, "forbidden"},
		{"an org admin fetches the bundle", req{method: "GET", path: "/v1/bundle", token: alice}, 403, "forbidden"},
		{"a gateway role held outside the admin org fetches the bundle", req{method: "GET", path: "/v1/bundle", token: tok(t, "gwacme", "acme")}, 403, "admin org"},
		{"a gateway credential writes an assignment", req{method: "POST", path: "/v1/orgs/gatehouse/assignments", token: gw, body: map[string]interface{}{"subject": "gw-1", "role": "gatehouse-platform-admin"}}, 403, "forbidden"},
		{"a gateway credential writes a role", req{method: "POST", path: "/v1/roles", token: gw, body: map[string]interface{}{"name": "x", "permissions": []string{}}}, 403, "forbidden"},
		{"a gateway credential reads the change log", req{method: "GET", path: "/v1/changes", token: gw}, 403, "forbidden"},
		{"an auditor of the admin org writes", req{method: "POST", path: "/v1/assignments", token: tok(t, "otto", adminOrgID), body: asg("acme", "admin")}, 403, "forbidden"},
		{"an auditor of the admin org imports (it lacks the write permissions)", req{method: "POST", path: "/v1/import", token: tok(t, "otto", adminOrgID), body: "permissions: []"}, 403, "forbidden"},
		{"a token that claims the platform role in its roles", req{method: "GET", path: "/v1/changes", token: mint(t, "mallory", adminOrgID, time.Hour, claims{"roles": []string{"gatehouse-platform-admin"}})}, 403, "forbidden"},
		{"a token that claims the platform role in its org roles", req{method: "POST", path: "/v1/roles", token: mint(t, "mallory", adminOrgID, time.Hour, claims{"org_roles": map[string][]string{adminOrgID: {"gatehouse-platform-admin"}}}),
			body: map[string]interface{}{"name": "x", "permissions": []string{}}}, 403, "forbidden"},
		{"a token that carries an assignment of the org-admin role", req{method: "GET", path: "/v1/orgs/globex/assignments", token: mint(t, "mallory", "globex", time.Hour, claims{"assignments": []map[string]string{{"role": "gatehouse-org-admin", "org": "globex"}}})}, 403, "forbidden"},
		{"a token that carries the permission itself", req{method: "GET", path: "/v1/changes", token: mint(t, "mallory", adminOrgID, time.Hour, claims{"permissions": []string{"gatehouse:audit:read"}})}, 403, "forbidden"},
		{"the platform admin's subject in a token of another org", req{method: "GET", path: "/v1/changes", token: tok(t, root, "acme")}, 403, "forbidden"},
		{"an expired token of the platform admin", req{method: "GET", path: "/v1/changes", token: mint(t, root, adminOrgID, -time.Hour, nil)}, 401, "expired"},
		{"a token of an untrusted issuer", req{method: "GET", path: "/v1/changes", token: mint(t, root, adminOrgID, time.Hour, claims{"iss": otherIssuer})}, 401, ""},
		{"a token signed with another key", req{method: "GET", path: "/v1/changes", token: otherKey}, 401, "signature"},
		{"a token for another audience", req{method: "GET", path: "/v1/changes", token: mint(t, root, adminOrgID, time.Hour, claims{"aud": "workflows-api"})}, 401, ""},
		{"no token at all writes", req{method: "POST", path: "/v1/roles", body: map[string]interface{}{"name": "x", "permissions": []string{}}}, 401, ""},
		{"a client-sent identity header without a token", req{method: "GET", path: "/v1/changes", header: map[string]string{"X-Auth-Subject": root, "X-Auth-Org": adminOrgID}}, 401, ""},
	}
	before := revisionOf(t, e)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.must(c.status, c.r)
			p := a.problem(t)
			if c.status == 403 && !strings.Contains(a.header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
				t.Fatalf("403 without an insufficient_scope challenge: %q", a.header.Get("WWW-Authenticate"))
			}
			if !strings.Contains(strings.ToLower(p.Detail+" "+p.Title), c.detail) {
				t.Fatalf("detail %q, want it to mention %q", p.Detail, c.detail)
			}
		})
	}
	if after := revisionOf(t, e); after != before {
		t.Fatalf("a refused attempt changed the store: revision %d -> %d", before, after)
	}
	// And the same org admin may do all of it in its own org.
	e.must(201, req{method: "POST", path: "/v1/orgs/acme/assignments", token: alice, body: map[string]interface{}{"subject": "dave", "role": "gatehouse-org-admin"}})
}

func assignmentOf(t *testing.T, e *env, sub, org, role string) int64 {
	t.Helper()
	list, err := e.store.ListAssignments(ctx, store.AssignmentFilter{Subject: sub, Org: org, Role: role})
	if err != nil || len(list) != 1 {
		t.Fatalf("assignment of %s in %s: %v %v", sub, org, list, err)
	}
	return list[0].ID
}

func revisionOf(t *testing.T, e *env) int64 {
	t.Helper()
	rev, err := e.store.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

// TestAPlatformAdminManagesEveryOrg: the admin org's admin uses the org routes of any org (the
// platform twin of the route), and its change is logged under its own name.
func TestAPlatformAdminManagesEveryOrg(t *testing.T) {
	e := newEnv(t)
	e.seed()
	rootT := tok(t, root, adminOrgID)
	var a store.Assignment
	e.must(201, req{method: "POST", path: "/v1/orgs/globex/assignments", token: rootT, body: map[string]interface{}{"subject": "zoe", "role": "viewer"}}).decode(t, &a)
	if a.Org != "globex" {
		t.Fatalf("assignment %+v", a)
	}
	e.must(200, req{method: "GET", path: "/v1/orgs/globex/changes", token: rootT})
	// An org admin of the admin org is a platform admin too (documented): give roles there to
	// platform staff only.
	e.assign("pat", adminOrgID, "gatehouse-org-admin")
	e.must(200, req{method: "GET", path: "/v1/orgs/globex/assignments", token: tok(t, "pat", adminOrgID)})
}

// TestSeveralIssuers: with two trusted issuers, a control-plane assignment naming no issuer (or
// an untrusted one) grants nothing, and the admin API keeps working for everyone else.
func TestSeveralIssuers(t *testing.T) {
	c := testConfig()
	c.Issuers = []string{testIssuer, otherIssuer}
	e := newEnv(t, withConfig(c))
	e.seed()
	if _, err := e.store.CreateAssignment(ctx, "cli:test", store.Assignment{Subject: "nina", Org: "acme", Role: "gatehouse-org-admin"}); err != nil {
		t.Fatal(err)
	}
	e.must(403, req{method: "GET", path: "/v1/orgs/acme/assignments", token: tok(t, "nina", "acme")})
	e.must(200, req{method: "GET", path: "/v1/changes", token: tok(t, root, adminOrgID)})
	// root's assignment names testIssuer: another issuer's root is nobody here.
	e.must(403, req{method: "GET", path: "/v1/changes", token: mint(t, root, adminOrgID, time.Hour, claims{"iss": otherIssuer})})
	if !strings.Contains(e.log.String(), "grant nothing") {
		t.Fatalf("no warning about the unqualified assignment: %s", e.log)
	}
}
