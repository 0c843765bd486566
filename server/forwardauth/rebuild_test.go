package forwardauth

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// authRequest builds the auth request a proxy sends: method and target of the auth request
// itself, and its headers.
func authRequest(method, target string, headers map[string][]string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	for k, v := range headers {
		if k == "Host" {
			r.Host = v[0]
			continue
		}
		r.Header[k] = v
	}
	return r
}

func TestRebuildReadsEachProxysConvention(t *testing.T) {
	tests := []struct {
		name       string
		conv       convention
		req        *http.Request
		method     string
		requestURI string
		path       string // EscapedPath
		query      string
		host       string
		remote     string
		kept       []string // headers the rebuilt request carries
		gone       []string // headers it must not carry
	}{
		{
			name: "traefik forwardAuth: method, URI and host come from X-Forwarded-*, the client's headers are kept",
			conv: forwarded,
			req: authRequest("GET", ForwardedPath, map[string][]string{"Host": {"gatehouse:8181"},
				"X-Forwarded-Method": {"DELETE"}, "X-Forwarded-Uri": {"/orgs/acme/workflows/wf-1?dry=1"},
				"X-Forwarded-Host": {"api.example.com"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-For": {"203.0.113.7"},
				"Authorization": {"Bearer x"}, "Cookie": {"a=b"}}),
			method: "DELETE", requestURI: "/orgs/acme/workflows/wf-1?dry=1", path: "/orgs/acme/workflows/wf-1", query: "dry=1",
			host: "api.example.com", remote: "203.0.113.7",
			kept: []string{"Authorization", "Cookie", "X-Forwarded-For"},
			gone: []string{"X-Forwarded-Method", "X-Forwarded-Uri", "X-Forwarded-Host", "X-Forwarded-Proto"},
		},
		{
			name: "caddy forward_auth: the original Host header is ignored in favour of X-Forwarded-Host",
			conv: forwarded,
			req: authRequest("GET", ForwardedPath, map[string][]string{"Host": {"other.example.com"},
				"X-Forwarded-Method": {"POST"}, "X-Forwarded-Uri": {"/orgs/acme/workflows"}, "X-Forwarded-Host": {"acme.example.com"}}),
			method: "POST", requestURI: "/orgs/acme/workflows", path: "/orgs/acme/workflows", host: "acme.example.com", remote: "127.0.0.1:40000",
		},
		{
			name: "an escaped slash reaches the middleware still escaped",
			conv: forwarded,
			req: authRequest("GET", ForwardedPath, map[string][]string{"X-Forwarded-Method": {"GET"},
				"X-Forwarded-Uri": {"/orgs/acme/a%2Fb"}, "X-Forwarded-Host": {"h"}}),
			method: "GET", requestURI: "/orgs/acme/a%2Fb", path: "/orgs/acme/a%2Fb", host: "h", remote: "127.0.0.1:40000",
		},
		{
			name: "nginx auth_request: X-Original-Method and X-Original-URI, the Host header, and neither X-Original header is kept",
			conv: original,
			req: authRequest("GET", OriginalPath, map[string][]string{"Host": {"api.example.com"},
				"X-Original-Method": {"POST"}, "X-Original-Uri": {"/orgs/acme/workflows/wf-1/run"}, "X-Real-Ip": {"198.51.100.4"},
				"Authorization": {"Bearer x"}}),
			method: "POST", requestURI: "/orgs/acme/workflows/wf-1/run", path: "/orgs/acme/workflows/wf-1/run", host: "api.example.com",
			remote: "198.51.100.4", kept: []string{"Authorization"}, gone: []string{"X-Original-Method", "X-Original-Uri"},
		},
		{
			name: "envoy ext_authz: the method and the path below the prefix are the original request's",
			conv: envoy,
			req: authRequest("DELETE", EnvoyPrefix+"/orgs/acme/workflows/wf-1?x=%41", map[string][]string{"Host": {"api.example.com"},
				"Authorization": {"Bearer x"}}),
			method: "DELETE", requestURI: "/orgs/acme/workflows/wf-1?x=%41", path: "/orgs/acme/workflows/wf-1", query: "x=%41",
			host: "api.example.com", remote: "127.0.0.1:40000", kept: []string{"Authorization"},
		},
		{
			name: "hop-by-hop headers and the headers Connection names are not part of the client's request",
			conv: forwarded,
			req: authRequest("GET", ForwardedPath, map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/"},
				"X-Forwarded-Host": {"h"}, "Connection": {"keep-alive, X-Hop"}, "X-Hop": {"1"}, "Keep-Alive": {"timeout=5"},
				"Upgrade": {"websocket"}, "Te": {"trailers"}, "X-Kept": {"1"}}),
			method: "GET", requestURI: "/", path: "/", host: "h", remote: "127.0.0.1:40000",
			kept: []string{"X-Kept"}, gone: []string{"Connection", "X-Hop", "Keep-Alive", "Upgrade", "Te"},
		},
		{
			name: "a client's X-Original-URI sent through a forwarded-convention proxy is kept, so Gatehouse refuses it as an override",
			conv: forwarded,
			req: authRequest("GET", ForwardedPath, map[string][]string{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/"},
				"X-Forwarded-Host": {"h"}, "X-Original-Uri": {"/admin"}}),
			method: "GET", requestURI: "/", path: "/", host: "h", remote: "127.0.0.1:40000", kept: []string{"X-Original-Uri"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problem := rebuild(tt.conv, tt.req)
			if problem != "" {
				t.Fatalf("refused: %s", problem)
			}
			if got.Method != tt.method || got.RequestURI != tt.requestURI || got.URL.EscapedPath() != tt.path ||
				got.URL.RawQuery != tt.query || got.Host != tt.host || got.RemoteAddr != tt.remote {
				t.Errorf("got %s %q (path %q, query %q) host %q remote %q; want %s %q (path %q, query %q) host %q remote %q",
					got.Method, got.RequestURI, got.URL.EscapedPath(), got.URL.RawQuery, got.Host, got.RemoteAddr,
					tt.method, tt.requestURI, tt.path, tt.query, tt.host, tt.remote)
			}
			for _, h := range tt.kept {
				if got.Header.Get(h) != tt.req.Header.Get(h) {
					t.Errorf("%s: got %q, want %q", h, got.Header.Get(h), tt.req.Header.Get(h))
				}
			}
			for _, h := range tt.gone {
				if _, ok := got.Header[h]; ok {
					t.Errorf("%s was kept", h)
				}
			}
		})
	}
}

func TestRebuildRefusesWhatGoWouldNotParseAsAnOriginFormRequest(t *testing.T) {
	fwd := func(method, uri, host string) map[string][]string {
		h := map[string][]string{}
		if method != "" {
			h["X-Forwarded-Method"] = []string{method}
		}
		if uri != "" {
			h["X-Forwarded-Uri"] = []string{uri}
		}
		if host != "" {
			h["X-Forwarded-Host"] = []string{host}
		}
		return h
	}
	tests := []struct {
		name string
		conv convention
		req  *http.Request
		want string
	}{
		{"an absolute URI is refused", forwarded, authRequest("GET", ForwardedPath, fwd("GET", "http://evil.example/orgs/acme/workflows", "h")), "origin-form"},
		{"an authority-form target is refused", forwarded, authRequest("GET", ForwardedPath, fwd("CONNECT", "evil.example:443", "h")), "origin-form"},
		{"the asterisk form is refused", forwarded, authRequest("GET", ForwardedPath, fwd("OPTIONS", "*", "h")), "origin-form"},
		{"a missing method is refused", forwarded, authRequest("GET", ForwardedPath, fwd("", "/", "h")), "missing X-Forwarded-Method"},
		{"a missing URI is refused", forwarded, authRequest("GET", ForwardedPath, fwd("GET", "", "h")), "missing X-Forwarded-Uri"},
		{"a missing host is refused", forwarded, authRequest("GET", ForwardedPath, fwd("GET", "/", "")), "missing X-Forwarded-Host"},
		{"two URIs are refused", forwarded, authRequest("GET", ForwardedPath, map[string][]string{"X-Forwarded-Method": {"GET"},
			"X-Forwarded-Uri": {"/a", "/b"}, "X-Forwarded-Host": {"h"}}), "more than one X-Forwarded-Uri"},
		{"a method that is not a token is refused", forwarded, authRequest("GET", ForwardedPath, fwd("GE(T", "/", "h")), "malformed forwarded request"},
		{"a method with a space is refused", forwarded, authRequest("GET", ForwardedPath, fwd("GET /x", "/", "h")), "malformed method"},
		{"a URI with a space is refused", forwarded, authRequest("GET", ForwardedPath, fwd("GET", "/a b", "h")), "malformed forwarded request target"},
		{"a URI with a control character is refused", forwarded, authRequest("GET", ForwardedPath, fwd("GET", "/a\tb", "h")), "malformed forwarded request"},
		{"a host with a slash is refused", forwarded, authRequest("GET", ForwardedPath, fwd("GET", "/", "evil.example/x")), "malformed forwarded host"},
		{"a missing X-Original-Method is refused", original, authRequest("GET", OriginalPath, map[string][]string{"X-Original-Uri": {"/"}}), "missing X-Original-Method"},
		{"a missing X-Original-URI is refused", original, authRequest("GET", OriginalPath, map[string][]string{"X-Original-Method": {"GET"}}), "missing X-Original-Uri"},
		{"an envoy request outside the prefix is refused", envoy, authRequest("GET", "/orgs/acme/workflows", nil), "must start with " + EnvoyPrefix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, problem := rebuild(tt.conv, tt.req)
			if got != nil || !strings.Contains(problem, tt.want) {
				t.Errorf("got %v, problem %q; want a refusal mentioning %q", got, problem, tt.want)
			}
		})
	}
}

func TestRebuiltBodyIsTheForwardedOneOrUnreadable(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		partial  bool
		readable bool
	}{
		{"a body the proxy forwarded is the request's body", "_method=DELETE", false, true},
		{"without a forwarded body, reading the body fails", "", false, false},
		{"a body envoy marked partial is not trusted to be complete", "name=x", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", EnvoyPrefix+"/orgs/acme/workflows", strings.NewReader(tt.body))
			if tt.partial {
				r.Header.Set("X-Envoy-Auth-Partial-Body", "true")
			}
			got, problem := rebuild(envoy, r)
			if problem != "" {
				t.Fatal(problem)
			}
			b, err := io.ReadAll(got.Body)
			if tt.readable && (err != nil || string(b) != tt.body) {
				t.Errorf("got %q, %v; want %q", b, err, tt.body)
			}
			if !tt.readable && err != errBodyNotForwarded {
				t.Errorf("got %q, %v; want errBodyNotForwarded", b, err)
			}
			if _, ok := got.Header["X-Envoy-Auth-Partial-Body"]; ok {
				t.Error("the partial-body marker was kept")
			}
		})
	}
}

func TestOnlyTrustedPeersAreBelieved(t *testing.T) {
	trusted, err := ParseTrusted("10.0.0.0/8, 192.0.2.7, fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		addr string
		want bool
	}{
		{"a peer inside a trusted prefix is trusted", "10.1.2.3:5000", true},
		{"a single trusted address is trusted", "192.0.2.7:80", true},
		{"its neighbour is not", "192.0.2.8:80", false},
		{"an IPv6 peer inside a trusted prefix is trusted", "[fd00::1]:80", true},
		{"an IPv4-mapped IPv6 peer is read as IPv4", "[::ffff:10.0.0.1]:80", true},
		{"loopback is not trusted unless listed", "127.0.0.1:80", false},
		{"an unparsable peer is not trusted", "somewhere", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := peerTrusted(tt.addr, trusted); got != tt.want {
				t.Errorf("peerTrusted(%q) = %v, want %v", tt.addr, got, tt.want)
			}
		})
	}
	t.Run("the default trusts loopback only", func(t *testing.T) {
		d := DefaultTrusted()
		if !peerTrusted("127.0.0.1:1", d) || !peerTrusted("[::1]:1", d) || peerTrusted("10.0.0.1:1", d) {
			t.Error("default is not loopback only")
		}
	})
	t.Run("a malformed prefix is an error", func(t *testing.T) {
		if _, err := ParseTrusted("10.0.0.0/33"); err == nil {
			t.Error("accepted")
		}
	})
}
