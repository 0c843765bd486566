package admin

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/server/store"
)

// TestBadInputGetsAProblemNamingTheField: each class of bad input, its status and the field the
// problem names; none of them writes anything.
func TestBadInputGetsAProblemNamingTheField(t *testing.T) {
	e := newEnv(t)
	e.seed()
	e.assign("alice", "acme", "gatehouse-org-admin")
	rootT := tok(t, root, adminOrgID)
	alice := tok(t, "alice", "acme")
	bobs := assignmentOf(t, e, "bob", "acme", "editor")
	big := `{"name":"x:y","description":"` + strings.Repeat("a", maxBody) + `"}`
	cases := []struct {
		name   string
		r      req
		status int
		field  string
	}{
		{"malformed JSON", req{method: "POST", path: "/v1/roles", token: rootT, body: `{"name": "x",`}, 400, ""},
		{"not JSON at all", req{method: "POST", path: "/v1/roles", token: rootT, body: `name: x`}, 400, ""},
		{"an unknown field", req{method: "POST", path: "/v1/roles", token: rootT, body: `{"name":"x","permission":["workflows:read"]}`}, 400, "permission"},
		{"a value of the wrong type", req{method: "POST", path: "/v1/roles", token: rootT, body: `{"name":"x","permissions":"workflows:read"}`}, 400, "permissions"},
		{"two JSON values", req{method: "POST", path: "/v1/roles", token: rootT, body: `{"name":"x","permissions":[]} {}`}, 400, ""},
		{"an empty body", req{method: "POST", path: "/v1/roles", token: rootT, body: ``}, 400, ""},
		{"a body over the limit", req{method: "POST", path: "/v1/permissions", token: rootT, body: big}, 413, ""},
		{"a body that is not JSON by its Content-Type", req{method: "POST", path: "/v1/roles", token: rootT, body: `{"name":"x","permissions":[]}`, header: map[string]string{"Content-Type": "text/plain"}}, 415, "Content-Type"},
		{"an unknown role", req{method: "POST", path: "/v1/orgs/acme/assignments", token: alice, body: `{"subject":"dave","role":"editr"}`}, 422, "role"},
		{"an unknown permission in a role", req{method: "POST", path: "/v1/roles", token: rootT, body: `{"name":"x","permissions":["workflows:raed"]}`}, 422, "permissions"},
		{"a wildcard permission", req{method: "POST", path: "/v1/permissions", token: rootT, body: `{"name":"workflows:*"}`}, 422, "name"},
		{"a wildcard role name", req{method: "POST", path: "/v1/roles", token: rootT, body: `{"name":"edit*","permissions":[]}`}, 422, "name"},
		{"a reserved permission name", req{method: "POST", path: "/v1/permissions", token: rootT, body: `{"name":"gatehouse:everything"}`}, 422, "name"},
		{"a change to a control-plane role", req{method: "PUT", path: "/v1/roles/gatehouse-auditor", token: rootT, body: `{"permissions":["gatehouse:policy:read"]}`}, 422, "name"},
		{"a scope that does not parse", req{method: "POST", path: "/v1/orgs/acme/assignments", token: alice, body: `{"subject":"dave","role":"viewer","scope":["projects/p1"]}`}, 422, "scope"},
		{"a scope with a dot segment", req{method: "POST", path: "/v1/orgs/acme/assignments", token: alice, body: `{"subject":"dave","role":"viewer","scope":["/projects/../p1"]}`}, 422, "scope"},
		{"a subject with padding", req{method: "POST", path: "/v1/orgs/acme/assignments", token: alice, body: `{"subject":" dave","role":"viewer"}`}, 422, "subject"},
		{"an assignment id chosen by the client", req{method: "POST", path: "/v1/orgs/acme/assignments", token: alice, body: `{"id":7,"subject":"dave","role":"viewer"}`}, 422, "id"},
		{"a duplicate assignment", req{method: "POST", path: "/v1/orgs/acme/assignments", token: alice, body: `{"subject":"bob","issuer":"` + testIssuer + `","role":"editor"}`}, 409, ""},
		{"a duplicate role", req{method: "POST", path: "/v1/roles", token: rootT, body: `{"name":"viewer","permissions":[]}`}, 409, "name"},
		{"deleting a role still assigned", req{method: "DELETE", path: "/v1/roles/editor", token: rootT}, 409, "name"},
		{"deleting a permission a role grants", req{method: "DELETE", path: "/v1/permissions/workflows:read", token: rootT}, 409, "name"},
		{"a role that does not exist", req{method: "GET", path: "/v1/roles/nope", token: rootT}, 404, "name"},
		{"an assignment that does not exist", req{method: "GET", path: "/v1/assignments/99999", token: rootT}, 404, "id"},
		{"an assignment id that is not a number", req{method: "GET", path: "/v1/orgs/acme/assignments/abc", token: alice}, 400, "id"},
		{"removing a permission the role lacks", req{method: "DELETE", path: "/v1/roles/viewer/permissions/workflows:delete", token: rootT}, 404, "permission"},
		{"a body naming another role than the path", req{method: "PUT", path: "/v1/roles/viewer", token: rootT, body: `{"name":"admin","permissions":[]}`}, 422, "name"},
		{"a malformed If-Match", req{method: "PUT", path: "/v1/roles/viewer", token: rootT, body: `{"permissions":[]}`, header: map[string]string{"If-Match": "1"}}, 400, "If-Match"},
		{"a lost update (If-Match of an older version)", req{method: "PUT", path: "/v1/orgs/acme/assignments/" + itoa(bobs), token: alice, body: `{"subject":"bob","issuer":"` + testIssuer + `","role":"viewer"}`, header: map[string]string{"If-Match": `"7"`}}, 412, "If-Match"},
		{"a lost delete", req{method: "DELETE", path: "/v1/roles/viewer", token: rootT, header: map[string]string{"If-Match": `"9"`}}, 412, "If-Match"},
		{"an unknown query parameter", req{method: "GET", path: "/v1/orgs/acme/assignments?orgg=acme", token: alice}, 400, "orgg"},
		{"a query parameter on a route that takes none", req{method: "GET", path: "/v1/roles?name=viewer", token: rootT}, 400, "name"},
		{"a repeated query parameter", req{method: "GET", path: "/v1/changes?limit=1&limit=2", token: rootT}, 400, "limit"},
		{"a negative after", req{method: "GET", path: "/v1/changes?after=-1", token: rootT}, 400, "after"},
		{"a limit over 1000", req{method: "GET", path: "/v1/changes?limit=1001", token: rootT}, 400, "limit"},
		{"an unknown change kind", req{method: "GET", path: "/v1/changes?kind=roles", token: rootT}, 400, "kind"},
		{"a bundle variant that does not exist", req{method: "GET", path: "/v1/bundle?assignments=some", token: e.gateway()}, 400, "assignments"},
		{"an import the policy rules refuse", req{method: "POST", path: "/v1/import", token: rootT, body: "roles:\n  a: [nope]\n", header: map[string]string{"Content-Type": "application/yaml"}}, 422, "document"},
		{"an encoded slash in a path segment", req{method: "GET", path: "/v1/roles/a%2Fb", token: rootT}, 400, ""},
	}
	before := revisionOf(t, e)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := e.must(c.status, c.r).problem(t)
			if p.Field != c.field || p.Status != c.status || p.Detail == "" {
				t.Fatalf("problem %+v, want field %q", p, c.field)
			}
		})
	}
	if after := revisionOf(t, e); after != before {
		t.Fatalf("bad input changed the store: revision %d -> %d", before, after)
	}
}

// TestIfMatchGuardsEveryWrite: GET gives the version as ETag; a write with it succeeds and moves
// it; the same If-Match again is a lost update (412) that leaves the object as it was.
func TestIfMatchGuardsEveryWrite(t *testing.T) {
	e := newEnv(t)
	e.seed()
	rootT := tok(t, root, adminOrgID)
	a := e.must(200, req{method: "GET", path: "/v1/roles/viewer", token: rootT})
	v := a.header.Get("ETag")
	b := e.must(200, req{method: "PUT", path: "/v1/roles/viewer", token: rootT, body: `{"permissions":["workflows:read","workflows:create"]}`, header: map[string]string{"If-Match": v}})
	if b.header.Get("ETag") == v {
		t.Fatalf("the version did not move: %s", b.header.Get("ETag"))
	}
	e.must(412, req{method: "PUT", path: "/v1/roles/viewer", token: rootT, body: `{"permissions":[]}`, header: map[string]string{"If-Match": v}})
	e.must(412, req{method: "PUT", path: "/v1/roles/viewer/permissions/workflows:delete", token: rootT, header: map[string]string{"If-Match": v}})
	e.must(412, req{method: "DELETE", path: "/v1/roles/viewer", token: rootT, header: map[string]string{"If-Match": v}})
	var role store.Role
	e.must(200, req{method: "GET", path: "/v1/roles/viewer", token: rootT}).decode(t, &role)
	if strings.Join(role.Permissions, ",") != "workflows:create,workflows:read" {
		t.Fatalf("a refused write changed the role: %+v", role)
	}
	// "*" is unconditional.
	e.must(200, req{method: "PUT", path: "/v1/roles/viewer", token: rootT, body: `{"permissions":["workflows:read"]}`, header: map[string]string{"If-Match": "*"}})
}

// TestConcurrentEditsOneWins: two admins write the same version at once; exactly one succeeds and
// the other gets 412.
func TestConcurrentEditsOneWins(t *testing.T) {
	e := newEnv(t)
	e.seed()
	rootT := tok(t, root, adminOrgID)
	id := assignmentOf(t, e, "bob", "acme", "editor")
	v := e.must(200, req{method: "GET", path: "/v1/assignments/" + itoa(id), token: rootT}).header.Get("ETag")
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			role := []string{"viewer", "admin"}[i%2]
			statuses[i] = e.do(req{method: "PUT", path: "/v1/orgs/acme/assignments/" + itoa(id), token: rootT,
				body: `{"subject":"bob","issuer":"` + testIssuer + `","role":"` + role + `"}`, header: map[string]string{"If-Match": v}}).status
		}(i)
	}
	wg.Wait()
	won := 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			won++
		case http.StatusPreconditionFailed:
		default:
			t.Fatalf("statuses %v", statuses)
		}
	}
	if won != 1 {
		t.Fatalf("%d writes of the same version succeeded (statuses %v)", won, statuses)
	}
	// Concurrent permission additions without If-Match all land (they are retried on 412).
	for _, p := range []string{"a:1", "a:2", "a:3", "a:4"} {
		e.must(201, req{method: "POST", path: "/v1/permissions", token: rootT, body: `{"name":"` + p + `"}`})
	}
	for _, p := range []string{"a:1", "a:2", "a:3", "a:4"} {
		wg.Add(1)
		go func(p string) {
			defer wg.Done()
			if a := e.do(req{method: "PUT", path: "/v1/roles/viewer/permissions/" + p, token: rootT}); a.status != 200 {
				t.Errorf("add %s: %d %s", p, a.status, a.body)
			}
		}(p)
	}
	wg.Wait()
	var role store.Role
	e.must(200, req{method: "GET", path: "/v1/roles/viewer", token: rootT}).decode(t, &role)
	if strings.Join(role.Permissions, ",") != "a:1,a:2,a:3,a:4,workflows:read" {
		t.Fatalf("concurrent additions: %v", role.Permissions)
	}
}
