package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/demo/loader"
)

var workflowRoutes = []string{
	"POST /orgs/{org}/workflows            workflows:create",
	"GET /orgs/{org}/workflows             workflows:read",
	"POST /orgs/{org}/workflows/{id}/run   workflows:run",
	"DELETE /orgs/{org}/workflows/{id}     workflows:delete",
	"POST /orgs/{org}/workflows/{id}/share workflows:share",
	"GET /me                               authenticated",
	"GET /healthz                          public",
}

func demoPolicy(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(loader.RepoRoot(), "demo", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
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

type policyCase struct {
	name    string
	config  map[string]interface{}
	sub     string
	org     string
	roles   []string
	extra   map[string]interface{}
	noToken bool
	req     request
	want    int
	headers map[string]string // what the backend must see
}

func workflowsConfig(t testing.TB, kv ...interface{}) map[string]interface{} {
	return baseConfig(append([]interface{}{"routes", workflowRoutes, "policy", demoPolicy(t)}, kv...)...)
}

func policyCases(t testing.TB) []policyCase {
	wf := workflowsConfig(t)
	var cases []policyCase
	// The role matrix: every role on every workflow route, one case per permission boundary.
	type call struct{ method, path, perm string }
	calls := []call{
		{"POST", "/orgs/acme/workflows", "workflows:create"},
		{"GET", "/orgs/acme/workflows", "workflows:read"},
		{"POST", "/orgs/acme/workflows/w1/run", "workflows:run"},
		{"DELETE", "/orgs/acme/workflows/w1", "workflows:delete"},
		{"POST", "/orgs/acme/workflows/w1/share", "workflows:share"},
	}
	grants := map[string][]string{
		"admin":     {"workflows:create", "workflows:read", "workflows:run", "workflows:delete", "workflows:share"},
		"developer": {"workflows:create", "workflows:read", "workflows:run"},
		"analyst":   {"workflows:read", "workflows:run"},
		"viewer":    {"workflows:read"},
	}
	for _, role := range []string{"admin", "developer", "analyst", "viewer"} {
		for _, c := range calls {
			want, verb := 403, " cannot "
			if contains(grants[role], c.perm) {
				want, verb = 200, " can "
			}
			cases = append(cases, policyCase{name: role + verb + c.perm[len("workflows:"):] + " a workflow in acme", config: wf,
				sub: "u-" + role, org: "acme", roles: []string{role}, req: request{method: c.method, path: c.path}, want: want})
		}
	}
	forum := baseConfig("routes", forumRoutes, "policy", forumPolicy)
	cases = append(cases,
		policyCase{name: "a forum user can read posts anywhere", config: forum, sub: "user1", org: "forum", roles: []string{"user"},
			req: request{path: "/orgs/forum/topics/cooking/posts"}, want: 200},
		policyCase{name: "a forum user can post anywhere", config: forum, sub: "user1", org: "forum", roles: []string{"user"},
			req: request{method: "POST", path: "/orgs/forum/topics/cooking/posts"}, want: 200},
		policyCase{name: "a forum user cannot delete a post", config: forum, sub: "user1", org: "forum", roles: []string{"user"},
			req: request{method: "DELETE", path: "/orgs/forum/topics/houseplants/posts/1"}, want: 403},
		policyCase{name: "user5 can delete a post in houseplants, which it moderates", config: forum, sub: "user5", org: "forum", roles: []string{"user"},
			req: request{method: "DELETE", path: "/orgs/forum/topics/houseplants/posts/1"}, want: 200,
			headers: map[string]string{"X-Auth-Roles": "moderator,user", "X-Auth-Permissions": "posts:create,posts:delete,posts:pin,posts:read"}},
		policyCase{name: "user5 can pin a post in gardening, which it moderates", config: forum, sub: "user5", org: "forum", roles: []string{"user"},
			req: request{method: "POST", path: "/orgs/forum/topics/gardening/posts/9/pin"}, want: 200},
		policyCase{name: "user5 is a plain user in cooking and cannot delete there", config: forum, sub: "user5", org: "forum", roles: []string{"user"},
			req: request{method: "DELETE", path: "/orgs/forum/topics/cooking/posts/1"}, want: 403,
		},
		policyCase{name: "user5's scope /topics/houseplants does not cover /topics/houseplantsarchive", config: forum, sub: "user5", org: "forum", roles: []string{"user"},
			req: request{method: "DELETE", path: "/orgs/forum/topics/houseplantsarchive/posts/1"}, want: 403},
		policyCase{name: "user5 can still read posts in cooking as a user", config: forum, sub: "user5", org: "forum", roles: []string{"user"},
			req: request{path: "/orgs/forum/topics/cooking/posts"}, want: 200, headers: map[string]string{"X-Auth-Roles": "user"}},
		policyCase{name: "user5 cannot manage topics", config: forum, sub: "user5", org: "forum", roles: []string{"user"},
			req: request{method: "POST", path: "/orgs/forum/topics"}, want: 403},
		policyCase{name: "user5's moderation does not follow it into another org", config: forum, sub: "user5", org: "other", roles: []string{"user"},
			req: request{method: "DELETE", path: "/orgs/other/topics/houseplants/posts/1"}, want: 403},
		policyCase{name: "a star in a scope matches exactly one segment: user7 deletes post 7 in any topic", config: forum, sub: "user7", org: "forum", roles: []string{"user"},
			req: request{method: "DELETE", path: "/orgs/forum/topics/cooking/posts/7"}, want: 200},
		policyCase{name: "user7 cannot delete post 8", config: forum, sub: "user7", org: "forum", roles: []string{"user"},
			req: request{method: "DELETE", path: "/orgs/forum/topics/cooking/posts/8"}, want: 403},
		policyCase{name: "a forum admin can delete a post anywhere", config: forum, sub: "admin1", org: "forum", roles: []string{"admin"},
			req: request{method: "DELETE", path: "/orgs/forum/topics/cooking/posts/1"}, want: 200},
		policyCase{name: "a forum admin can manage topics", config: forum, sub: "admin1", org: "forum", roles: []string{"admin"},
			req: request{method: "POST", path: "/orgs/forum/topics"}, want: 200},
		policyCase{name: "a token-carried scoped assignment lets a user moderate cooking", config: forum, sub: "user9", org: "forum", roles: []string{"user"},
			extra: map[string]interface{}{"assignments": []interface{}{map[string]interface{}{"role": "moderator", "org": "forum", "scope": []string{"/topics/cooking"}}}},
			req:   request{method: "DELETE", path: "/orgs/forum/topics/cooking/posts/1"}, want: 200},
		policyCase{name: "a token-carried scoped assignment does not reach outside its scope", config: forum, sub: "user9", org: "forum", roles: []string{"user"},
			extra: map[string]interface{}{"assignments": []interface{}{map[string]interface{}{"role": "moderator", "org": "forum", "scope": []string{"/topics/cooking"}}}},
			req:   request{method: "DELETE", path: "/orgs/forum/topics/gardening/posts/1"}, want: 403},
	)
	hostCfg := baseConfig("tenant", "host:{org}.api.example.com", "policy", demoPolicy(t), "routes", []string{"DELETE /workflows/{id} workflows:delete"})
	headerCfg := baseConfig("tenant", "header:X-Org-Id", "policy", demoPolicy(t), "routes", []string{"DELETE /workflows/{id} workflows:delete"})
	cases = append(cases,
		policyCase{name: "alice deletes a workflow in acme by path", config: wf, sub: "alice", org: "acme", roles: []string{"admin"},
			req: request{method: "DELETE", path: "/orgs/acme/workflows/w1"}, want: 200,
			headers: map[string]string{"X-Auth-Subject": "alice", "X-Auth-Org": "acme", "X-Auth-Roles": "admin"}},
		policyCase{name: "alice, admin of acme, cannot delete in globex by path", config: wf, sub: "alice", org: "acme", roles: []string{"admin"},
			req: request{method: "DELETE", path: "/orgs/globex/workflows/w1"}, want: 403},
		policyCase{name: "alice deletes in acme by host", config: hostCfg, sub: "alice", org: "acme", roles: []string{"admin"},
			req: request{method: "DELETE", path: "/workflows/w1", host: "acme.api.example.com"}, want: 200},
		policyCase{name: "alice cannot delete in globex by host", config: hostCfg, sub: "alice", org: "acme", roles: []string{"admin"},
			req: request{method: "DELETE", path: "/workflows/w1", host: "globex.api.example.com:8443"}, want: 403},
		policyCase{name: "a host outside the template names no org and is denied", config: hostCfg, sub: "alice", org: "acme", roles: []string{"admin"},
			req: request{method: "DELETE", path: "/workflows/w1", host: "acme.evil.test"}, want: 403},
		policyCase{name: "alice deletes in acme by header", config: headerCfg, sub: "alice", org: "acme", roles: []string{"admin"},
			req: request{method: "DELETE", path: "/workflows/w1", headers: [][2]string{{"X-Org-Id", "acme"}}}, want: 200},
		policyCase{name: "alice cannot delete in globex by header", config: headerCfg, sub: "alice", org: "acme", roles: []string{"admin"},
			req: request{method: "DELETE", path: "/workflows/w1", headers: [][2]string{{"X-Org-Id", "globex"}}}, want: 403},
		policyCase{name: "a request without the org header is denied", config: headerCfg, sub: "alice", org: "acme", roles: []string{"admin"},
			req: request{method: "DELETE", path: "/workflows/w1"}, want: 403},
		policyCase{name: "a token without an org is denied on an org route", config: wf, sub: "alice", org: "", roles: []string{"admin"},
			req: request{method: "DELETE", path: "/orgs/acme/workflows/w1"}, want: 403},
		policyCase{name: "org match is exact: Acme is not acme", config: wf, sub: "alice", org: "Acme", roles: []string{"admin"},
			req: request{method: "DELETE", path: "/orgs/acme/workflows/w1"}, want: 403},
		policyCase{name: "svc-ci creates a workflow through its policy assignment", config: wf, sub: "svc-ci", org: "acme",
			req: request{method: "POST", path: "/orgs/acme/workflows"}, want: 200,
			headers: map[string]string{"X-Auth-Roles": "developer", "X-Auth-Permissions": "workflows:create,workflows:read,workflows:run"}},
		policyCase{name: "svc-ci cannot delete a workflow: developer lacks it", config: wf, sub: "svc-ci", org: "acme",
			req: request{method: "DELETE", path: "/orgs/acme/workflows/w1"}, want: 403},
		policyCase{name: "svc-ci with a globex token gets nothing from its acme assignment", config: wf, sub: "svc-ci", org: "globex",
			req: request{method: "POST", path: "/orgs/globex/workflows"}, want: 403},
		policyCase{name: "a token with org_roles reads in a second org", config: wf, sub: "carol", org: "acme", roles: []string{"analyst"},
			extra: map[string]interface{}{"org_roles": map[string]interface{}{"globex": []string{"viewer"}}},
			req:   request{path: "/orgs/globex/workflows"}, want: 200, headers: map[string]string{"X-Auth-Org": "globex", "X-Auth-Roles": "viewer"}},
		policyCase{name: "org_roles for globex do not grant delete there", config: wf, sub: "carol", org: "acme", roles: []string{"admin"},
			extra: map[string]interface{}{"org_roles": map[string]interface{}{"globex": []string{"viewer"}}},
			req:   request{method: "DELETE", path: "/orgs/globex/workflows/w1"}, want: 403},
		policyCase{name: "token permissions are ignored unless trusted", config: wf, sub: "dave", org: "acme", roles: []string{"viewer"},
			extra: map[string]interface{}{"permissions": []string{"workflows:delete"}},
			req:   request{method: "DELETE", path: "/orgs/acme/workflows/w1"}, want: 403},
		policyCase{name: "trusted token permissions grant in the token's org", config: workflowsConfig(t, "trustTokenPermissions", "true"), sub: "dave", org: "acme", roles: []string{"viewer"},
			extra: map[string]interface{}{"permissions": []string{"workflows:delete"}},
			req:   request{method: "DELETE", path: "/orgs/acme/workflows/w1"}, want: 200},
		policyCase{name: "an authenticated route lets any valid token through", config: wf, sub: "dave", org: "acme",
			req: request{path: "/me"}, want: 200, headers: map[string]string{"X-Auth-Subject": "dave", "X-Auth-Org": "acme"}},
		policyCase{name: "a public route needs no token and still strips identity", config: wf, noToken: true,
			req: request{path: "/healthz", headers: [][2]string{{"X-Auth-Subject", "root"}}}, want: 200, headers: map[string]string{"X-Auth-Subject": ""}},
		policyCase{name: "a path no route declares is denied", config: wf, sub: "alice", org: "acme", roles: []string{"admin"},
			req: request{path: "/orgs/acme/secrets"}, want: 403},
		policyCase{name: "a deny route carves a path out of a wider route", config: workflowsConfig(t, "routes", append([]string{"GET /orgs/{org}/{rest...} authenticated", "GET /orgs/{org}/secrets deny"}, workflowRoutes...)), sub: "alice", org: "acme", roles: []string{"admin"},
			req: request{path: "/orgs/acme/secrets"}, want: 403},
		policyCase{name: "the wider authenticated route still serves its other paths", config: workflowsConfig(t, "routes", append([]string{"GET /orgs/{org}/{rest...} authenticated", "GET /orgs/{org}/secrets deny"}, workflowRoutes...)), sub: "alice", org: "acme", roles: []string{"admin"},
			req: request{path: "/orgs/acme/reports/q3"}, want: 200},
		policyCase{name: "HEAD follows GET", config: wf, sub: "dave", org: "acme", roles: []string{"viewer"},
			req: request{method: "HEAD", path: "/orgs/acme/workflows"}, want: 200},
		policyCase{name: "OPTIONS is denied unless declared", config: wf, noToken: true,
			req: request{method: "OPTIONS", path: "/orgs/acme/workflows"}, want: 403},
		policyCase{name: "a declared public OPTIONS route lets preflight through", config: workflowsConfig(t, "routes", append([]string{"OPTIONS /orgs/{org}/{rest...} public"}, workflowRoutes...)), noToken: true,
			req: request{method: "OPTIONS", path: "/orgs/acme/workflows"}, want: 200},
		policyCase{name: "unmatched authenticated lets any valid token reach undeclared paths", config: workflowsConfig(t, "unmatched", "authenticated"), sub: "dave", org: "acme",
			req: request{path: "/orgs/acme/secrets"}, want: 200},
		policyCase{name: "shadow mode lets a denied call through with the verified identity", config: workflowsConfig(t, "mode", "shadow"), sub: "dave", org: "acme", roles: []string{"viewer"},
			req: request{method: "DELETE", path: "/orgs/acme/workflows/w1"}, want: 200, headers: map[string]string{"X-Auth-Subject": "dave"}},
		policyCase{name: "shadow mode forwards no identity without a valid token", config: workflowsConfig(t, "mode", "shadow"), noToken: true,
			req: request{method: "DELETE", path: "/orgs/acme/workflows/w1", headers: [][2]string{{"X-Auth-Subject", "root"}}}, want: 200, headers: map[string]string{"X-Auth-Subject": ""}},
	)
	for _, p := range []string{"/orgs/acme%2Fglobex/workflows", "/orgs/acme/../globex/workflows", "/orgs/acme/./workflows", "/orgs//acme/workflows",
		"/orgs/acme/workflows/w1;jsessionid=1", "/orgs/%61cme/workflows", "/orgs/acme/workflows/%2e%2e", "/orgs/acme/workflows/%252e", "/orgs/acme%5Cworkflows"} {
		cases = append(cases, policyCase{name: "the ambiguous path " + p + " is refused", config: wf, sub: "alice", org: "acme", roles: []string{"admin"},
			req: request{method: "DELETE", path: p}, want: 400})
	}
	cases = append(cases, policyCase{name: "an encoded space decodes the same for matcher and backend", config: wf, sub: "alice", org: "acme", roles: []string{"admin"},
		req: request{method: "DELETE", path: "/orgs/acme/workflows/my%20flow"}, want: 200})
	return cases
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestPolicyScenarios(t *testing.T) {
	for _, l := range loaders(t) {
		for _, c := range policyCases(t) {
			l, c := l, c
			t.Run(l.Name()+"/"+c.name, func(t *testing.T) {
				h, b := instance(t, l, c.config)
				r := c.req
				if !c.noToken {
					r.token = mint(t, "ES256", claims(c.sub, c.org, c.roles, c.extra), nil)
				}
				rec := serve(h, r)
				if rec.Code != c.want {
					t.Fatalf("status %d, want %d (%s)", rec.Code, c.want, rec.Body.String())
				}
				if c.want == 403 {
					if ch := rec.Header().Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_scope"`) {
						t.Errorf("403 challenge %q", ch)
					}
					if b.calls != 0 {
						t.Error("backend called on a denial")
					}
				}
				for name, want := range c.headers {
					if got := strings.Join(b.header.Values(name), "|"); got != want {
						t.Errorf("backend saw %s %q, want %q", name, got, want)
					}
				}
			})
		}
	}
}

func TestForbiddenNamesTheMissingScope(t *testing.T) {
	for _, l := range loaders(t) {
		h, _ := instance(t, l, workflowsConfig(t))
		tok := mint(t, "ES256", claims("carol", "acme", []string{"analyst"}, nil), nil)
		rec := serve(h, request{method: "DELETE", path: "/orgs/acme/workflows/w1", token: tok})
		want := `Bearer realm="gatehouse", error="insufficient_scope", scope="workflows:delete"`
		if rec.Code != 403 || rec.Header().Get("WWW-Authenticate") != want {
			t.Errorf("%s: %d %q", l.Name(), rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
		if strings.Contains(rec.Body.String(), "analyst") {
			t.Errorf("%s: the body leaks the decision's reason: %s", l.Name(), rec.Body.String())
		}
	}
}

// TestPolicyFileRevocation edits the policy file under a running middleware: removing svc-ci's
// assignment revokes it without restart; a broken edit keeps the last good policy.
func TestPolicyFileRevocation(t *testing.T) {
	for _, l := range loaders(t) {
		dir := t.TempDir()
		path := filepath.Join(dir, "policy.yaml")
		full := demoPolicy(t)
		if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
			t.Fatal(err)
		}
		h, _ := instance(t, l, baseConfig("routes", workflowRoutes, "policyFile", path, "policyReload", "10ms"))
		tok := mint(t, "ES256", claims("svc-ci", "acme", nil, nil), nil)
		create := request{method: "POST", path: "/orgs/acme/workflows", token: tok}
		if rec := serve(h, create); rec.Code != 200 {
			t.Fatalf("%s: before revocation: %d", l.Name(), rec.Code)
		}
		revoked := full[:strings.Index(full, "assignments:")] + "assignments: []\n"
		if err := os.WriteFile(path, []byte(revoked), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		if rec := serve(h, create); rec.Code != 403 {
			t.Fatalf("%s: after revocation: %d, want 403", l.Name(), rec.Code)
		}
		if err := os.WriteFile(path, []byte(full+"\nroles: [broken\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Millisecond)
		if rec := serve(h, create); rec.Code != 403 {
			t.Fatalf("%s: a broken edit changed the decision: %d", l.Name(), rec.Code)
		}
		viewer := mint(t, "ES256", claims("dave", "acme", []string{"viewer"}, nil), nil)
		if rec := serve(h, request{path: "/orgs/acme/workflows", token: viewer}); rec.Code != 200 {
			t.Fatalf("%s: the last good policy is no longer served: %d", l.Name(), rec.Code)
		}
	}
}

// TestAPolicyFileEditThatDropsARoutesPermissionIsReported: New refuses a policy file that does not
// declare a permission a route requires; an edit made after New that drops one is reported once,
// when a request first meets the new parse (one JSON line naming the file, the route and the
// permission), and that route's requests are denied, as a bundle's are.
func TestAPolicyFileEditThatDropsARoutesPermissionIsReported(t *testing.T) {
	routes := []string{"GET /orgs/{org}/posts posts:read", "POST /orgs/{org}/posts posts:create"}
	both := "permissions: [posts:read, posts:create]\nroles:\n  user: [posts:read, posts:create]\n"
	readOnly := "permissions: [posts:read]\nroles:\n  user: [posts:read]\n"
	for _, l := range loaders(t) {
		t.Run(l.Name(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "policy.yaml")
			if err := os.WriteFile(path, []byte(both), 0o644); err != nil {
				t.Fatal(err)
			}
			h, _ := instance(t, l, baseConfig("routes", routes, "policyFile", path, "policyReload", "10ms"))
			tok := mint(t, "ES256", claims("alice", "acme", []string{"user"}, nil), nil)
			create := request{method: "POST", path: "/orgs/acme/posts", token: tok}
			if lines := captureStderr(t, func() {
				if rec := serve(h, create); rec.Code != 200 {
					t.Fatalf("before the edit: %d", rec.Code)
				}
			}); len(lines) != 0 {
				t.Fatalf("the policy New checked was reported: %q", lines)
			}
			if err := os.WriteFile(path, []byte(readOnly), 0o644); err != nil {
				t.Fatal(err)
			}
			time.Sleep(30 * time.Millisecond)
			lines := captureStderr(t, func() {
				if rec := serve(h, create); rec.Code != 403 {
					t.Errorf("after the edit: %d, want 403", rec.Code)
				}
				serve(h, create)
			})
			var reports []string
			for _, line := range lines {
				if strings.Contains(line, `"policyFile":`) {
					reports = append(reports, line)
				}
			}
			if len(reports) != 1 || !strings.Contains(reports[0], `routes[1] \"POST /orgs/{org}/posts posts:create\" requires \"posts:create\", which the policy file does not declare`) ||
				!strings.Contains(reports[0], strings.ReplaceAll(path, `\`, `\\`)) {
				t.Fatalf("want one report naming the file, the route and the permission; stderr: %q", lines)
			}
		})
	}
}
