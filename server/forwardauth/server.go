// Package forwardauth is `gatehouse forward-auth`: an HTTP authorization server for proxies that
// ask an external service about every request (Traefik forwardAuth, nginx auth_request, Caddy
// forward_auth, Envoy ext_authz over HTTP, HAProxy).
//
// It runs the plugin itself, built with gatehouse.New from the same configuration a user gives
// the plugin. For each auth request it rebuilds the client's request from the proxy's headers, runs
// it through the middleware with a next handler that captures the request the backend would
// receive, and answers 200 with the identity headers Gatehouse set, or relays the middleware's own
// denial (status, WWW-Authenticate, problem body). Decisions, header rules, path rules and caches
// are therefore the plugin's, byte for byte. A Server is safe for concurrent use.
package forwardauth

import (
	"bytes"
	"context"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/matcher"
)

// ProblemHeader carries the denial's problem body (RFC 9457) on answers to the original (nginx)
// endpoint: nginx auth_request drops the body of an auth response, but can return a header's
// value with `return 403 $gatehouse_problem`.
const ProblemHeader = "Gatehouse-Problem"

// EnvoyRemoveHeader lists, on a 200 answer to the Envoy endpoint, the client's headers Gatehouse
// deleted: Envoy's ext_authz removes them from the upstream request.
const EnvoyRemoveHeader = "X-Envoy-Auth-Headers-To-Remove"

// Options are the server's own settings (the middleware's are in its gatehouse.Config).
type Options struct {
	// Name names the middleware in audit lines.
	Name string
	// Trusted are the proxies whose forwarded headers are believed; an auth request from any
	// other peer is answered 403 without evaluation. Empty means loopback only.
	Trusted []netip.Prefix
}

// Server answers auth requests with the plugin's decisions, and serves /healthz, /readyz and
// /metrics.
type Server struct {
	mw      http.Handler
	names   names
	routes  *matcher.Table
	trusted []netip.Prefix
	metrics *Metrics
	ready   atomic.Bool
}

type captureKey struct{}

// capture is what the middleware's next handler saw: the request as the backend would receive it.
type capture struct {
	ran    bool
	header http.Header
}

// New builds the plugin middleware from cfg (gatehouse.New: every configuration problem at once)
// and the server around it. The middleware releases its shared key sets and policy file when ctx
// is cancelled.
func New(ctx context.Context, cfg *gatehouse.Config, opts Options) (*Server, error) {
	next := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(captureKey{}).(*capture); ok {
			c.ran = true
			c.header = r.Header
		}
	})
	name := opts.Name
	if name == "" {
		name = "forward-auth"
	}
	mw, err := gatehouse.New(ctx, next, cfg, name)
	if err != nil {
		return nil, err
	}
	s := &Server{mw: mw, names: resolveNames(cfg), trusted: opts.Trusted, metrics: NewMetrics()}
	if len(s.trusted) == 0 {
		s.trusted = DefaultTrusted()
	}
	s.routes, _ = matcher.Compile(s.names.routes) // New accepted them
	s.ready.Store(true)
	return s, nil
}

// SetReady switches /readyz between 200 and 503 (503 while shutting down).
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// ServeHTTP dispatches on the path: the four auth endpoints, /healthz, /readyz and /metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.RequestURI, EnvoyPrefix+"/"):
		s.auth(w, r, envoy)
	case r.URL.Path == ForwardedPath:
		s.auth(w, r, forwarded)
	case r.URL.Path == CaddyPath:
		s.auth(w, r, caddy)
	case r.URL.Path == OriginalPath:
		s.auth(w, r, original)
	case r.URL.Path == "/healthz":
		plain(w, http.StatusOK, "ok\n")
	case r.URL.Path == "/readyz":
		if s.ready.Load() {
			plain(w, http.StatusOK, "ready\n")
		} else {
			plain(w, http.StatusServiceUnavailable, "shutting down\n")
		}
	case r.URL.Path == "/metrics":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.metrics.Write(w)
	default:
		problem(w, http.StatusNotFound, "not an endpoint of gatehouse forward-auth")
	}
}

// auth answers one auth request.
func (s *Server) auth(w http.ResponseWriter, r *http.Request, conv convention) {
	start := time.Now()
	if !peerTrusted(r.RemoteAddr, s.trusted) {
		problem(w, http.StatusForbidden, "untrusted proxy")
		s.metrics.Observe("untrusted", "", time.Since(start))
		return
	}
	req, detail := rebuild(conv, r)
	if detail != "" {
		problem(w, http.StatusBadRequest, detail)
		s.metrics.Observe("malformed", "", time.Since(start))
		return
	}
	route := s.routeLabel(req)
	before := headerNames(req.Header)
	c := &capture{}
	req = req.WithContext(context.WithValue(req.Context(), captureKey{}, c))
	rec := &recorder{header: http.Header{}}
	s.mw.ServeHTTP(rec, req)
	if c.ran {
		s.allow(w, conv, c.header, before)
		s.metrics.Observe("allow", route, time.Since(start))
		return
	}
	status := s.relay(w, conv, rec)
	s.metrics.Observe(result(status), route, time.Since(start))
}

// allow answers 200 with the identity headers Gatehouse set (every header under its identity
// prefix, and the tenant header in header mode: the plugin deletes every client-sent one), for the
// proxy to copy onto the upstream request. A header Gatehouse did not set is not sent, except to
// Caddy, which gets the usual ones with an empty value.
func (s *Server) allow(w http.ResponseWriter, conv convention, after http.Header, before []string) {
	h := w.Header()
	answered := map[string]bool{}
	for name, v := range after {
		if len(v) > 0 && v[0] != "" && (name == s.names.tenant || strings.HasPrefix(fold(name), s.names.prefix)) {
			h[name] = append([]string(nil), v...)
			answered[strings.ToLower(name)] = true
		}
	}
	if conv == caddy {
		for _, name := range s.answerNames() {
			if !answered[strings.ToLower(name)] {
				h[name] = []string{""}
			}
		}
	}
	if conv == envoy {
		var gone []string
		for _, name := range before {
			if _, kept := after[name]; !kept && !answered[strings.ToLower(name)] {
				gone = append(gone, strings.ToLower(name))
			}
		}
		if len(gone) > 0 {
			sort.Strings(gone)
			h.Set(EnvoyRemoveHeader, strings.Join(gone, ","))
		}
	}
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// answerNames are the headers a 200 answer to Caddy always carries.
func (s *Server) answerNames() []string {
	if s.names.tenant == "" {
		return s.names.identity
	}
	return append(append([]string(nil), s.names.identity...), s.names.tenant)
}

// relay answers with the middleware's own denial and returns its status. A middleware that neither
// called next nor denied (which Gatehouse never does) is answered 500: nothing is let through.
func (s *Server) relay(w http.ResponseWriter, conv convention, rec *recorder) int {
	status := rec.status
	if status < 400 {
		problem(w, http.StatusInternalServerError, "internal error")
		return http.StatusInternalServerError
	}
	h := w.Header()
	for _, name := range []string{"Www-Authenticate", "Content-Type", "Cache-Control", "Retry-After"} {
		if v := rec.header[name]; len(v) > 0 {
			h[name] = v
		}
	}
	body := rec.body.Bytes()
	if conv == original {
		h.Set(ProblemHeader, strings.TrimRight(string(body), "\r\n"))
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return status
}

// routeLabel is the route the request matches, for metrics: the same matcher over the same routes
// as the middleware.
func (s *Server) routeLabel(req *http.Request) string {
	segs, err := matcher.Split(req.URL.EscapedPath())
	if err != nil {
		return "(unsafe path)"
	}
	if r, _ := s.routes.Match(req.Method, segs); r != nil {
		return r.Text
	}
	return "(no route)"
}

func result(status int) string {
	switch status {
	case 401, 403:
		return "deny"
	case 400, 413, 414:
		return "refused"
	case 503:
		return "unavailable"
	}
	return "error"
}

func headerNames(h http.Header) []string {
	out := make([]string, 0, len(h))
	for k := range h {
		out = append(out, k)
	}
	return out
}

// recorder keeps the middleware's denial. Gatehouse writes only denials itself; it never wraps
// or flushes the writer.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// problem writes an RFC 9457 problem of the server's own (not a decision of the middleware).
func problem(w http.ResponseWriter, status int, detail string) {
	body := `{"type":"about:blank","title":` + strconv.Quote(http.StatusText(status)) + `,"status":` + strconv.Itoa(status) +
		`,"detail":` + strconv.Quote(detail) + "}\n"
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

func plain(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text))
}
