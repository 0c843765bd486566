package forwardauth

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/demo/workflows"
)

// The proxies test runs real nginx and real Caddy (Debian packages nginx, caddy and
// libnginx-mod-http-headers-more-filter, installed by .ci/run) in front of the demo workflows API,
// each asking an in-process gatehouse forward-auth, with the configurations docs/forward-auth.md
// gives. It replays the walkthrough through each and through the plugin itself (compiled, as
// Traefik would run it) and compares.

const headersMoreModule = "/usr/lib/nginx/modules/ngx_http_headers_more_filter_module.so"

// requireTool returns the path of a program the test needs. In CI (CI=true) a missing program
// fails the test; on a developer's machine it skips it.
func requireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil && name == "nginx" {
		_, err = os.Stat(headersMoreModule)
	}
	if err != nil {
		msg := name + " is not installed (" + err.Error() + "): apt-get install -y nginx caddy libnginx-mod-http-headers-more-filter (.ci/run does)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// recordingBackend is the demo workflows API behind a recorder of the headers each request brings,
// keyed by the test's X-Test-Step header.
type recordingBackend struct {
	mu   sync.Mutex
	seen map[string]http.Header
	srv  *httptest.Server
}

func newBackend(t *testing.T) *recordingBackend {
	b := &recordingBackend{seen: map[string]http.Header{}}
	api := workflows.New().Handler()
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.mu.Lock()
		b.seen[r.Header.Get("X-Test-Step")] = r.Header.Clone()
		b.mu.Unlock()
		api.ServeHTTP(w, r)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *recordingBackend) received(step string) http.Header {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[step]
}

func (b *recordingBackend) port() string { return portOf(b.srv.URL) }

func portOf(url string) string { return url[strings.LastIndexByte(url, ':')+1:] }

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return portOf(ln.Addr().String())
}

// start runs a proxy until the test ends and waits until it accepts connections on port.
func start(t testing.TB, dir, port string, name string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			t.Logf("%s output:\n%s", name, b)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, name+".log"))
			t.Fatalf("%s exited at start:\n%s", name, b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s within 10s", name, port)
		}
	}
}

// startNginx runs nginx with the configuration of docs/forward-auth.md.
func startNginx(t *testing.T, gatehousePort, backendPort string) string {
	requireTool(t, "nginx")
	dir := t.TempDir()
	port := freePort(t)
	conf := strings.NewReplacer("{{DIR}}", dir, "{{PORT}}", port, "{{GATEHOUSE}}", gatehousePort, "{{BACKEND}}", backendPort,
		"{{MODULE}}", headersMoreModule).Replace(nginxConf)
	writeFile(t, dir, "nginx.conf", conf)
	start(t, dir, port, "nginx", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	return "http://127.0.0.1:" + port
}

// nginxConf is the nginx configuration of docs/forward-auth.md, on loopback ports and in a
// temporary directory (master_process off: one process the test can stop).
const nginxConf = `daemon off;
master_process off;
pid {{DIR}}/nginx.pid;
error_log {{DIR}}/error.log info;
load_module {{MODULE}};
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path {{DIR}}/client_body;
  proxy_temp_path {{DIR}}/proxy;
  fastcgi_temp_path {{DIR}}/fastcgi;
  uwsgi_temp_path {{DIR}}/uwsgi;
  scgi_temp_path {{DIR}}/scgi;

  upstream gatehouse { server 127.0.0.1:{{GATEHOUSE}}; }
  upstream workflows { server 127.0.0.1:{{BACKEND}}; }
` + nginxMap + `

  server {
    listen 127.0.0.1:{{PORT}};
` + nginxServer + `
  }
}
`

// nginxMap is the http-level map of docs/forward-auth.md: auth_request already copies
// WWW-Authenticate on a 401, so the denied location adds it on the other statuses only.
const nginxMap = `
  map $gatehouse_status $gatehouse_added_challenge {
    401     "";
    default $gatehouse_challenge;
  }
`

// nginxServer is the server block of docs/forward-auth.md, verbatim.
const nginxServer = `
    # Client-sent identity headers never reach the backend: every X-Auth-* (headers-more); nginx
    # already drops names with "_" or "." (ignore_invalid_headers on, underscores_in_headers off).
    more_clear_input_headers 'X-Auth-*';

    location / {
      auth_request /.gatehouse;
      auth_request_set $gatehouse_subject     $upstream_http_x_auth_subject;
      auth_request_set $gatehouse_issuer      $upstream_http_x_auth_issuer;
      auth_request_set $gatehouse_org         $upstream_http_x_auth_org;
      auth_request_set $gatehouse_roles       $upstream_http_x_auth_roles;
      auth_request_set $gatehouse_permissions $upstream_http_x_auth_permissions;
      auth_request_set $gatehouse_status      $upstream_status;
      auth_request_set $gatehouse_challenge   $upstream_http_www_authenticate;
      auth_request_set $gatehouse_retry       $upstream_http_retry_after;
      auth_request_set $gatehouse_problem     $upstream_http_gatehouse_problem;
      error_page 401 403 500 = @gatehouse_denied;

      proxy_set_header X-Auth-Subject     $gatehouse_subject;
      proxy_set_header X-Auth-Issuer      $gatehouse_issuer;
      proxy_set_header X-Auth-Org         $gatehouse_org;
      proxy_set_header X-Auth-Roles       $gatehouse_roles;
      proxy_set_header X-Auth-Permissions $gatehouse_permissions;
      # forward-auth consumed these; a backend must not read the client's copies as overrides.
      proxy_set_header X-Original-URI     "";
      proxy_set_header X-Original-Method  "";
      proxy_pass http://workflows;
    }

    location = /.gatehouse {
      internal;
      proxy_pass http://gatehouse/auth/original;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header Host $http_host;
      proxy_set_header X-Real-IP $remote_addr;   # the client, for the audit line
    }

    # auth_request answers 401 and 403 itself, without the auth response's body, and any other
    # status as 500: relay Gatehouse's status, challenge and problem body from its headers.
    location @gatehouse_denied {
      default_type application/problem+json;
      add_header WWW-Authenticate $gatehouse_added_challenge always;
      add_header Retry-After $gatehouse_retry always;
      add_header Cache-Control no-store always;
      if ($gatehouse_status = 401) { return 401 $gatehouse_problem; }
      if ($gatehouse_status = 403) { return 403 $gatehouse_problem; }
      if ($gatehouse_status = 400) { return 400 $gatehouse_problem; }
      if ($gatehouse_status = 413) { return 413 $gatehouse_problem; }
      if ($gatehouse_status = 414) { return 414 $gatehouse_problem; }
      if ($gatehouse_status = 503) { return 503 $gatehouse_problem; }
      return 500;
    }
`

// startCaddy runs Caddy with the Caddyfile of docs/forward-auth.md.
func startCaddy(t *testing.T, gatehousePort, backendPort string) string {
	requireTool(t, "caddy")
	dir := t.TempDir()
	port := freePort(t)
	conf := strings.NewReplacer("{{PORT}}", port, "{{GATEHOUSE}}", gatehousePort, "{{BACKEND}}", backendPort).Replace(caddyfile)
	writeFile(t, dir, "Caddyfile", conf)
	start(t, dir, port, "caddy", "run", "--config", filepath.Join(dir, "Caddyfile"), "--adapter", "caddyfile")
	return "http://127.0.0.1:" + port
}

// caddyfile is the Caddyfile of docs/forward-auth.md on loopback ports.
const caddyfile = `{
	admin off
	auto_https off
}

http://127.0.0.1:{{PORT}} {
	# route keeps this order: strip client-sent identity headers, ask Gatehouse, proxy.
	route {
		request_header -X-Auth-*
		request_header -*_*
		request_header -*.*
		forward_auth 127.0.0.1:{{GATEHOUSE}} {
			uri /auth/caddy
			copy_headers X-Auth-Subject X-Auth-Issuer X-Auth-Org X-Auth-Roles X-Auth-Permissions
		}
		# /auth/caddy answers every header, empty when Gatehouse set none: delete the empty ones.
		@noSubject header X-Auth-Subject ""
		request_header @noSubject -X-Auth-Subject
		@noIssuer header X-Auth-Issuer ""
		request_header @noIssuer -X-Auth-Issuer
		@noOrg header X-Auth-Org ""
		request_header @noOrg -X-Auth-Org
		@noRoles header X-Auth-Roles ""
		request_header @noRoles -X-Auth-Roles
		@noPermissions header X-Auth-Permissions ""
		request_header @noPermissions -X-Auth-Permissions
		reverse_proxy 127.0.0.1:{{BACKEND}}
	}
}
`

func TestTheDocsShowTheConfigurationsTheProxiesTestRuns(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "forward-auth.md"))
	if err != nil {
		t.Fatal(err)
	}
	route := caddyfile[strings.Index(caddyfile, "\t# route keeps"):strings.LastIndex(caddyfile, "}")]
	route = strings.NewReplacer("{{GATEHOUSE}}", "8181", "{{BACKEND}}", "9001").Replace(route)
	for name, block := range map[string]string{"the nginx map": nginxMap, "the nginx server block": nginxServer, "the Caddy route": route} {
		if !strings.Contains(string(doc), block) {
			t.Errorf("docs/forward-auth.md does not contain %s as tested:\n%s", name, block)
		}
	}
}

func TestAnUnavailableKeySourceIsA503WithRetryAfterThroughEachProxy(t *testing.T) {
	doc := jwksConfig("http://127.0.0.1:1/jwks.json") // nothing listens on port 1
	fa := httptest.NewServer(newTestServer(t, doc))
	t.Cleanup(fa.Close)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "dave"})
	tok.Header["alg"] = "ES256" // only the header matters: no key can be fetched to check it
	tok.Header["kid"] = "k1"
	unsigned, err := tok.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	signed := unsigned + "." + strings.Repeat("A", 86)
	for _, p := range []struct {
		name  string
		start func(t *testing.T, gatehousePort, backendPort string) string
	}{{"nginx", startNginx}, {"caddy", startCaddy}} {
		t.Run(p.name, func(t *testing.T) {
			b := newBackend(t)
			base := p.start(t, portOf(fa.URL), b.port())
			req, _ := http.NewRequest("GET", base+"/me", nil)
			req.Header.Set("Authorization", "Bearer "+signed)
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "10" || !strings.Contains(string(body), `"detail":"key source unavailable"`) {
				t.Errorf("got %d, Retry-After %q, body %q; want the plugin's 503", resp.StatusCode, resp.Header.Get("Retry-After"), body)
			}
		})
	}
}
