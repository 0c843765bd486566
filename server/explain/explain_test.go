package explain

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

const testSecret = "explain-test-secret-0123456789abcdef-0123456789"

var workflowRoutes = []string{
	"POST /orgs/{org}/workflows            workflows:create",
	"GET /orgs/{org}/workflows             workflows:read",
	"POST /orgs/{org}/workflows/{id}/run   workflows:run",
	"DELETE /orgs/{org}/workflows/{id}     workflows:delete",
	"DELETE /orgs/{org}/workflows/locked   deny",
	"POST /orgs/{org}/workflows/{id}/share workflows:share",
	"GET /me                               authenticated",
	"GET /healthz                          public",
}

const forumPolicy = `
permissions: [posts:read, posts:create, posts:delete, posts:pin, topics:manage]
roles:
  user:      [posts:read, posts:create]
  moderator: [posts:read, posts:create, posts:delete, posts:pin]
  admin:     [posts:read, posts:create, posts:delete, posts:pin, topics:manage]
assignments:
  - subject: user5
    org: forum
    role: moderator
    scope: [/topics/houseplants, /topics/gardening]
  - subject: user7
    org: forum
    role: moderator
    scope: /topics/*/posts/7
`

var forumRoutes = []string{
	"GET /orgs/{org}/topics/{topic}/posts               posts:read",
	"POST /orgs/{org}/topics/{topic}/posts              posts:create",
	"DELETE /orgs/{org}/topics/{topic}/posts/{id}       posts:delete",
	"POST /orgs/{org}/topics/{topic}/posts/{id}/pin     posts:pin",
	"POST /orgs/{org}/topics                            topics:manage",
}

func demoPolicy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../demo/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// scenarioConfigs are the Yaegi harness's configurations, rebuilt: the workflow routes with the
// demo policy, the forum policy with scoped assignments, host and header tenant modes, shadow,
// trusted token permissions.
func scenarioConfigs(t *testing.T) map[string]*gatehouse.Config {
	base := func(routes []string, pol string) *gatehouse.Config {
		c := gatehouse.CreateConfig()
		c.Secret = testSecret
		c.Routes = routes
		c.Policy = pol
		return c
	}
	workflows := base(workflowRoutes, demoPolicy(t))
	forum := base(forumRoutes, forumPolicy)
	host := base([]string{"GET /workflows workflows:read", "DELETE /workflows/{id} workflows:delete"}, demoPolicy(t))
	host.Tenant = "host:{org}.api.example.com"
	header := base([]string{"GET /workflows workflows:read", "DELETE /workflows/{id} workflows:delete"}, demoPolicy(t))
	header.Tenant = "header:X-Org-Id"
	shadow := base(workflowRoutes, demoPolicy(t))
	shadow.Mode = "shadow"
	trusted := base([]string{"GET /orgs/{org}/reports reports:read"}, "")
	trusted.TrustTokenPermissions = "true"
	return map[string]*gatehouse.Config{"workflows": workflows, "forum": forum, "host": host, "header": header, "shadow": shadow, "trusted": trusted}
}

type scenario struct {
	name    string
	config  string
	method  string
	url     string
	claims  string // "" for no token
	headers map[string]string
	status  int    // 0: forwarded
	says    string // in the printed report
}

var scenarios = []scenario{
	{"an admin of acme deletes a workflow", "workflows", "DELETE", "http://api/orgs/acme/workflows/7", `{"sub":"alice","org_id":"acme","roles":["admin"]}`, nil, 0, `+ token role "admin" in "acme"`},
	{"an analyst cannot delete a workflow", "workflows", "DELETE", "http://api/orgs/acme/workflows/7", `{"sub":"ann","org_id":"acme","roles":["analyst"]}`, nil, 403, `role "analyst" in org "acme" lacks "workflows:delete"`},
	{"an admin of acme cannot read globex", "workflows", "GET", "http://api/orgs/globex/workflows", `{"sub":"alice","org_id":"acme","roles":["admin"]}`, nil, 403, "carries no roles there: refused"},
	{"svc-ci creates through its policy assignment", "workflows", "POST", "http://api/orgs/acme/workflows", `{"sub":"svc-ci","org_id":"acme"}`, nil, 0, `+ policy assignment "developer" in "acme"`},
	{"a locked workflow is denied by its deny route, which beats the wildcard", "workflows", "DELETE", "http://api/orgs/acme/workflows/locked", `{"sub":"alice","org_id":"acme","roles":["admin"]}`, nil, 403, `the literal "locked" is narrower than the wildcard {id}`},
	{"no token is a 401", "workflows", "GET", "http://api/orgs/acme/workflows", "", nil, 401, "present                  failed"},
	{"an expired token fails the exp check", "workflows", "GET", "http://api/orgs/acme/workflows", `{"sub":"alice","org_id":"acme","roles":["admin"],"exp":1000}`, nil, 401, "exp                      failed"},
	{"the health check is public", "workflows", "GET", "http://api/healthz", "", nil, 0, "requires public"},
	{"an unmatched path is denied", "workflows", "GET", "http://api/admin", `{"sub":"alice","org_id":"acme","roles":["admin"]}`, nil, 403, "no route matches: unmatched is deny"},
	{"me needs only a valid token", "workflows", "GET", "http://api/me", `{"sub":"bob","org_id":"acme"}`, nil, 0, "any valid token"},
	{"spoofed identity headers never reach the backend", "workflows", "GET", "http://api/me", `{"sub":"bob","org_id":"acme"}`, map[string]string{"X-Auth-Roles": "admin", "X_Auth_Subject": "root"}, 0, "X-Auth-Subject: bob"},
	{"org_roles let a member of acme read globex", "workflows", "GET", "http://api/orgs/globex/workflows", `{"sub":"carol","org_id":"acme","org_roles":{"globex":["viewer"]}}`, nil, 0, `+ token org_roles "viewer" in "globex"`},
	{"user5 moderates houseplants", "forum", "DELETE", "http://api/orgs/forum/topics/houseplants/posts/3", `{"sub":"user5","org_id":"forum"}`, nil, 0, "scoped to /topics/houseplants,/topics/gardening"},
	{"user5 does not moderate cooking", "forum", "DELETE", "http://api/orgs/forum/topics/cooking/posts/3", `{"sub":"user5","org_id":"forum"}`, nil, 403, "its scope does not cover /topics/cooking/posts/3"},
	{"user7 moderates post 7 of any topic", "forum", "DELETE", "http://api/orgs/forum/topics/cooking/posts/7", `{"sub":"user7","org_id":"forum"}`, nil, 0, "scoped to /topics/*/posts/7"},
	{"a token-carried assignment grants inside its scope", "forum", "DELETE", "http://api/orgs/forum/topics/cooking/posts/1", `{"sub":"u9","org_id":"forum","assignments":[{"role":"moderator","org":"forum","scope":"/topics/cooking"}]}`, nil, 0, `+ token assignment "moderator" in "forum"`},
	{"a token-carried assignment does not grant outside its scope", "forum", "DELETE", "http://api/orgs/forum/topics/baking/posts/1", `{"sub":"u9","org_id":"forum","assignments":[{"role":"moderator","org":"forum","scope":"/topics/cooking"}]}`, nil, 403, "its scope does not cover"},
	{"host mode reads the org from the host", "host", "DELETE", "http://acme.api.example.com/workflows/1", `{"sub":"alice","org_id":"acme","roles":["admin"]}`, nil, 0, "X-Auth-Org: acme"},
	{"host mode refuses another org's host", "host", "GET", "http://globex.api.example.com/workflows", `{"sub":"alice","org_id":"acme","roles":["admin"]}`, nil, 403, `names org "globex"`},
	{"header mode reads the org from the header", "header", "GET", "http://api/workflows", `{"sub":"ann","org_id":"acme","roles":["viewer"]}`, map[string]string{"X-Org-Id": "acme"}, 0, "X-Org-Id: acme"},
	{"header mode without the header names no org", "header", "GET", "http://api/workflows", `{"sub":"ann","org_id":"acme","roles":["viewer"]}`, nil, 403, "names no org"},
	{"shadow mode forwards a denied request", "shadow", "DELETE", "http://api/orgs/acme/workflows/7", `{"sub":"ann","org_id":"acme","roles":["analyst"]}`, nil, 0, "mode: shadow: the request is forwarded anyway"},
	{"a trusted token permission grants in the token's org", "trusted", "GET", "http://api/orgs/acme/reports", `{"sub":"r","org_id":"acme","permissions":["reports:read"]}`, nil, 0, "+ token permission"},
	{"a token permission does not count in another org", "trusted", "GET", "http://api/orgs/globex/reports", `{"sub":"r","org_id":"acme","permissions":["reports:read"],"org_roles":{"globex":["x"]}}`, nil, 403, `only in the token's own org`},
}

// TestExplainGivesThePluginsAnswer runs every scenario through explain and through a separately
// built middleware: the status and the backend's headers are the same, the steps lead to that
// result (Agrees), and the printed report says why.
func TestExplainGivesThePluginsAnswer(t *testing.T) {
	configs := scenarioConfigs(t)
	explainers := map[string]*Explainer{}
	plugins := map[string]http.Handler{}
	var captured *http.Request
	next := http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) { captured = req })
	for name, c := range configs {
		x, err := New(c, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer x.Close()
		explainers[name] = x
		h, err := gatehouse.New(context.Background(), next, c, name)
		if err != nil {
			t.Fatal(err)
		}
		plugins[name] = h
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			req := httptest.NewRequest(sc.method, sc.url, nil)
			for k, v := range sc.headers {
				req.Header[k] = []string{v}
			}
			if sc.claims != "" {
				tok, err := Mint(sc.claims, testSecret, nil, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			r := explainers[sc.config].Explain(req)
			captured = nil
			rec := httptest.NewRecorder()
			plugins[sc.config].ServeHTTP(rec, req.Clone(context.Background()))
			var text strings.Builder
			r.WriteText(&text)
			switch {
			case captured == nil && (r.Result.Forwarded || r.Result.Status != rec.Code):
				t.Errorf("plugin answered %d, explain says forwarded=%v status %d", rec.Code, r.Result.Forwarded, r.Result.Status)
			case captured != nil && !r.Result.Forwarded:
				t.Errorf("plugin forwarded, explain says %d", r.Result.Status)
			case captured != nil && !sameHeaders(headers(captured.Header), r.Result.Backend):
				t.Errorf("backend headers differ:\nplugin  %v\nexplain %v", headers(captured.Header), r.Result.Backend)
			}
			if !r.Agrees {
				t.Errorf("the steps lead to %d but the middleware did otherwise:\n%s", r.Expected, text.String())
			}
			got := r.Result.Status
			if r.Result.Forwarded {
				got = 0
			}
			if got != sc.status || !strings.Contains(text.String(), sc.says) {
				t.Errorf("result %d, want %d and %q in:\n%s", got, sc.status, sc.says, text.String())
			}
			if strings.Contains(text.String(), "root") {
				t.Errorf("a spoofed value reached the report's backend headers:\n%s", text.String())
			}
		})
	}
}

// sameHeaders compares header lists exactly, values and order.
func sameHeaders(a, b []Header) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
