package admin

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/server/store"
)

// TestEveryRouteAnswers walks every route of the admin API in an order that builds on itself, as
// the platform admin and, for the org routes, as an org admin, and then checks that the route
// table has no route the walk missed.
func TestEveryRouteAnswers(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.assign("alice", "acme", "gatehouse-org-admin")
	rootT := tok(t, root, adminOrgID)
	alice := tok(t, "alice", "acme")

	// permissions
	a := e.must(201, req{method: "POST", path: "/v1/permissions", token: rootT, body: map[string]string{"name": "reports:read", "description": "read reports"}})
	if a.header.Get("ETag") != `"1"` || a.header.Get("Location") != "/v1/permissions/reports:read" {
		t.Fatalf("create permission: ETag %q, Location %q", a.header.Get("ETag"), a.header.Get("Location"))
	}
	var perms []store.Permission
	e.must(200, req{method: "GET", path: "/v1/permissions", token: alice}).decode(t, &perms)
	if !hasPermission(perms, "reports:read") || !hasPermission(perms, "workflows:read") {
		t.Fatalf("list permissions: %+v", perms)
	}
	e.must(200, req{method: "GET", path: "/v1/permissions/reports:read", token: alice})
	var p store.Permission
	e.must(200, req{method: "PUT", path: "/v1/permissions/reports:read", token: rootT, body: map[string]string{"description": "read every report"},
		header: map[string]string{"If-Match": `"1"`}}).decode(t, &p)
	if p.Description != "read every report" || p.Version != 2 {
		t.Fatalf("update permission: %+v", p)
	}

	// roles
	e.must(201, req{method: "POST", path: "/v1/roles", token: rootT, body: map[string]interface{}{"name": "reporter", "permissions": []string{"workflows:read"}}})
	var role store.Role
	e.must(200, req{method: "PUT", path: "/v1/roles/reporter/permissions/reports:read", token: rootT}).decode(t, &role)
	if strings.Join(role.Permissions, ",") != "reports:read,workflows:read" {
		t.Fatalf("add permission: %+v", role)
	}
	e.must(200, req{method: "DELETE", path: "/v1/roles/reporter/permissions/workflows:read", token: rootT}).decode(t, &role)
	if strings.Join(role.Permissions, ",") != "reports:read" {
		t.Fatalf("remove permission: %+v", role)
	}
	e.must(200, req{method: "PUT", path: "/v1/roles/reporter", token: rootT, body: map[string]interface{}{"description": "reads", "permissions": []string{"reports:read", "workflows:read"}}}).decode(t, &role)
	if role.Description != "reads" || len(role.Permissions) != 2 {
		t.Fatalf("update role: %+v", role)
	}
	e.must(200, req{method: "GET", path: "/v1/roles", token: alice})
	e.must(200, req{method: "GET", path: "/v1/roles/reporter", token: alice})

	// subjects
	e.must(201, req{method: "POST", path: "/v1/subjects", token: rootT, body: map[string]string{"id": "svc-reports", "issuer": testIssuer, "kind": "service"}})
	e.must(200, req{method: "GET", path: "/v1/subjects", token: rootT})
	e.must(200, req{method: "GET", path: "/v1/subjects/svc-reports?issuer=" + testIssuer, token: rootT})
	var sub store.Subject
	e.must(200, req{method: "PUT", path: "/v1/subjects/svc-reports?issuer=" + testIssuer, token: rootT, body: map[string]string{"kind": "service", "displayName": "Reports job"}}).decode(t, &sub)
	if sub.DisplayName != "Reports job" {
		t.Fatalf("update subject: %+v", sub)
	}

	// assignments in every org (admin org)
	var asg store.Assignment
	e.must(201, req{method: "POST", path: "/v1/assignments", token: rootT, body: map[string]interface{}{"subject": "svc-reports", "issuer": testIssuer, "org": "globex", "role": "reporter"}}).decode(t, &asg)
	e.must(200, req{method: "GET", path: "/v1/assignments?org=globex&role=reporter", token: rootT})
	e.must(200, req{method: "GET", path: "/v1/assignments/" + itoa(asg.ID), token: rootT})
	e.must(200, req{method: "PUT", path: "/v1/assignments/" + itoa(asg.ID), token: rootT, body: map[string]interface{}{"subject": "svc-reports", "issuer": testIssuer, "org": "globex", "role": "reporter", "scope": []string{"/reports"}}})
	e.must(204, req{method: "DELETE", path: "/v1/assignments/" + itoa(asg.ID), token: rootT})

	// assignments of one org, as that org's admin
	e.must(201, req{method: "POST", path: "/v1/orgs/acme/assignments", token: alice, body: map[string]interface{}{"subject": "svc-reports", "issuer": testIssuer, "role": "reporter"}}).decode(t, &asg)
	if asg.Org != "acme" {
		t.Fatalf("org assignment: %+v", asg)
	}
	e.must(200, req{method: "GET", path: "/v1/orgs/acme/assignments?subject=svc-reports", token: alice})
	e.must(200, req{method: "GET", path: "/v1/orgs/acme/assignments/" + itoa(asg.ID), token: alice})
	e.must(200, req{method: "PUT", path: "/v1/orgs/acme/assignments/" + itoa(asg.ID), token: alice, body: map[string]interface{}{"subject": "svc-reports", "issuer": testIssuer, "role": "reporter", "scope": []string{"/reports/q1"}}})

	// questions
	var access store.Access
	e.must(200, req{method: "GET", path: "/v1/orgs/acme/subjects/svc-reports/can?issuer=" + testIssuer + "&resource=/reports/q1/x", token: alice}).decode(t, &access)
	if strings.Join(access.Permissions, ",") != "reports:read,workflows:read" || len(access.Checks) == 0 {
		t.Fatalf("can: %+v", access)
	}
	var holders []store.Holder
	e.must(200, req{method: "GET", path: "/v1/orgs/acme/whocan/workflows:create", token: alice}).decode(t, &holders)
	if len(holders) != 1 || holders[0].Subject != "bob" {
		t.Fatalf("whocan: %+v", holders)
	}
	var changes []store.Change
	e.must(200, req{method: "GET", path: "/v1/orgs/acme/changes", token: alice}).decode(t, &changes)
	for _, c := range changes {
		if c.Org != "acme" {
			t.Fatalf("org changes hold another org's: %+v", c)
		}
	}
	e.must(200, req{method: "GET", path: "/v1/changes?kind=setting", token: rootT}).decode(t, &changes)
	if len(changes) != 1 || changes[0].Key != "admin_org" || changes[0].Actor != "cli:test" {
		t.Fatalf("the bootstrap's entry: %+v", changes)
	}
	e.must(200, req{method: "GET", path: "/v1/changes?limit=5", token: rootT}).decode(t, &changes)
	if len(changes) != 5 {
		t.Fatalf("changes?limit=5: %d entries", len(changes))
	}

	// export, import, bundle, per-subject
	exp := e.must(200, req{method: "GET", path: "/v1/export", token: rootT})
	e.must(200, req{method: "POST", path: "/v1/import", token: rootT, body: string(exp.body)})
	if again := e.must(200, req{method: "GET", path: "/v1/export", token: rootT}); string(again.body) != string(exp.body) {
		t.Fatalf("export after import of the export differs:\n%s\n%s", exp.body, again.body)
	}
	gw := e.gateway()
	e.must(200, req{method: "GET", path: "/v1/bundle", token: gw})
	e.must(200, req{method: "GET", path: "/v1/subjects/svc-reports/assignments?issuer=" + testIssuer, token: gw})

	// deletions
	e.must(204, req{method: "DELETE", path: "/v1/orgs/acme/assignments/" + itoa(asg.ID), token: alice})
	e.must(204, req{method: "DELETE", path: "/v1/roles/reporter", token: rootT})
	e.must(204, req{method: "DELETE", path: "/v1/permissions/reports:read", token: rootT})
	e.must(204, req{method: "DELETE", path: "/v1/subjects/svc-reports?issuer=" + testIssuer, token: rootT})

	// unauthenticated endpoints
	e.must(200, req{method: "GET", path: "/healthz"})
	e.must(200, req{method: "GET", path: "/readyz"})
	m := e.must(200, req{method: "GET", path: "/metrics"})
	if !strings.Contains(string(m.body), `gatehouse_control_plane_requests_total{route="GET /v1/bundle",status="200"} 1`) ||
		!strings.Contains(string(m.body), `gatehouse_control_plane_bundle_builds_total{variant="full"} 1`) {
		t.Fatalf("metrics:\n%s", m.body)
	}

	for _, rt := range routes {
		pattern := rt.method + " " + rt.path
		if !e.srv.metrics.answered(pattern) {
			t.Errorf("route %s was not exercised with success", pattern)
		}
	}
}

// gateway returns a token of a gateway: gatehouse-gateway in the admin org.
func (e *env) gateway() string {
	e.t.Helper()
	if _, err := e.store.GetSubject(ctx, "gw-1", testIssuer); err != nil {
		e.assign("gw-1", adminOrgID, "gatehouse-gateway")
	}
	return tok(e.t, "gw-1", adminOrgID)
}

func hasPermission(list []store.Permission, name string) bool {
	for _, p := range list {
		if p.Name == name {
			return true
		}
	}
	return false
}

// answered reports whether route answered a 2xx at least once.
func (m *Metrics) answered(route string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, n := range m.requests {
		if k.route == route && k.status >= 200 && k.status < 300 && n > 0 {
			return true
		}
	}
	return false
}

// TestOrgAdminsChangesAreLoggedWithTheirIdentity: the actor of a change is the verified issuer and
// subject the middleware forwarded, never a header the client sent.
func TestOrgAdminsChangesAreLoggedWithTheirIdentity(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.assign("alice", "acme", "gatehouse-org-admin")
	var a store.Assignment
	e.must(201, req{method: "POST", path: "/v1/orgs/acme/assignments", token: tok(t, "alice", "acme"),
		body:   map[string]interface{}{"subject": "dave", "role": "viewer"},
		header: map[string]string{"X-Auth-Subject": "mallory", "X-Auth-Issuer": "https://evil.test"}}).decode(t, &a)
	var changes []store.Change
	e.must(200, req{method: "GET", path: "/v1/orgs/acme/changes?kind=assignment", token: tok(t, "alice", "acme")}).decode(t, &changes)
	last := changes[len(changes)-1]
	if last.Actor != testIssuer+" alice" || last.Action != "create" || last.Key != itoa(a.ID) || len(last.After) == 0 || len(last.Before) != 0 {
		t.Fatalf("last change: %+v", last)
	}
	// paging: after the last seq there is nothing
	e.must(200, req{method: "GET", path: "/v1/orgs/acme/changes?after=" + itoa(last.Seq), token: tok(t, "alice", "acme")}).decode(t, &changes)
	if len(changes) != 0 {
		t.Fatalf("changes after the last: %+v", changes)
	}
}

// TestAdminRightsFollowTheStoreAtOnce: an assignment made through the API counts for the next
// request (the middleware is rebuilt on the new revision), and its removal too.
func TestAdminRightsFollowTheStoreAtOnce(t *testing.T) {
	e := newEnv(t)
	e.seed()
	frank := tok(t, "frank", "acme")
	e.must(403, req{method: "GET", path: "/v1/orgs/acme/assignments", token: frank})
	var a store.Assignment
	e.must(201, req{method: "POST", path: "/v1/orgs/acme/assignments", token: tok(t, root, adminOrgID),
		body: map[string]interface{}{"subject": "frank", "issuer": testIssuer, "role": "gatehouse-auditor"}}).decode(t, &a)
	e.must(200, req{method: "GET", path: "/v1/orgs/acme/assignments", token: frank})
	e.must(403, req{method: "POST", path: "/v1/orgs/acme/assignments", token: frank, body: map[string]interface{}{"subject": "x", "role": "viewer"}})
	e.must(204, req{method: "DELETE", path: "/v1/orgs/acme/assignments/" + itoa(a.ID), token: tok(t, root, adminOrgID)})
	e.must(403, req{method: "GET", path: "/v1/orgs/acme/assignments", token: frank})
}

func TestHealthReadinessAndUnknownRoutes(t *testing.T) {
	e := newEnv(t)
	rootT := tok(t, root, adminOrgID)
	for _, c := range []struct {
		name   string
		r      req
		status int
		allow  string
	}{
		{"an unknown path is 404", req{method: "GET", path: "/v2/roles", token: rootT}, 404, ""},
		{"a method the route lacks is 405 with Allow", req{method: "PATCH", path: "/v1/roles/viewer", token: rootT}, 405, "GET, PUT, DELETE"},
		{"no token is 401", req{method: "GET", path: "/v1/roles"}, 401, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := e.must(c.status, c.r)
			a.problem(t)
			if a.header.Get("Allow") != c.allow {
				t.Fatalf("Allow %q, want %q", a.header.Get("Allow"), c.allow)
			}
		})
	}
	e.srv.SetReady(false)
	e.must(http.StatusServiceUnavailable, req{method: "GET", path: "/readyz"})
	e.must(200, req{method: "GET", path: "/healthz"})
}
