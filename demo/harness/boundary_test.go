package harness

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// fold reads a header name the way CGI, WSGI, PHP-FPM and Rack backends do: every byte that is not
// an ASCII letter or digit becomes "_", case folded.
func fold(name string) string {
	b := []byte(strings.ToLower(name))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// onlyDecidedIdentity fails when the backend saw a header that folds to an identity header or the
// tenant header other than the exact ones Gatehouse sets, or a value other than want's.
func onlyDecidedIdentity(want map[string]string, tenantHeader string) func(t testing.TB, rec *httptest.ResponseRecorder, b *backend) {
	return func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
		for name, v := range b.header {
			f := fold(name)
			if !strings.HasPrefix(f, "x_auth_") && (tenantHeader == "" || f != fold(tenantHeader)) {
				continue
			}
			w, ok := want[name]
			if !ok || len(v) != 1 || v[0] != w {
				t.Errorf("backend saw %s: %q; Gatehouse decided %v", name, v, want)
			}
		}
		for name, w := range want {
			if w != "" && b.header.Get(name) != w {
				t.Errorf("backend saw %s %q, want %q", name, b.header.Get(name), w)
			}
		}
	}
}

func withToken(sub, org string, roles []string, extra jwt.MapClaims, r request) func(t testing.TB) request {
	return func(t testing.TB) request {
		r.token = mint(t, "ES256", claims(sub, org, roles, extra), nil)
		return r
	}
}

// boundaryCases: what a backend reads is what Gatehouse decided.
func boundaryCases(t testing.TB) []tokenCase {
	wf := workflowsConfig(t)
	read := request{path: "/orgs/acme/workflows"}
	var cases []tokenCase

	// Padded, empty and quoted claim values: decided on exactly, but read differently by a backend.
	padded := []struct {
		what  string
		extra jwt.MapClaims
	}{
		{"a subject with a trailing space", jwt.MapClaims{"sub": "admin "}},
		{"a subject with a leading space", jwt.MapClaims{"sub": " admin"}},
		{"a subject with a trailing tab", jwt.MapClaims{"sub": "admin\t"}},
		{"a subject with a trailing no-break space", jwt.MapClaims{"sub": "admin\u00a0"}},
		{"a subject with a leading ideographic space", jwt.MapClaims{"sub": "\u3000admin"}},
		{"an empty subject", jwt.MapClaims{"sub": ""}},
		{"an org with a leading space", jwt.MapClaims{"org_id": " acme"}},
		{"an org with a trailing space", jwt.MapClaims{"org_id": "acme "}},
		{"a role with a leading space", jwt.MapClaims{"roles": []string{" admin"}}},
		{"a role with a trailing space", jwt.MapClaims{"roles": []string{"viewer", "admin "}}},
		{"an empty role", jwt.MapClaims{"roles": []string{"viewer", ""}}},
		{"a role in double quotes", jwt.MapClaims{"roles": []string{`"admin"`}}},
		{"a comma-separated role string with a space after the comma", jwt.MapClaims{"roles": "viewer, admin"}},
		{"a role string with a trailing space", jwt.MapClaims{"roles": "admin "}},
		{"an org_roles key with a leading space", jwt.MapClaims{"org_roles": map[string]interface{}{" globex": []string{"viewer"}}}},
		{"an org_roles role with a trailing space", jwt.MapClaims{"org_roles": map[string]interface{}{"globex": []string{"viewer "}}}},
		{"an assignment role with a trailing space", jwt.MapClaims{"assignments": []interface{}{map[string]interface{}{"role": "admin ", "org": "acme"}}}},
		{"an assignment org with a leading space", jwt.MapClaims{"assignments": []interface{}{map[string]interface{}{"role": "admin", "org": " acme"}}}},
		{"an assignment scope with a leading space", jwt.MapClaims{"assignments": []interface{}{map[string]interface{}{"role": "admin", "org": "acme", "scope": []string{" /workflows"}}}}},
		{"an issuer with a trailing space", jwt.MapClaims{"iss": issuer + " "}},
		{"a scope string with a double space", jwt.MapClaims{"scope": "workflows:read  workflows:run"}},
		{"a scope string with a leading space", jwt.MapClaims{"scope": " workflows:read"}},
		{"a permission with a trailing space", jwt.MapClaims{"permissions": []string{"workflows:read "}}},
	}
	for _, p := range padded {
		cases = append(cases, tokenCase{name: "a token with " + p.what + " is refused as invalid", config: wf, want: 401, challenge: "invalid_token",
			req: withToken("alice", "acme", []string{"viewer"}, p.extra, read)})
	}
	// Only an absent scope means org-wide.
	forum := baseConfig("routes", forumRoutes, "policy", forumPolicy)
	del := request{method: "DELETE", path: "/orgs/forum/topics/cooking/posts/1"}
	for _, s := range []struct {
		what  string
		scope interface{}
	}{{"an empty list", []string{}}, {"an empty string", ""}, {"a lone comma", ","}, {"null", nil}, {"a list holding an empty path", []string{""}}} {
		a := map[string]interface{}{"role": "moderator", "org": "forum", "scope": s.scope}
		cases = append(cases, tokenCase{name: "a token assignment whose scope is " + s.what + " grants nothing: the token is refused", config: forum, want: 401,
			req: withToken("user9", "forum", []string{"user"}, jwt.MapClaims{"assignments": []interface{}{a}}, del)})
	}
	cases = append(cases, tokenCase{name: "a token assignment without a scope still grants the role in the whole org", config: forum, want: 200,
		req: withToken("user9", "forum", []string{"user"}, jwt.MapClaims{"assignments": []interface{}{map[string]interface{}{"role": "moderator", "org": "forum"}}}, del)})

	// Every spelling of a protected name is stripped: CGI-style backends fold every non-alphanumeric byte to "_".
	decided := map[string]string{"X-Auth-Subject": "alice", "X-Auth-Org": "acme", "X-Auth-Roles": "viewer", "X-Auth-Permissions": "workflows:read", "X-Auth-Issuer": issuer}
	for _, sep := range []string{"~", "+", "!", "_", ".", "*", "#", "$", "%", "&", "'", "^", "`", "|"} {
		r := read
		r.headers = [][2]string{{"X" + sep + "Auth" + sep + "Subject", "root"}, {"x" + sep + "auth" + sep + "roles", "admin"}, {"X-Auth" + sep + "Org", "globex"}}
		cases = append(cases, tokenCase{name: "identity headers spelled with " + sep + " never reach the backend", config: wf, want: 200,
			req: withToken("alice", "acme", []string{"viewer"}, nil, r), check: onlyDecidedIdentity(decided, "")})
	}
	cases = append(cases, tokenCase{name: "the verified issuer is forwarded in X-Auth-Issuer", config: wf, want: 200,
		req:   withToken("alice", "acme", []string{"viewer"}, nil, request{path: "/orgs/acme/workflows", headers: [][2]string{{"X-Auth-Issuer", "https://evil.test"}}}),
		check: onlyDecidedIdentity(decided, "")})

	// The tenant header is protected too, and forwarded only as the org the decision was made in.
	headerCfg := baseConfig("tenant", "header:X-Org-Id", "policy", demoPolicy(t), "routes", []string{"DELETE /workflows/{id} workflows:delete", "GET /status public"})
	tenantDecided := map[string]string{"X-Auth-Subject": "alice", "X-Auth-Org": "acme", "X-Auth-Roles": "admin", "X-Org-Id": "acme",
		"X-Auth-Permissions": "workflows:create,workflows:delete,workflows:read,workflows:run,workflows:share", "X-Auth-Issuer": issuer}
	for _, alias := range []string{"X_Org_Id", "x.org.id", "X~Org~Id", "X+Org+Id", "x-org-id", "X-ORG-ID"} {
		cases = append(cases, tokenCase{name: "the tenant header spelled " + alias + " never travels next to the checked X-Org-Id", config: headerCfg, want: 200,
			req: withToken("alice", "acme", []string{"admin"}, nil, request{method: "DELETE", path: "/workflows/w1",
				headers: [][2]string{{"X-Org-Id", "acme"}, {alias, "globex"}}}),
			check: onlyDecidedIdentity(tenantDecided, "X-Org-Id")})
	}
	cases = append(cases,
		tokenCase{name: "an aliased tenant header alone names no org and is denied", config: headerCfg, want: 403,
			req: withToken("alice", "acme", []string{"admin"}, nil, request{method: "DELETE", path: "/workflows/w1", headers: [][2]string{{"X_Org_Id", "acme"}}})},
		tokenCase{name: "a public route forwards no tenant header at all", config: headerCfg, want: 200,
			req: func(t testing.TB) request {
				return request{path: "/status", headers: [][2]string{{"X-Org-Id", "globex"}, {"X_Org_Id", "globex"}}}
			},
			check: onlyDecidedIdentity(map[string]string{}, "X-Org-Id")},
	)

	// Method and path overrides are refused: the backend would perform what Gatehouse did not authorize.
	for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "X-Original-URL", "X-Original-URI",
		"X-Original-Method", "X-Rewrite-URL", "X_HTTP_Method_Override", "x.http.method.override", "X~Original~Url"} {
		cases = append(cases, tokenCase{name: "a viewer's GET carrying " + h + " is refused with 400", config: wf, want: 400,
			req: withToken("dave", "acme", []string{"viewer"}, nil, request{path: "/orgs/acme/workflows", headers: [][2]string{{h, "DELETE"}}})})
	}
	for _, q := range []string{"_method=DELETE", "x=1&_method=DELETE", "%5Fmethod=DELETE", "_%6Dethod=DELETE", "_METHOD=delete"} {
		cases = append(cases, tokenCase{name: "a viewer's GET with the query " + q + " is refused with 400", config: wf, want: 400,
			req: withToken("dave", "acme", []string{"viewer"}, nil, request{path: "/orgs/acme/workflows?" + q})})
	}
	cases = append(cases,
		tokenCase{name: "a public route with a method override is refused too", config: wf, want: 400,
			req: func(t testing.TB) request {
				return request{path: "/healthz", headers: [][2]string{{"X-HTTP-Method-Override", "DELETE"}}}
			}},
		tokenCase{name: "a query value that merely mentions _method is not an override", config: wf, want: 200,
			req: withToken("dave", "acme", []string{"viewer"}, nil, request{path: "/orgs/acme/workflows?q=_method"})},
		tokenCase{name: "Traefik's own X-Forwarded headers pass untouched", config: wf, want: 200,
			req: withToken("dave", "acme", []string{"viewer"}, nil, request{path: "/orgs/acme/workflows",
				headers: [][2]string{{"X-Forwarded-Prefix", "/api"}, {"X-Forwarded-Uri", "/api/orgs/acme/workflows"}, {"X-Forwarded-Method", "GET"}}}),
			check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
				if b.header.Get("X-Forwarded-Prefix") != "/api" {
					t.Errorf("X-Forwarded-Prefix lost")
				}
			}},
	)

	// _method in a POST form body (Rails, Laravel, Symfony, ASP.NET Core read it there).
	form := [][2]string{{"Content-Type", "application/x-www-form-urlencoded"}}
	cases = append(cases,
		tokenCase{name: "a developer's POST form carrying _method=DELETE is refused with 400", config: wf, want: 400,
			req: withToken("bob", "acme", []string{"developer"}, nil, request{method: "POST", path: "/orgs/acme/workflows", headers: form, body: "name=x&_method=DELETE"})},
		tokenCase{name: "an escaped %5Fmethod in a form body is refused too", config: wf, want: 400,
			req: withToken("bob", "acme", []string{"developer"}, nil, request{method: "POST", path: "/orgs/acme/workflows", headers: form, body: "%5Fmethod=DELETE"})},
		tokenCase{name: "a POST form without _method reaches the backend with its body intact", config: wf, want: 200,
			req: withToken("bob", "acme", []string{"developer"}, nil, request{method: "POST", path: "/orgs/acme/workflows", headers: form, body: "name=x&method=y"}),
			check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
				if b.body != "name=x&method=y" {
					t.Errorf("backend read body %q", b.body)
				}
			}},
		tokenCase{name: "a form body too large to check for _method is refused with 413", config: wf, want: 413,
			req: withToken("bob", "acme", []string{"developer"}, nil, request{method: "POST", path: "/orgs/acme/workflows", headers: form, body: "a=" + strings.Repeat("b", 300<<10)})},
		tokenCase{name: "a JSON body that mentions _method is not a form and passes", config: wf, want: 200,
			req: withToken("bob", "acme", []string{"developer"}, nil, request{method: "POST", path: "/orgs/acme/workflows",
				headers: [][2]string{{"Content-Type", "application/json"}}, body: `{"_method":"DELETE"}`})},
	)
	// overrides: authorize decides the request as sent and as overridden.
	az := workflowsConfig(t, "overrides", "authorize")
	cases = append(cases,
		tokenCase{name: "with overrides authorize, a viewer's GET overridden to DELETE is forbidden", config: az, want: 403,
			req: withToken("dave", "acme", []string{"viewer"}, nil, request{path: "/orgs/acme/workflows/w1", headers: [][2]string{{"X-HTTP-Method-Override", "DELETE"}}})},
		tokenCase{name: "with overrides authorize, a viewer's GET overridden by _method=delete is forbidden", config: az, want: 403,
			req: withToken("dave", "acme", []string{"viewer"}, nil, request{path: "/orgs/acme/workflows?_method=delete"})},
		tokenCase{name: "with overrides authorize, an admin's POST overridden to DELETE passes with the override intact", config: workflowsConfig(t, "overrides", "authorize", "routes", append([]string{"POST /orgs/{org}/workflows/{id} workflows:read"}, workflowRoutes...)), want: 200,
			req: withToken("alice", "acme", []string{"admin"}, nil, request{method: "POST", path: "/orgs/acme/workflows/w1", headers: [][2]string{{"X-HTTP-Method-Override", "DELETE"}}}),
			check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
				if b.header.Get("X-Http-Method-Override") != "DELETE" || b.header.Get("X-Auth-Subject") != "alice" {
					t.Errorf("backend headers %v", b.header)
				}
			}},
		tokenCase{name: "with overrides authorize, a path override into another org is forbidden", config: az, want: 403,
			req: withToken("alice", "acme", []string{"admin"}, nil, request{path: "/orgs/acme/workflows", headers: [][2]string{{"X-Original-URL", "/orgs/globex/workflows"}}})},
		tokenCase{name: "with overrides authorize, a path override must itself be a safe path", config: az, want: 400,
			req: withToken("alice", "acme", []string{"admin"}, nil, request{path: "/orgs/acme/workflows", headers: [][2]string{{"X-Original-URL", "/orgs/acme/../globex/workflows"}}})},
		tokenCase{name: "with overrides authorize, two different method overrides are refused", config: az, want: 400,
			req: withToken("alice", "acme", []string{"admin"}, nil, request{path: "/orgs/acme/workflows", headers: [][2]string{{"X-HTTP-Method-Override", "DELETE"}, {"X-Method-Override", "PUT"}}})},
		tokenCase{name: "with overrides authorize, an override spelled X_HTTP_Method_Override is deleted, not honoured", config: az, want: 200,
			req: withToken("dave", "acme", []string{"viewer"}, nil, request{path: "/orgs/acme/workflows", headers: [][2]string{{"X_HTTP_Method_Override", "DELETE"}}}),
			check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
				for name := range b.header {
					if fold(name) == "x_http_method_override" {
						t.Errorf("backend saw %s", name)
					}
				}
			}},
	)

	// A method a backend may upper-case: it would match no route here and be performed there.
	for _, m := range []string{"delete", "Delete", "get"} {
		cases = append(cases, tokenCase{name: "the method " + m + " is refused with 400, even where unmatched is authenticated", config: workflowsConfig(t, "unmatched", "authenticated"), want: 400,
			req: withToken("dave", "acme", []string{"viewer"}, nil, request{method: m, path: "/orgs/acme/workflows/w1"})})
	}

	// Path bytes that change routing in a backend that decodes before routing.
	for _, p := range []string{"/orgs/acme/workflows%3Fid=1", "/orgs/acme/workflows%23x", "/orgs/acme/workflows/%C0%AE%C0%AE",
		"/orgs/acme/workflows/%E0%80%AF", "/orgs/acme/workflows/%ED%A0%80", "/orgs/acme%EF%BC%8Fglobex/workflows", "/orgs/%EF%BD%81cme/workflows",
		"/orgs/acme/workflows/%FF"} {
		cases = append(cases, tokenCase{name: "the path " + p + " is refused with 400", config: wf, want: 400,
			req: withToken("alice", "acme", []string{"admin"}, nil, request{method: "DELETE", path: strings.Replace(p, "/workflows", "/workflows/w1", 1)})})
	}
	for _, p := range []string{"/orgs/acme/workflows/my%20flow", "/orgs/acme/workflows/caf%C3%A9", "/orgs/acme/workflows/%E2%82%AC", "/orgs/acme/workflows/a%2Cb"} {
		cases = append(cases, tokenCase{name: "the path " + p + " has one reading and is served", config: wf, want: 200,
			req: withToken("alice", "acme", []string{"admin"}, nil, request{method: "DELETE", path: p})})
	}

	// forwardToken: false on every forwarded request.
	noToken := func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
		if b.header.Get("Authorization") != "" {
			t.Errorf("the backend received the Authorization header")
		}
		if strings.Contains(b.header.Get("Cookie"), "session=") {
			t.Errorf("the backend received the session cookie: %q", b.header.Get("Cookie"))
		}
	}
	cases = append(cases,
		tokenCase{name: "forwardToken false removes the token on a public route", config: workflowsConfig(t, "forwardToken", "false"), want: 200,
			req: withToken("alice", "acme", nil, nil, request{path: "/healthz"}), check: noToken},
		tokenCase{name: "forwardToken false removes the session cookie on a public route and keeps the others",
			config: workflowsConfig(t, "forwardToken", "false", "tokenSources", "header:Authorization,cookie:session"), want: 200,
			req: func(t testing.TB) request {
				return request{path: "/healthz", headers: [][2]string{{"Cookie", "theme=dark; session=" + mint(t, "ES256", claims("alice", "acme", nil, nil), nil)}}}
			},
			check: func(t testing.TB, rec *httptest.ResponseRecorder, b *backend) {
				noToken(t, rec, b)
				if !strings.Contains(b.header.Get("Cookie"), "theme=dark") {
					t.Errorf("other cookies lost: %q", b.header.Get("Cookie"))
				}
			}},
		tokenCase{name: "forwardToken false removes the token from a shadow-mode pass-through of a denial", config: workflowsConfig(t, "forwardToken", "false", "mode", "shadow"), want: 200,
			req: withToken("dave", "acme", []string{"viewer"}, nil, request{method: "DELETE", path: "/orgs/acme/workflows/w1"}), check: noToken},
		tokenCase{name: "forwardToken false removes an invalid token from a shadow-mode pass-through", config: workflowsConfig(t, "forwardToken", "false", "mode", "shadow"), want: 200,
			req: func(t testing.TB) request {
				return request{method: "DELETE", path: "/orgs/acme/workflows/w1", token: "not.a.token"}
			}, check: noToken},
		tokenCase{name: "forwardToken false removes the token of an allowed request replayed from the decision cache", config: workflowsConfig(t, "forwardToken", "false"), want: 200,
			req: withToken("dave", "acme", []string{"viewer"}, nil, read), check: noToken},
	)
	return cases
}

func TestBackendReadsWhatGatehouseDecided(t *testing.T) {
	for _, l := range loaders(t) {
		for _, c := range boundaryCases(t) {
			l, c := l, c
			t.Run(l.Name()+"/"+c.name, func(t *testing.T) {
				h, b := instance(t, l, c.config)
				r := c.req(t)
				// Twice: the second answer comes from the decision cache where the first was an allow.
				for i := 0; i < 2; i++ {
					b.header = nil
					rec := serve(h, r)
					if rec.Code != c.want {
						t.Fatalf("call %d: status %d, want %d; WWW-Authenticate %q body %s", i+1, rec.Code, c.want, rec.Header().Get("WWW-Authenticate"), rec.Body.String())
					}
					if c.challenge != "" && !strings.Contains(rec.Header().Get("WWW-Authenticate"), c.challenge) {
						t.Errorf("WWW-Authenticate %q lacks %q", rec.Header().Get("WWW-Authenticate"), c.challenge)
					}
					if c.want >= 400 && b.calls != 0 {
						t.Fatalf("backend called on a denial")
					}
					if c.check != nil {
						c.check(t, rec, b)
					}
				}
			})
		}
	}
}

func TestTheAuditReasonNamesTheRefusedClaim(t *testing.T) {
	for _, l := range loaders(t) {
		l := l
		t.Run(l.Name()+"/a padded subject is refused with a reason naming sub", func(t *testing.T) {
			h, _ := instance(t, l, workflowsConfig(t))
			tok := mint(t, "ES256", claims("admin ", "acme", []string{"viewer"}, nil), nil)
			lines := captureStderr(t, func() { serve(h, request{path: "/orgs/acme/workflows", token: tok}) })
			if len(lines) != 1 || !strings.Contains(lines[0], `claim \"sub\"`) {
				t.Fatalf("audit lines %q", lines)
			}
		})
	}
}

func TestTrailersNeverCarryIdentity(t *testing.T) {
	for _, l := range loaders(t) {
		l := l
		t.Run(l.Name()+"/declared trailers with protected names are removed before the request goes on", func(t *testing.T) {
			var got http.Header
			h, err := l.New(context.Background(), http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.Trailer.Clone() }),
				workflowsConfig(t), "test")
			if err != nil {
				t.Fatal(err)
			}
			req := request{path: "/healthz"}.build()
			req.Trailer = http.Header{"X-Auth-Subject": nil, "X_Auth_Roles": nil, "X-Http-Method-Override": nil, "X-Checksum": nil}
			req.Header.Set("Trailer", "X-Auth-Subject, X_Auth_Roles, X-Http-Method-Override, X-Checksum")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			if _, ok := got["X-Checksum"]; len(got) != 1 || !ok {
				t.Errorf("trailers the backend is announced: %v, want only X-Checksum", got)
			}
			if req.Header.Get("Trailer") != "X-Checksum" {
				t.Errorf("Trailer header %q", req.Header.Get("Trailer"))
			}
		})
	}
}
