package forwardauth

import (
	"bufio"
	"errors"
	"net/http"
	"net/netip"
	"strings"
)

// convention says where an auth request carries the request it asks about. The proxy's
// configuration chooses it by the endpoint it calls, never the client.
type convention int

const (
	// forwarded: X-Forwarded-Method, X-Forwarded-Uri and X-Forwarded-Host (X-Forwarded-Proto is
	// consumed too). Traefik forwardAuth, HAProxy.
	forwarded convention = iota
	// caddy: the forwarded convention, and a 200 answers every identity header, empty when
	// Gatehouse set none (Caddy 2.6's copy_headers turns a header missing from the answer into the
	// literal text of its placeholder; the Caddyfile deletes the empty ones).
	caddy
	// original: X-Original-Method and X-Original-URI, and the Host header. nginx auth_request
	// (the auth location sets them, with Host $http_host).
	original
	// envoy: the request line itself below EnvoyPrefix (ext_authz path_prefix), Host from
	// :authority. Envoy ext_authz with an HTTP service.
	envoy
)

// Endpoints of the auth conventions, one per convention.
const (
	ForwardedPath = "/auth/forwarded" // Traefik forwardAuth, HAProxy
	CaddyPath     = "/auth/caddy"     // Caddy forward_auth
	OriginalPath  = "/auth/original"  // nginx auth_request
	EnvoyPrefix   = "/auth/envoy"     // Envoy ext_authz path_prefix: the original path follows it
)

// consumed are the headers each convention reads the original request from: they describe the
// request and are not part of it, so the rebuilt request does not carry them.
var consumed = map[convention][]string{
	forwarded: {"X-Forwarded-Method", "X-Forwarded-Uri", "X-Forwarded-Host", "X-Forwarded-Proto"},
	caddy:     {"X-Forwarded-Method", "X-Forwarded-Uri", "X-Forwarded-Host", "X-Forwarded-Proto"},
	original:  {"X-Original-Method", "X-Original-Uri"},
	envoy:     {"X-Envoy-Auth-Partial-Body"},
}

// hopHeaders are the hop-by-hop headers (RFC 9110 §7.6.1, and those net/http/httputil's reverse
// proxy drops): they belong to the connection to forward-auth, not to the client's request.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// errBodyNotForwarded is what reading the body of a rebuilt request returns when the proxy did not
// send the original body: Gatehouse then refuses a form POST it cannot check for "_method" (400)
// rather than let an unseen override through.
var errBodyNotForwarded = errors.New("the proxy did not forward the request body")

type missingBody struct{}

func (missingBody) Read([]byte) (int, error) { return 0, errBodyNotForwarded }
func (missingBody) Close() error             { return nil }

// rebuild reconstructs the client's request from an auth request, as Go's HTTP server would have
// parsed it had the client sent it to Gatehouse directly: the method, request target and Host go
// through http.ReadRequest on a synthetic request line, and only an origin-form target (one that
// starts with "/") is accepted (RFC 9112 §3.2.1). It copies the client's headers except the
// hop-by-hop ones and the convention's own. It returns a problem detail ("" when rebuilt).
func rebuild(conv convention, r *http.Request) (*http.Request, string) {
	method, target, host, problem := describe(conv, r)
	if problem != "" {
		return nil, problem
	}
	if method == "" || strings.ContainsAny(method, " \r\n") {
		return nil, "malformed method"
	}
	if target == "" || target[0] != '/' {
		return nil, "the forwarded request target must be origin-form (start with /)"
	}
	if strings.ContainsAny(target, " \r\n") {
		return nil, "malformed forwarded request target"
	}
	if !validHost(host) {
		return nil, "malformed forwarded host"
	}
	line := method + " " + target + " HTTP/1.1\r\n"
	if host != "" {
		line += "Host: " + host + "\r\n"
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(line + "\r\n")))
	if err != nil || req.URL.Scheme != "" || req.URL.Host != "" || req.URL.Opaque != "" {
		return nil, "malformed forwarded request"
	}
	req = req.WithContext(r.Context())
	req.Header = copyHeaders(r.Header, consumed[conv])
	req.RemoteAddr = clientAddr(r)
	setBody(conv, req, r)
	return req, ""
}

// describe reads the method, request target and host the convention carries.
func describe(conv convention, r *http.Request) (method, target, host, problem string) {
	switch conv {
	case forwarded, caddy:
		method, problem = single(r.Header, "X-Forwarded-Method")
		if problem == "" {
			target, problem = single(r.Header, "X-Forwarded-Uri")
		}
		if problem == "" {
			host, problem = single(r.Header, "X-Forwarded-Host")
		}
		return method, target, host, problem
	case original:
		method, problem = single(r.Header, "X-Original-Method")
		if problem == "" {
			target, problem = single(r.Header, "X-Original-Uri")
		}
		return method, target, r.Host, problem
	}
	rest := strings.TrimPrefix(r.RequestURI, EnvoyPrefix)
	if len(rest) == len(r.RequestURI) {
		return "", "", "", "the request target must start with " + EnvoyPrefix
	}
	return r.Method, rest, r.Host, ""
}

// single returns the one value of a header the convention requires.
func single(h http.Header, name string) (string, string) {
	v := h[name]
	switch {
	case len(v) == 0 || v[0] == "":
		return "", "missing " + name
	case len(v) > 1:
		return "", "more than one " + name
	}
	return v[0], ""
}

// copyHeaders copies the client's header fields except the hop-by-hop ones, those the client
// lists in Connection, Content-Length (the body is set apart) and the convention's own.
func copyHeaders(in http.Header, drop []string) http.Header {
	out := make(http.Header, len(in))
	for k, v := range in {
		out[k] = append([]string(nil), v...)
	}
	for _, c := range in["Connection"] {
		for _, name := range strings.Split(c, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		delete(out, name)
	}
	for _, name := range drop {
		delete(out, name)
	}
	delete(out, "Content-Length")
	return out
}

// setBody gives the rebuilt request the original body when the proxy forwarded it (Traefik
// forwardBody, Envoy with_request_body), and otherwise a body that cannot be read.
func setBody(conv convention, req, r *http.Request) {
	partial := conv == envoy && strings.EqualFold(r.Header.Get("X-Envoy-Auth-Partial-Body"), "true")
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 && !partial {
		req.Body = r.Body
		req.ContentLength = r.ContentLength
		return
	}
	req.Body = missingBody{}
	req.ContentLength = -1
}

// clientAddr is the client's address for the audit line: the right-most X-Forwarded-For entry
// (the one the trusted proxy appended), else X-Real-Ip, else the proxy's own address.
func clientAddr(r *http.Request) string {
	if v := r.Header.Values("X-Forwarded-For"); len(v) > 0 {
		list := strings.Split(v[len(v)-1], ",")
		if ip, err := netip.ParseAddr(strings.TrimSpace(list[len(list)-1])); err == nil {
			return ip.String()
		}
	}
	if ip, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-Ip"))); err == nil {
		return ip.String()
	}
	return r.RemoteAddr
}

// validHost accepts what Go's server accepts in a Host header (the bytes of
// golang.org/x/net/http/httpguts.ValidHostHeader); "" is no Host.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !alnum && strings.IndexByte("!$%&()*+,-.:;=[]'_~", c) < 0 {
			return false
		}
	}
	return true
}
