package admin

import (
	"net/http"
	"testing"

	"github.com/gatehouse-dev/gatehouse/server/store"
)

// TestExtraRoutesAreAuthorizedLikeTheAPIsOwn: Options.Routes (server/ui's decisions) go through
// the admin middleware: an org route in the token's org or for a platform admin, an admin-org
// route for platform admins only; the handler sees the verified identity, never the client's
// X-Auth-* headers.
func TestExtraRoutesAreAuthorizedLikeTheAPIsOwn(t *testing.T) {
	seen := map[string]string{}
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen[r.URL.Path] = r.Header.Get("X-Auth-Subject") + " " + r.Header.Get("X-Auth-Org") + " " + r.PathValue("org")
		w.WriteHeader(http.StatusOK)
	})
	e := newEnv(t, func(o *Options) {
		o.Routes = []Route{
			{Method: "GET", Path: "/v1/orgs/{org}/things", Permission: permAuditRead, InOrg: true, Handler: echo},
			{Method: "GET", Path: "/v1/things", Permission: permAuditRead, Query: []string{"org"}, Handler: echo},
		}
	})
	e.assign("olga", "acme", store.RoleOrgAdmin)
	forged := map[string]string{"X-Auth-Subject": "root", "X-Auth-Org": "gatehouse"}
	for _, c := range []struct {
		name, path, token string
		want              int
		identity          string
	}{
		{"an org admin in her org", "/v1/orgs/acme/things", tok(t, "olga", "acme"), 200, "olga acme acme"},
		{"an org admin in another org", "/v1/orgs/globex/things", tok(t, "olga", "acme"), 403, ""},
		{"an org admin on an admin-org route", "/v1/things", tok(t, "olga", "acme"), 403, ""},
		{"a platform admin in any org", "/v1/orgs/globex/things", tok(t, root, adminOrgID), 200, "root gatehouse globex"},
		{"a platform admin on the admin-org route", "/v1/things?org=acme", tok(t, root, adminOrgID), 200, "root gatehouse "},
		{"no token", "/v1/orgs/acme/things", "", 401, ""},
		{"a query parameter the route does not take", "/v1/orgs/acme/things?x=1", tok(t, "olga", "acme"), 400, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k := range seen {
				delete(seen, k)
			}
			a := e.do(req{method: "GET", path: c.path, token: c.token, header: forged})
			if a.status != c.want {
				t.Fatalf("%d: %s", a.status, a.body)
			}
			for _, v := range seen {
				if v != c.identity {
					t.Fatalf("the handler saw %q, want %q", v, c.identity)
				}
			}
			if (len(seen) == 1) != (c.identity != "") {
				t.Fatalf("the handler ran %d times", len(seen))
			}
		})
	}
}
