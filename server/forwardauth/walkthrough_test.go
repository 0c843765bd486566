package forwardauth

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

// The walkthrough of the demo, replayed through the plugin itself (compiled, as Traefik would run
// it) and through real nginx and Caddy asking gatehouse forward-auth.

// step is one call of the walkthrough.
type step struct {
	say     string
	sub     string // token subject; "" for none
	token   string // explicit token (overrides sub)
	method  string
	path    string
	body    string
	headers map[string]string
	want    int            // the plugin's status, and every proxy's
	proxy   map[string]int // a proxy's status where it differs by design
}

func walkthrough(t *testing.T) []step {
	expired := mint(t, "alice", -time.Hour, testSecret)
	forged := mint(t, "alice", time.Hour, "another-secret-of-thirty-two-byt")
	spoof := map[string]string{"X-Auth-Subject": "mallory", "X-Auth-Roles": "admin", "X-Auth-Permissions": "workflows:delete",
		"X_Auth_Subject": "mallory", "X.Auth.Org": "globex", "X-Auth-Extra": "1"}
	return []step{
		{say: "anyone can check health (public route)", method: "GET", path: "/healthz", want: 200},
		{say: "no token: 401 with a bare Bearer challenge", method: "GET", path: "/orgs/acme/workflows", want: 401},
		{say: "alice (admin) creates a workflow in acme", sub: "alice", method: "POST", path: "/orgs/acme/workflows", body: `{"name":"nightly"}`, want: 201},
		{say: "bob (developer) creates a workflow", sub: "bob", method: "POST", path: "/orgs/acme/workflows", body: `{"name":"ci"}`, want: 201},
		{say: "carol (analyst) lists workflows", sub: "carol", method: "GET", path: "/orgs/acme/workflows", want: 200},
		{say: "carol (analyst) runs one", sub: "carol", method: "POST", path: "/orgs/acme/workflows/wf-1/run", want: 200},
		{say: "dave (viewer) tries to create one", sub: "dave", method: "POST", path: "/orgs/acme/workflows", want: 403},
		{say: "carol (analyst) tries to delete one", sub: "carol", method: "DELETE", path: "/orgs/acme/workflows/wf-1", want: 403},
		{say: "bob (developer) tries to share one", sub: "bob", method: "POST", path: "/orgs/acme/workflows/wf-1/share", body: `{"with":"carol"}`, want: 403},
		{say: "alice (admin) shares it", sub: "alice", method: "POST", path: "/orgs/acme/workflows/wf-1/share", body: `{"with":"carol"}`, want: 200},
		{say: "erin (admin of globex) reaches into acme", sub: "erin", method: "GET", path: "/orgs/acme/workflows", want: 403},
		{say: "erin works in her own org", sub: "erin", method: "POST", path: "/orgs/globex/workflows", want: 201},
		{say: "an expired token", token: expired, method: "GET", path: "/orgs/acme/workflows", want: 401},
		{say: "a token with a forged signature", token: forged, method: "GET", path: "/orgs/acme/workflows", want: 401},
		{say: "dave sends identity headers in six spellings (stripped; the backend sees dave)", sub: "dave", method: "GET", path: "/orgs/acme/workflows", headers: spoof, want: 200},
		{say: "an anonymous X-Auth-Subject on a public route never reaches the backend", method: "GET", path: "/healthz", headers: spoof, want: 200},
		{say: "svc-ci creates a workflow through its policy assignment", sub: "svc-ci", method: "POST", path: "/orgs/acme/workflows", want: 201},
		{say: "svc-ci cannot delete: developer lacks workflows:delete", sub: "svc-ci", method: "DELETE", path: "/orgs/acme/workflows/wf-1", want: 403},
		{say: "a route nobody declared is denied", sub: "alice", method: "GET", path: "/admin", want: 403},
		{say: "an encoded slash in the path is refused", sub: "alice", method: "GET", path: "/orgs/acme/workflows%2Fwf-1", want: 400},
		{say: "an empty segment is refused (nginx would merge it in $uri)", sub: "alice", method: "GET", path: "/orgs//acme/workflows", want: 400},
		{say: "a dot-dot segment is refused (nginx would resolve it in $uri)", sub: "alice", method: "GET", path: "/orgs/globex/../acme/workflows", want: 400},
		{say: "an escaped letter is refused", sub: "alice", method: "GET", path: "/orgs/%61cme/workflows", want: 400},
		{say: "a path over maxPathLength is a 414", sub: "alice", method: "GET", path: "/orgs/acme/" + strings.Repeat("a", 4200), want: 414},
		{say: "dave's GET with X-HTTP-Method-Override: DELETE is refused", sub: "dave", method: "GET", path: "/orgs/acme/workflows", headers: map[string]string{"X-HTTP-Method-Override": "DELETE"}, want: 400},
		{say: "dave's GET with ?_method=DELETE is refused", sub: "dave", method: "GET", path: "/orgs/acme/workflows?_method=DELETE", want: 400},
		{say: "a client's X-Original-URI is refused as an override", sub: "dave", method: "GET", path: "/orgs/acme/workflows", headers: map[string]string{"X-Original-URI": "/orgs/acme/workflows/wf-1"}, want: 400,
			// nginx replaces the client's X-Original-URI by its own on the auth request, so Gatehouse
			// never sees it; the configuration deletes it from the proxied request instead.
			proxy: map[string]int{"nginx": 200}},
		{say: "a form POST: its body never reaches forward-auth, so it cannot be checked for _method and is refused", sub: "alice", method: "POST", path: "/orgs/acme/workflows",
			body: "name=x", headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want: 201,
			proxy: map[string]int{"nginx": 400, "caddy": 400}},
		{say: "alice lists the workflows left", sub: "alice", method: "GET", path: "/orgs/acme/workflows", want: 200},
	}
}

// answer is what a client saw, and what the backend received.
type answer struct {
	status    int
	challenge []string
	body      string
	backend   http.Header
}

func replay(t *testing.T, base string, b *recordingBackend, steps []step) []answer {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	tokens := map[string]string{}
	var out []answer
	for i, s := range steps {
		req, err := http.NewRequest(s.method, base+s.path, strings.NewReader(s.body))
		if err != nil {
			t.Fatal(err)
		}
		id := strconv.Itoa(i)
		req.Header.Set("X-Test-Step", id)
		tok := s.token
		if tok == "" && s.sub != "" {
			if tokens[s.sub] == "" {
				tokens[s.sub] = token(t, s.sub)
			}
			tok = tokens[s.sub]
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		for k, v := range s.headers {
			req.Header[k] = []string{v} // as spelled: X_Auth_Subject stays X_Auth_Subject on the wire
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", s.say, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out = append(out, answer{status: resp.StatusCode, challenge: resp.Header.Values("WWW-Authenticate"), body: string(body), backend: b.received(id)})
	}
	return out
}

// startPlugin serves the plugin itself (compiled), in front of a backend: what Traefik runs.
func startPlugin(t *testing.T, b *recordingBackend) string {
	cfg, err := DecodeConfig([]byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	next := b.srv.Config.Handler
	mw, err := gatehouse.New(ctx, next, cfg, "plugin")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mw)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestNginxAndCaddyAnswerTheWalkthroughAsThePluginDoes(t *testing.T) {
	steps := walkthrough(t)
	pluginBackend := newBackend(t)
	plugin := replay(t, startPlugin(t, pluginBackend), pluginBackend, steps)
	for i, s := range steps {
		if plugin[i].status != s.want {
			t.Fatalf("the plugin answers %q with %d, the walkthrough expects %d", s.say, plugin[i].status, s.want)
		}
	}
	fa := httptest.NewServer(newTestServer(t, testConfig))
	t.Cleanup(fa.Close)
	proxies := []struct {
		name  string
		start func(t *testing.T, gatehousePort, backendPort string) string
	}{
		{"nginx", startNginx},
		{"caddy", startCaddy},
	}
	for _, p := range proxies {
		t.Run(p.name, func(t *testing.T) {
			b := newBackend(t)
			got := replay(t, p.start(t, portOf(fa.URL), b.port()), b, steps)
			for i, s := range steps {
				compareStep(t, p.name, s, plugin[i], got[i])
			}
		})
	}
}

// compareStep checks one step through a proxy against the plugin: the same status; on a denial
// the same challenge and problem body; on a pass the same identity at the backend and no other
// header whose CGI-folded name is under X-Auth-.
func compareStep(t *testing.T, proxy string, s step, plugin, got answer) {
	t.Helper()
	want, differs := s.proxy[proxy]
	if !differs {
		want = s.want
	}
	if got.status != want {
		t.Errorf("%s: %s: got %d, want %d (body %q)", proxy, s.say, got.status, want, got.body)
		return
	}
	if want >= 400 && !differs {
		if strings.Join(got.challenge, " | ") != strings.Join(plugin.challenge, " | ") {
			t.Errorf("%s: %s: WWW-Authenticate %q, the plugin's %q", proxy, s.say, got.challenge, plugin.challenge)
		}
		if strings.TrimSpace(got.body) != strings.TrimSpace(plugin.body) {
			t.Errorf("%s: %s: body %q, the plugin's %q", proxy, s.say, got.body, plugin.body)
		}
		if got.backend != nil {
			t.Errorf("%s: %s: the backend was called", proxy, s.say)
		}
		return
	}
	if want >= 400 {
		return
	}
	if got.backend == nil {
		t.Errorf("%s: %s: the backend was not called", proxy, s.say)
		return
	}
	for _, h := range []string{"X-Original-Uri", "X-Original-Method", "X-Http-Method-Override"} {
		if v, ok := got.backend[h]; ok {
			t.Errorf("%s: %s: the backend received the override %s: %q", proxy, s.say, h, v)
		}
	}
	if plugin.backend == nil {
		return // the plugin refused what this proxy serves by design: nothing to compare
	}
	gotID, wantID := folded(got.backend), folded(plugin.backend)
	if strings.Join(gotID, "\n") != strings.Join(wantID, "\n") {
		t.Errorf("%s: %s: the backend received identity %q, behind the plugin %q", proxy, s.say, gotID, wantID)
	}
}

// folded lists the headers of h whose CGI-folded name starts with x_auth_, as "folded=value".
func folded(h http.Header) []string {
	var out []string
	for k, v := range h {
		f := strings.Map(func(r rune) rune {
			switch {
			case r >= 'A' && r <= 'Z':
				return r + 'a' - 'A'
			case (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
				return r
			}
			return '_'
		}, k)
		if strings.HasPrefix(f, "x_auth_") {
			out = append(out, f+"="+strings.Join(v, ","))
		}
	}
	sort.Strings(out)
	return out
}
