package forwardauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// clientRequest is a request as a client sends it to the proxy.
type clientRequest struct {
	method, target string
	header         map[string]string
	body           string
}

const clientHost = "api.example.com"

// asAuthRequest is the auth request each convention's proxy sends to forward-auth for c. The
// forwarded and original conventions carry no body (as Caddy, nginx and Traefik without
// forwardBody send them); Envoy's carries it when c has one (with_request_body).
func asAuthRequest(conv convention, c clientRequest) *http.Request {
	var r *http.Request
	switch conv {
	case forwarded, caddy:
		r = httptest.NewRequest("GET", map[convention]string{forwarded: ForwardedPath, caddy: CaddyPath}[conv], nil)
		r.Header.Set("X-Forwarded-Method", c.method)
		r.Header.Set("X-Forwarded-Uri", c.target)
		r.Header.Set("X-Forwarded-Host", clientHost)
		r.Header.Set("X-Forwarded-Proto", "https")
	case original:
		r = httptest.NewRequest("GET", OriginalPath, nil)
		r.Header.Set("X-Original-Method", c.method)
		r.Header.Set("X-Original-Uri", c.target)
		r.Host = clientHost
	case envoy:
		r = httptest.NewRequest(c.method, EnvoyPrefix+c.target, strings.NewReader(c.body))
		r.Host = clientHost
	}
	r.RemoteAddr = "127.0.0.1:40000"
	for k, v := range c.header {
		r.Header[k] = []string{v}
	}
	return r
}

// pluginAnswer is what the plugin itself does with c: its response, and the headers the backend
// receives when it lets c through.
type pluginAnswer struct {
	status    int
	challenge string
	body      string
	forwarded http.Header // nil when the backend was not called
}

func throughPlugin(t *testing.T, doc string, c clientRequest) pluginAnswer {
	t.Helper()
	cfg, err := DecodeConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	var got http.Header
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone(); w.WriteHeader(200) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mw, err := gatehouse.New(ctx, next, cfg, "plugin")
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(c.method, c.target, strings.NewReader(c.body))
	r.Host = clientHost
	for k, v := range c.header {
		r.Header[k] = []string{v}
	}
	w := httptest.NewRecorder()
	mw.ServeHTTP(w, r)
	return pluginAnswer{status: w.Code, challenge: w.Header().Get("WWW-Authenticate"), body: w.Body.String(), forwarded: got}
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func TestEveryConventionAnswersAsThePluginDecides(t *testing.T) {
	s := newTestServer(t, testConfig)
	expired := mint(t, "alice", -time.Hour, testSecret)
	forged := mint(t, "alice", time.Hour, "another-secret-of-thirty-two-byt")
	spoofed := bearer(token(t, "alice"))
	spoofed["X-Auth-Subject"] = "mallory"
	spoofed["X_Auth_Roles"] = "admin"
	override := bearer(token(t, "dave"))
	override["X-Http-Method-Override"] = "DELETE"
	tests := []struct {
		name   string
		req    clientRequest
		plugin int // the status the plugin answers: a check that the case means what it says
	}{
		{"anyone can check health", clientRequest{"GET", "/healthz", nil, ""}, 200},
		{"no token is a 401 with a bare challenge", clientRequest{"GET", "/orgs/acme/workflows", nil, ""}, 401},
		{"alice (admin) creates a workflow in acme", clientRequest{"POST", "/orgs/acme/workflows", bearer(token(t, "alice")), ""}, 200},
		{"dave (viewer) lists workflows", clientRequest{"GET", "/orgs/acme/workflows", bearer(token(t, "dave")), ""}, 200},
		{"dave (viewer) cannot create one", clientRequest{"POST", "/orgs/acme/workflows", bearer(token(t, "dave")), ""}, 403},
		{"carol (analyst) cannot delete one", clientRequest{"DELETE", "/orgs/acme/workflows/wf-1", bearer(token(t, "carol")), ""}, 403},
		{"erin (admin of globex) cannot reach into acme", clientRequest{"GET", "/orgs/acme/workflows", bearer(token(t, "erin")), ""}, 403},
		{"an expired token is a 401", clientRequest{"GET", "/orgs/acme/workflows", bearer(expired), ""}, 401},
		{"a forged signature is a 401", clientRequest{"GET", "/orgs/acme/workflows", bearer(forged), ""}, 401},
		{"svc-ci creates through its policy assignment", clientRequest{"POST", "/orgs/acme/workflows", bearer(token(t, "svc-ci")), ""}, 200},
		{"spoofed identity headers are replaced by alice's", clientRequest{"GET", "/orgs/acme/workflows", spoofed, ""}, 200},
		{"an encoded slash is refused", clientRequest{"GET", "/orgs/acme/workflows%2Fx", bearer(token(t, "alice")), ""}, 400},
		{"an empty segment is refused", clientRequest{"GET", "/orgs//acme/workflows", bearer(token(t, "alice")), ""}, 400},
		{"a method override is refused", clientRequest{"GET", "/orgs/acme/workflows", override, ""}, 400},
		{"a _method query parameter is refused", clientRequest{"GET", "/orgs/acme/workflows?_method=DELETE", bearer(token(t, "dave")), ""}, 400},
		{"a path no route matches is denied", clientRequest{"GET", "/admin", bearer(token(t, "alice")), ""}, 403},
		{"a path over maxPathLength is a 414", clientRequest{"GET", "/orgs/acme/" + strings.Repeat("a", 5000), bearer(token(t, "alice")), ""}, 414},
	}
	for _, conv := range []convention{forwarded, caddy, original, envoy} {
		for _, tt := range tests {
			t.Run(conventionName(conv)+": "+tt.name, func(t *testing.T) {
				want := throughPlugin(t, testConfig, tt.req)
				if want.status != tt.plugin {
					t.Fatalf("the plugin answers %d, the case expects %d", want.status, tt.plugin)
				}
				w := httptest.NewRecorder()
				s.ServeHTTP(w, asAuthRequest(conv, tt.req))
				if want.forwarded != nil {
					if w.Code != 200 {
						t.Fatalf("forward-auth answered %d %s, the plugin let the request through", w.Code, w.Body)
					}
					if got, exp := nonEmpty(identity(w.Header())), identity(want.forwarded); !reflect.DeepEqual(got, exp) {
						t.Errorf("answer identity %v, the backend behind the plugin receives %v", got, exp)
					}
					return
				}
				if w.Code != want.status || w.Header().Get("WWW-Authenticate") != want.challenge || w.Body.String() != want.body {
					t.Errorf("forward-auth: %d %q %q; plugin: %d %q %q", w.Code, w.Header().Get("WWW-Authenticate"), w.Body,
						want.status, want.challenge, want.body)
				}
				if conv == original && w.Header().Get(ProblemHeader) != strings.TrimSpace(want.body) {
					t.Errorf("%s: %q, want the problem body %q", ProblemHeader, w.Header().Get(ProblemHeader), want.body)
				}
			})
		}
	}
}

// nonEmpty drops the empty values (the caddy endpoint answers every identity header).
func nonEmpty(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

func conventionName(c convention) string {
	return map[convention]string{forwarded: "forwarded", caddy: "caddy", original: "original", envoy: "envoy"}[c]
}

func TestAnAllowAnswersExactlyTheIdentityHeadersGatehouseSet(t *testing.T) {
	s := newTestServer(t, testConfig)
	tests := []struct {
		name  string
		conv  convention
		sub   string
		req   clientRequest
		names []string
	}{
		{"svc-ci gets its policy role and its permissions", forwarded, "svc-ci", clientRequest{"POST", "/orgs/acme/workflows", nil, ""},
			[]string{"Cache-Control", "Content-Length", "X-Auth-Issuer", "X-Auth-Org", "X-Auth-Permissions", "X-Auth-Roles", "X-Auth-Subject"}},
		{"a subject without roles gets no roles or permissions header", forwarded, "nobody", clientRequest{"GET", "/me", nil, ""},
			[]string{"Cache-Control", "Content-Length", "X-Auth-Issuer", "X-Auth-Org", "X-Auth-Subject"}},
		{"a public route answers no identity at all", forwarded, "", clientRequest{"GET", "/healthz", nil, ""},
			[]string{"Cache-Control", "Content-Length"}},
		{"caddy gets every identity header, empty when Gatehouse set none", caddy, "", clientRequest{"GET", "/healthz", nil, ""},
			[]string{"Cache-Control", "Content-Length", "X-Auth-Issuer", "X-Auth-Org", "X-Auth-Permissions", "X-Auth-Roles", "X-Auth-Subject"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.header = map[string]string{"X-Auth-Roles": "admin"}
			if tt.sub != "" {
				tt.req.header["Authorization"] = "Bearer " + token(t, tt.sub)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, asAuthRequest(tt.conv, tt.req))
			var got []string
			for k := range w.Header() {
				got = append(got, k)
			}
			sort.Strings(got)
			if w.Code != 200 || !reflect.DeepEqual(got, tt.names) {
				t.Errorf("got %d with %v, want 200 with %v", w.Code, got, tt.names)
			}
		})
	}
}

func TestEnvoyIsToldToRemoveEveryClientHeaderGatehouseDeleted(t *testing.T) {
	s := newTestServer(t, testConfig)
	req := clientRequest{"GET", "/me", map[string]string{"Authorization": "Bearer " + token(t, "nobody"),
		"X-Auth-Subject": "mallory", "X-Auth-Roles": "admin", "X_auth_org": "globex", "X-Kept": "1"}, ""}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, asAuthRequest(envoy, req))
	got := strings.Split(w.Header().Get(EnvoyRemoveHeader), ",")
	sort.Strings(got)
	// x-auth-subject is answered (Envoy overwrites it); x-auth-roles is not (nobody has none),
	// so the client's copy must go; x_auth_org folds to an identity header.
	want := []string{"x-auth-roles", "x_auth_org"}
	if w.Code != 200 || !reflect.DeepEqual(got, want) {
		t.Errorf("got %d, %s: %v; want 200 and %v", w.Code, EnvoyRemoveHeader, got, want)
	}
	if w.Header().Get("X-Auth-Subject") != "nobody" {
		t.Errorf("X-Auth-Subject %q", w.Header().Get("X-Auth-Subject"))
	}
}

func TestSettingsFilePrefixAndHeaderTenantNameTheAnswer(t *testing.T) {
	dir := t.TempDir()
	settings := writeFile(t, dir, "settings.yaml", "headerPrefix: X-User-\ntenant: header:x-org-id\n")
	doc := strings.Replace(testConfig, "routes:\n", "settingsFile: "+settings+"\nroutes:\n  - GET /workflows workflows:read\n", 1)
	s := newTestServer(t, doc)
	tests := []struct {
		name string
		sub  string
		want map[string]string
	}{
		{"dave in acme gets the prefixed headers and the decided org", "dave",
			map[string]string{"X-User-Subject": "dave", "X-User-Org": "acme", "X-User-Roles": "viewer", "X-Org-Id": "acme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := clientRequest{"GET", "/workflows", map[string]string{"Authorization": "Bearer " + token(t, tt.sub), "X-Org-Id": "acme"}, ""}
			p := throughPlugin(t, doc, req)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, asAuthRequest(forwarded, req))
			if w.Code != 200 || p.forwarded == nil {
				t.Fatalf("forward-auth %d, plugin %d", w.Code, p.status)
			}
			for k, v := range tt.want {
				if w.Header().Get(k) != v || p.forwarded.Get(k) != v {
					t.Errorf("%s: answer %q, plugin forwards %q, want %q", k, w.Header().Get(k), p.forwarded.Get(k), v)
				}
			}
			if w.Header().Get("X-Auth-Subject") != "" {
				t.Error("answered the default prefix")
			}
		})
	}
}

func TestAFormBodyThatCannotBeCheckedIsRefused(t *testing.T) {
	s := newTestServer(t, testConfig)
	form := map[string]string{"Authorization": "Bearer " + token(t, "alice"), "Content-Type": "application/x-www-form-urlencoded"}
	tests := []struct {
		name string
		conv convention
		body string
		want int
	}{
		{"a form POST whose body the proxy did not forward is refused", forwarded, "", 400},
		{"a forwarded form body carrying _method is refused as the plugin refuses it", envoy, "_method=DELETE", 400},
		{"a forwarded form body without _method is decided as usual", envoy, "name=x", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, asAuthRequest(tt.conv, clientRequest{"POST", "/orgs/acme/workflows", form, tt.body}))
			if w.Code != tt.want {
				t.Errorf("got %d %s, want %d", w.Code, w.Body, tt.want)
			}
		})
	}
}

func TestAnUntrustedPeerIsRefusedWithoutEvaluation(t *testing.T) {
	s := newTestServer(t, testConfig)
	r := asAuthRequest(forwarded, clientRequest{"GET", "/healthz", nil, ""})
	r.RemoteAddr = "192.0.2.10:5555"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 403 || !strings.Contains(w.Body.String(), "untrusted proxy") {
		t.Errorf("got %d %s, want 403 untrusted proxy", w.Code, w.Body)
	}
	if s.Metrics().Decisions("untrusted", "") != 1 || s.Metrics().Decisions("allow", "GET /healthz public") != 0 {
		t.Error("the request was evaluated")
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	s := newTestServer(t, testConfig)
	for _, c := range []clientRequest{
		{"GET", "/orgs/acme/workflows", bearer(token(t, "dave")), ""},
		{"POST", "/orgs/acme/workflows", bearer(token(t, "dave")), ""},
		{"GET", "/orgs/acme/a%2Fb", nil, ""},
	} {
		s.ServeHTTP(httptest.NewRecorder(), asAuthRequest(original, c))
	}
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	t.Run("healthz is live", func(t *testing.T) {
		if w := get("/healthz"); w.Code != 200 {
			t.Errorf("got %d", w.Code)
		}
	})
	t.Run("readyz is ready once built and 503 while shutting down", func(t *testing.T) {
		if w := get("/readyz"); w.Code != 200 {
			t.Errorf("got %d", w.Code)
		}
		s.SetReady(false)
		defer s.SetReady(true)
		if w := get("/readyz"); w.Code != 503 {
			t.Errorf("got %d", w.Code)
		}
	})
	t.Run("metrics count decisions by result and route and time them", func(t *testing.T) {
		body := get("/metrics").Body.String()
		for _, line := range []string{
			`gatehouse_forward_auth_decisions_total{result="allow",route="GET /orgs/{org}/workflows workflows:read"} 1`,
			`gatehouse_forward_auth_decisions_total{result="deny",route="POST /orgs/{org}/workflows workflows:create"} 1`,
			`gatehouse_forward_auth_decisions_total{result="refused",route="(unsafe path)"} 1`,
			`gatehouse_forward_auth_duration_seconds_bucket{le="+Inf"} 3`,
			`gatehouse_forward_auth_duration_seconds_count 3`,
			"# TYPE gatehouse_jwks_fetches_total counter",
		} {
			if !strings.Contains(body, line+"\n") {
				t.Errorf("missing %q in:\n%s", line, body)
			}
		}
	})
	t.Run("another path is a 404", func(t *testing.T) {
		if w := get("/auth"); w.Code != 404 {
			t.Errorf("got %d", w.Code)
		}
	})
}

func TestLabelValuesAreEscaped(t *testing.T) {
	m := NewMetrics()
	m.Observe("allow", "GET /a\"b\\c\nd", time.Millisecond)
	var b strings.Builder
	m.Write(&b)
	if !strings.Contains(b.String(), `route="GET /a\"b\\c\nd"} 1`) {
		t.Errorf("got:\n%s", b.String())
	}
}
