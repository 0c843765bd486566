package forwardauth

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The HAProxy test runs real HAProxy (Debian's haproxy 2.6, built with Lua; .ci/run installs it)
// with deploy/haproxy/haproxy.cfg and deploy/haproxy/gatehouse-auth.lua as shipped, only the
// addresses and the script's path changed, in front of the demo workflows API, asking an
// in-process gatehouse forward-auth. It replays the walkthrough through HAProxy and through the
// plugin itself and compares, then tries what HAProxy itself might change or let through.

const (
	haproxyCfg = "../../deploy/haproxy/haproxy.cfg"
	haproxyLua = "../../deploy/haproxy/gatehouse-auth.lua"
)

// startHAProxy runs HAProxy with the shipped configuration, edited by edit (nil: as shipped), on
// loopback ports, until the test ends.
func startHAProxy(t testing.TB, gatehousePort, backendPort string, edit func(string) string) string {
	t.Helper()
	if _, err := exec.LookPath("haproxy"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("haproxy is not installed: apt-get install -y haproxy (.ci/run does)")
	}
	requireTool(t, "haproxy") // in CI a missing haproxy fails the test
	cfg, err := os.ReadFile(haproxyCfg)
	if err != nil {
		t.Fatal(err)
	}
	lua, err := filepath.Abs(haproxyLua)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := freePort(t)
	conf := string(cfg)
	for old, repl := range map[string]string{
		"lua-load /etc/haproxy/gatehouse-auth.lua": "lua-load " + lua,
		"bind :80":                  "bind 127.0.0.1:" + port,
		"http://127.0.0.1:8181":     "http://127.0.0.1:" + gatehousePort,
		"server api 127.0.0.1:9001": "server api 127.0.0.1:" + backendPort,
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("%s no longer contains %q: update the test", haproxyCfg, old)
		}
		conf = strings.Replace(conf, old, repl, 1)
	}
	if edit != nil {
		conf = edit(conf)
	}
	path := writeFile(t, dir, "haproxy.cfg", conf)
	start(t, dir, port, "haproxy", "-db", "-f", path)
	return "http://127.0.0.1:" + port
}

// haproxySteps is the walkthrough as HAProxy answers it, and what HAProxy itself might normalize
// or let through before asking Gatehouse. Every want is the plugin's status.
func haproxySteps(t *testing.T) []step {
	steps := walkthrough(t)
	for i := range steps {
		if steps[i].headers["Content-Type"] == "application/x-www-form-urlencoded" {
			// The Lua action sends no body: the form cannot be checked for _method (as nginx, Caddy).
			steps[i].proxy = map[string]int{"haproxy": 400}
		}
	}
	return append(steps,
		step{say: "an encoded question mark in a segment is decided on as sent", sub: "dave", method: "GET", path: "/orgs/acme%3Fx/workflows", want: 400},
		step{say: "an encoded dot-dot segment is refused", sub: "alice", method: "GET", path: "/orgs/globex/%2e%2e/acme/workflows", want: 400},
		step{say: "a fullwidth solidus (U+FF0F, percent-encoded) is refused, not read as a slash", sub: "alice", method: "GET", path: "/orgs/acme/workflows%EF%BC%8Fwf-1", want: 400},
		step{say: "a query-only difference reaches the same route", sub: "dave", method: "GET", path: "/orgs/acme/workflows?page=2", want: 200},
		step{say: "a client's X-Forwarded-Uri does not change the path Gatehouse decides on", method: "GET", path: "/orgs/acme/workflows",
			headers: map[string]string{"X-Forwarded-Uri": "/healthz", "X-Forwarded-Method": "GET", "X-Forwarded-Host": "elsewhere"}, want: 401},
		step{say: "a client's X-Forwarded-Method does not change the method Gatehouse decides on", sub: "dave", method: "POST", path: "/orgs/acme/workflows",
			headers: map[string]string{"X-Forwarded-Method": "GET"}, want: 403},
		step{say: "a client's X-Forwarded-Uri and -Method on an allowed request never reach the backend", sub: "dave", method: "GET", path: "/orgs/acme/workflows",
			headers: map[string]string{"X-Forwarded-Uri": "/orgs/acme/workflows/wf-1", "X-Forwarded-Method": "DELETE"}, want: 200},
		step{say: "a token in a header spelt in lower case is read", method: "GET", path: "/me",
			headers: map[string]string{"authorization": "Bearer " + token(t, "nobody")}, want: 200},
	)
}

func TestHAProxyAnswersTheWalkthroughAsThePluginDoes(t *testing.T) {
	steps := haproxySteps(t)
	pluginBackend := newBackend(t)
	plugin := replay(t, startPlugin(t, pluginBackend), pluginBackend, steps)
	for i, s := range steps {
		if plugin[i].status != s.want {
			t.Fatalf("the plugin answers %q with %d, the test expects %d", s.say, plugin[i].status, s.want)
		}
	}
	fa := httptest.NewServer(newTestServer(t, testConfig))
	t.Cleanup(fa.Close)
	b := newBackend(t)
	got := replay(t, startHAProxy(t, portOf(fa.URL), b.port(), nil), b, steps)
	for i, s := range steps {
		compareStep(t, "haproxy", s, plugin[i], got[i])
		for _, h := range []string{"X-Forwarded-Uri", "X-Forwarded-Method"} {
			if v, ok := got[i].backend[h]; ok {
				t.Errorf("haproxy: %s: the backend received the client's %s: %q", s.say, h, v)
			}
		}
	}
}

// rawAnswer sends one request as raw bytes (what Go's client would escape or refuse to send) and
// returns the status line HAProxy answers.
func rawAnswer(t *testing.T, base, request string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, request); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	return strings.TrimSpace(line)
}

func TestHAProxyRefusesWhatItCannotAskAboutExactly(t *testing.T) {
	fa := httptest.NewServer(newTestServer(t, testConfig))
	t.Cleanup(fa.Close)
	b := newBackend(t)
	base := startHAProxy(t, portOf(fa.URL), b.port(), nil)
	alice := token(t, "alice")
	tests := []struct {
		name   string
		target string // the request target, as raw bytes
		http10 bool   // HTTP/1.0 without a Host header
		want   string // the status code
	}{
		{"a raw fullwidth solidus (non-ASCII bytes in the target) is HAProxy's own 400", "/orgs/acme/workflows\xef\xbc\x8fwf-1", false, "400"},
		{"a request line longer than HAProxy's buffer (tune.bufsize, 16 KiB) is HAProxy's own 400", "/orgs/acme/" + strings.Repeat("a", 20000), false, "400"},
		{"a path just over maxPathLength is Gatehouse's 414", "/orgs/acme/" + strings.Repeat("a", 4200), false, "414"},
		{"a path of 14000 bytes fits HAProxy's buffer and the auth request: Gatehouse's 414", "/orgs/acme/" + strings.Repeat("a", 14000), false, "414"},
		{"an absolute-form target is asked about by its path: acme's workflows for alice", "http://api/orgs/acme/workflows", false, "200"},
		{"an absolute-form target with an encoded slash is refused", "http://api/orgs/acme/workflows%2Fwf-1", false, "400"},
		{"an HTTP/1.0 request without Host is refused (no host to ask about)", "/orgs/acme/workflows", true, "400"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "raw-" + strconv.Itoa(i)
			head := "GET " + tt.target + " HTTP/1.1\r\nHost: api\r\n"
			if tt.http10 {
				head = "GET " + tt.target + " HTTP/1.0\r\n"
			}
			got := rawAnswer(t, base, head+"X-Test-Step: "+id+"\r\nAuthorization: Bearer "+alice+"\r\nConnection: close\r\n\r\n")
			if status, _, _ := strings.Cut(strings.TrimPrefix(got[strings.IndexByte(got, ' ')+1:], " "), " "); status != tt.want {
				t.Errorf("got %q, want %s", got, tt.want)
			}
			if called := b.received(id) != nil; called != (tt.want == "200") {
				t.Errorf("backend called: %v, with answer %q", called, got)
			}
		})
	}
}

// problemAnswer is one request's status, headers and body through a proxy.
func problemAnswer(t *testing.T, req *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func TestHAProxyFailsClosed(t *testing.T) {
	fa := httptest.NewServer(newTestServer(t, testConfig))
	t.Cleanup(fa.Close)
	keyless := httptest.NewServer(newTestServer(t, jwksConfig("http://127.0.0.1:1/jwks.json"))) // nothing listens on port 1
	t.Cleanup(keyless.Close)
	notGatehouse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "teapot", http.StatusTeapot) // a 4xx that is not an RFC 9457 problem
	}))
	t.Cleanup(notGatehouse.Close)
	dave := token(t, "dave")
	es := newESFixture(t) // an ES256 token: the keyless server must fetch a key set to check it
	tests := []struct {
		name       string
		gatehouse  string
		edit       func(string) string
		path       string
		token      string
		wantStatus int
		wantDetail string
		wantRetry  string
	}{
		{name: "forward-auth unreachable is a 503, never the backend", gatehouse: freePort(t), path: "/me", token: dave,
			wantStatus: 503, wantDetail: "authorization service unavailable"},
		{name: "a server that is not Gatehouse answering 418 is a 503", gatehouse: portOf(notGatehouse.URL), path: "/me", token: dave,
			wantStatus: 503, wantDetail: "authorization service unavailable"},
		{name: "Gatehouse's 503 (key source unavailable) is relayed with Retry-After", gatehouse: portOf(keyless.URL), path: "/me", token: es.token,
			wantStatus: 503, wantDetail: "key source unavailable", wantRetry: "10"},
		{name: "an error inside the Lua action (a URL without a host: the httpclient raises) is a 500", gatehouse: portOf(fa.URL), path: "/me", token: dave,
			edit: func(c string) string {
				return regexp.MustCompile(`lua\.gatehouse-auth \S+`).ReplaceAllString(c, "lua.gatehouse-auth http://")
			}, wantStatus: 500, wantDetail: "authorization failed"},
		{name: "a forward-auth URL of another scheme (htps://) is a 500, never asked in clear", gatehouse: portOf(fa.URL), path: "/me", token: dave,
			edit: func(c string) string {
				return strings.Replace(c, "lua.gatehouse-auth http://", "lua.gatehouse-auth htps://", 1)
			}, wantStatus: 500, wantDetail: "authorization failed"},
		{name: "without the action (misplaced or removed) the last guard refuses every request", gatehouse: portOf(fa.URL), path: "/healthz",
			edit: func(c string) string {
				return strings.Replace(c, "http-request lua.gatehouse-auth", "# http-request lua.gatehouse-auth", 1)
			},
			wantStatus: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t)
			base := startHAProxy(t, tt.gatehouse, b.port(), tt.edit)
			req, _ := http.NewRequest("GET", base+tt.path, nil)
			req.Header.Set("X-Test-Step", "1")
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			status, h, body := problemAnswer(t, req)
			if status != tt.wantStatus || (tt.wantDetail != "" && !strings.Contains(body, `"detail":"`+tt.wantDetail+`"`)) || h.Get("Retry-After") != tt.wantRetry {
				t.Errorf("got %d, Retry-After %q, body %q; want %d with detail %q", status, h.Get("Retry-After"), body, tt.wantStatus, tt.wantDetail)
			}
			if b.received("1") != nil {
				t.Error("the backend was called")
			}
		})
	}
}

func TestTheDocsShowTheHAProxyConfigurationAsShipped(t *testing.T) {
	cfg, err := os.ReadFile(haproxyCfg)
	if err != nil {
		t.Fatal(err)
	}
	frontend := string(cfg[strings.Index(string(cfg), "frontend api"):])
	for _, doc := range []string{"../../docs/forward-auth.md", "../../README.md"} {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(text), frontend) {
			t.Errorf("%s does not show the frontend and backend of %s as shipped:\n%s", doc, haproxyCfg, frontend)
		}
	}
}
