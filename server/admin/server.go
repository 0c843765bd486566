// Package admin is the control plane's HTTP server (`gatehouse serve`): the admin API over the
// store (server/store), the bundle and per-subject endpoints gateways poll, and /healthz, /readyz,
// /metrics. docs/control-plane.md is its contract.
//
// The admin API is protected by Gatehouse itself: every request first goes through a middleware
// built by gatehouse.New from the operator's token settings, the admin routes (each with its
// permission, tenant path:org) and, as its policy, the store's own control-plane entries
// (Document with System), rebuilt whenever the store's revision changes. A Server is safe for
// concurrent use; several Servers over one database serve the same answers.
package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/server/store"
)

// DefaultAdminOrg is the admin org when neither the store (bootstrap) nor Options name one.
const DefaultAdminOrg = "gatehouse"

// Options configure a Server.
type Options struct {
	Store *store.Store
	// Config holds the token settings (issuers, keys or jwksURL, audiences, claims, ...), as a
	// gateway's; the options that decide routes and policy are the Server's own (see adminConfig).
	Config *gatehouse.Config
	// AdminOrg is the admin org before bootstrap; once the store has one (Bootstrap), it wins.
	AdminOrg string
	// BundleKey signs bundles and per-subject answers (nil: plain JSON).
	BundleKey *SigningKey
	// Log receives one JSON line per event worth an operator's attention (default os.Stderr).
	Log io.Writer
	// Audit answers POST /v1/audit (server/audit's batch endpoint) once the admin middleware has
	// authorized it (gatehouse:audit:write, in the admin org); nil: the route answers 404.
	Audit http.Handler
	// Routes are added to the admin API (server/ui's decisions and review), authorized by the
	// same middleware (extra.go).
	Routes []Route
}

// Server is the control plane's HTTP handler.
type Server struct {
	store    *store.Store
	base     *gatehouse.Config
	issuers  []string
	adminOrg string
	key      *SigningKey
	log      io.Writer
	mux      *http.ServeMux
	metrics  *Metrics
	ready    atomic.Bool

	gen       atomic.Pointer[generation]
	genMu     sync.Mutex
	failedRev atomic.Int64 // the revision whose admin policy gatehouse.New refused (not retried)

	bundles  bundleCache
	subjects subjectCache
	audit    http.Handler
}

// generation is the admin middleware built for one revision of the store.
type generation struct {
	rev      int64
	adminOrg string
	doc      string // the store's control-plane document it was built from
	mw       http.Handler
	release  context.CancelFunc
}

type revisionKey struct{}

// requestRevision is the store revision the request was authorized at (read once per request).
func requestRevision(r *http.Request) (int64, bool) {
	rev, ok := r.Context().Value(revisionKey{}).(int64)
	return rev, ok
}

type captureKey struct{}

// capture is what the middleware's next handler saw: the request as a backend would receive it.
type capture struct {
	req *http.Request
}

// identity is the verified admin, as the middleware forwards it.
type identity struct {
	Subject, Issuer, Org string
	Permissions          []string
}

// actor is the change log's name for id: "<issuer> <subject>", or the subject alone.
func (id identity) actor() string {
	if id.Issuer == "" {
		return id.Subject
	}
	return id.Issuer + " " + id.Subject
}

func (id identity) holds(perm string) bool {
	for _, p := range id.Permissions {
		if p == perm {
			return true
		}
	}
	return false
}

// New builds the server and its first admin middleware; a configuration gatehouse.New refuses is
// returned as its error.
func New(ctx context.Context, o Options) (*Server, error) {
	if o.Store == nil {
		return nil, fmt.Errorf("admin: no store")
	}
	base, err := adminConfig(o.Config)
	if err != nil {
		return nil, err
	}
	s := &Server{store: o.Store, base: base, issuers: base.Issuers, adminOrg: o.AdminOrg, key: o.BundleKey, log: o.Log, metrics: NewMetrics(), audit: o.Audit}
	if s.adminOrg == "" {
		s.adminOrg = DefaultAdminOrg
	}
	if s.log == nil {
		s.log = os.Stderr
	}
	s.bundles.init()
	s.subjects.init(subjectCacheSize)
	s.mux = http.NewServeMux()
	extra := extraRoutes(o.Routes)
	base.Routes = append(base.Routes, extraMiddlewareRoutes(extra)...)
	for _, rt := range append(allRoutes(), extra...) {
		rt := rt
		s.mux.HandleFunc(rt.method+" "+rt.path, func(w http.ResponseWriter, r *http.Request) { s.authorized(w, r, rt) })
	}
	rev, err := s.store.Revision(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.rebuild(ctx, rev); err != nil {
		return nil, err
	}
	s.ready.Store(true)
	return s, nil
}

// Close releases the middleware's shared key sets.
func (s *Server) Close() {
	if g := s.gen.Swap(nil); g != nil {
		g.release()
	}
}

// SetReady switches /readyz to 503 (while shutting down) or back.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// Metrics returns the server's metrics.
func (s *Server) Metrics() *Metrics { return s.metrics }

// ServeHTTP answers /healthz, /readyz and /metrics itself and every other path through the
// route table (404 and 405 as problems).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	label := s.serve(sw, r)
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	s.metrics.Request(label, sw.status, time.Since(start))
}

func (s *Server) serve(w *statusWriter, r *http.Request) string {
	switch r.URL.Path {
	case "/healthz":
		plain(w, http.StatusOK, "ok\n")
		return "/healthz"
	case "/readyz":
		s.readyz(w, r)
		return "/readyz"
	case "/metrics":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s.metrics.Write(w)
		return "/metrics"
	}
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r) // sets the path values (Handler does not)
		return pattern
	}
	s.noRoute(w, r)
	return "(no route)"
}

// noRoute answers 405 with Allow when the path has routes of other methods, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		writeProblem(w, problem(http.StatusNotFound, "", "no such route of the admin API"))
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeProblem(w, problem(http.StatusMethodNotAllowed, "", r.Method+" is not a method of this route (Allow: "+strings.Join(allow, ", ")+")"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		plain(w, http.StatusServiceUnavailable, "shutting down\n")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		plain(w, http.StatusServiceUnavailable, "database unreachable\n")
		return
	}
	plain(w, http.StatusOK, "ready\n")
}

// authorized runs r through the admin middleware for rt and, when it allows, rt's handler with
// the verified identity. Org routes a token of another org is refused are tried once more as
// their platform twin: a platform admin (the admin org's) manages every org.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, rt route) {
	g, rev, p := s.current(r.Context())
	if p != nil {
		s.storeError(p)
		writeProblem(w, p)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), revisionKey{}, rev))
	rec, c := run(g.mw, r, r.URL.Path, r.URL.RawPath)
	if c != nil {
		id := identityOf(c.req)
		if rt.where == adminOrg && id.Org != g.adminOrg {
			w.Header().Set("WWW-Authenticate", s.challenge(rt.perm))
			writeProblem(w, problem(http.StatusForbidden, "", "this route is decided in the admin org "+strconv.Quote(g.adminOrg)+"; the token's org is "+strconv.Quote(id.Org)))
			return
		}
		s.handle(w, r, rt, id)
		return
	}
	if rt.where == inOrg && rec.status == http.StatusForbidden {
		raw := ""
		if r.URL.RawPath != "" {
			raw = platformPrefix + r.URL.RawPath
		}
		_, c2 := run(g.mw, r, platformPrefix+r.URL.Path, raw)
		if c2 != nil {
			if id := identityOf(c2.req); id.Org == g.adminOrg {
				s.handle(w, r, rt, id)
				return
			}
		}
	}
	rec.relay(w)
}

// challenge is the WWW-Authenticate of a 403 (RFC 6750 Section 3), as the middleware writes it.
func (s *Server) challenge(perm string) string {
	realm := strings.TrimSpace(s.base.Realm)
	if realm == "" {
		realm = "gatehouse"
	}
	return `Bearer realm=` + strconv.Quote(realm) + `, error="insufficient_scope", scope="` + perm + `"`
}

// handle runs rt's handler for the authorized request, after refusing query parameters it
// does not take.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, rt route, id identity) {
	if _, p := queryOnly(r, rt.query...); p != nil {
		writeProblem(w, p)
		return
	}
	rt.handle(s, w, r, id)
}

// run passes a copy of r, with path (and raw path), through mw: it returns the middleware's
// answer, and the request it forwarded when it allowed.
func run(mw http.Handler, r *http.Request, path, raw string) (*recorder, *capture) {
	c := &capture{}
	req := r.Clone(context.WithValue(r.Context(), captureKey{}, c))
	req.URL.Path, req.URL.RawPath = path, raw
	req.RequestURI = req.URL.RequestURI()
	req.Body = r.Body
	rec := &recorder{header: http.Header{}}
	mw.ServeHTTP(rec, req)
	if c.req == nil {
		return rec, nil
	}
	return rec, c
}

func identityOf(r *http.Request) identity {
	h := r.Header
	id := identity{Subject: h.Get(identitySubjectHeader), Issuer: h.Get(identityIssuerHeader), Org: h.Get(identityOrgHeader)}
	if v := h.Get(identityPermsHeader); v != "" {
		for _, p := range strings.Split(v, ",") {
			id.Permissions = append(id.Permissions, strings.TrimSpace(p))
		}
	}
	return id
}

// current returns the admin middleware of the store's revision, and that revision, rebuilding
// the middleware when the revision moved (one database round trip per request: several replicas
// agree within a request).
func (s *Server) current(ctx context.Context) (*generation, int64, *Problem) {
	rev, err := s.store.Revision(ctx)
	if err != nil {
		return nil, 0, fromError(err)
	}
	if g := s.gen.Load(); g != nil && (g.rev >= rev || rev == s.failedRev.Load()) {
		return g, rev, nil
	}
	g, err := s.rebuild(ctx, rev)
	if err != nil {
		if old := s.gen.Load(); old != nil {
			return old, rev, nil // keep the last good policy (the refusal was logged)
		}
		return nil, 0, fromError(err)
	}
	return g, rev, nil
}

// rebuild builds the admin middleware for the store's current control-plane entries. A revision
// that left them as they were (most changes: the gateways' policy) keeps the middleware.
func (s *Server) rebuild(ctx context.Context, rev int64) (*generation, error) {
	s.genMu.Lock()
	defer s.genMu.Unlock()
	old := s.gen.Load()
	if old != nil && old.rev >= rev {
		return old, nil
	}
	doc, docRev, err := s.store.Document(ctx, store.DocumentOptions{System: true})
	if err != nil {
		return nil, err
	}
	org, err := s.store.AdminOrg(ctx)
	if err != nil {
		return nil, err
	}
	if org == "" {
		org = s.adminOrg
	}
	if old != nil && old.doc == string(doc) && old.adminOrg == org {
		g := *old
		g.rev = docRev
		s.gen.Store(&g)
		return &g, nil
	}
	pol, dropped, err := adminPolicy(doc, s.issuers)
	if err != nil {
		return nil, err
	}
	if dropped > 0 {
		s.logf(`{"gatehouse":"admin","revision":%d,"warning":%q}`, docRev, strconv.Itoa(dropped)+" control-plane assignments name no trusted issuer (or none while several are trusted) and grant nothing")
	}
	cfg := *s.base
	cfg.Policy = pol
	genCtx, release := context.WithCancel(context.Background())
	mw, err := gatehouse.New(genCtx, http.HandlerFunc(forward), &cfg, "gatehouse-admin")
	if err != nil {
		release()
		s.failedRev.Store(rev)
		s.logf(`{"gatehouse":"admin","revision":%d,"error":%q}`, docRev, "the admin policy was refused; the previous one stays: "+err.Error())
		return nil, err
	}
	g := &generation{rev: docRev, adminOrg: org, doc: string(doc), mw: mw, release: release}
	s.gen.Store(g)
	if old != nil {
		old.release()
	}
	return g, nil
}

// forward is the middleware's next handler: it records the request it was handed.
func forward(_ http.ResponseWriter, r *http.Request) {
	if c, ok := r.Context().Value(captureKey{}).(*capture); ok {
		c.req = r
	}
}

func (s *Server) logf(format string, args ...interface{}) {
	fmt.Fprintf(s.log, format+"\n", args...)
}

// storeError counts a store failure for /metrics.
func (s *Server) storeError(p *Problem) {
	if p.Status >= 500 {
		s.metrics.StoreError(p.Status)
	}
}

// fail answers err as a problem (logging a 500's cause).
func (s *Server) fail(w http.ResponseWriter, err error) {
	p := fromError(err)
	if p.Status == http.StatusInternalServerError {
		s.logf(`{"gatehouse":"admin","error":%q}`, err.Error())
	}
	s.storeError(p)
	writeProblem(w, p)
}

// adminPolicy turns the store's control-plane document into the admin middleware's policy. Each
// role gets a name no token can carry (a double quote, which the tokens package refuses in every
// role claim), so only the store's assignments grant admin permissions: roles, org roles and
// assignments in tokens name no role of this policy. Assignments gatehouse.New would refuse for
// the trusted issuers (none named while several are trusted; an issuer not trusted) are left out
// and counted: they grant nothing, as in a gateway's policy file.
func adminPolicy(doc []byte, issuers []string) (string, int, error) {
	var d struct {
		Permissions []string                 `json:"permissions"`
		Roles       map[string][]string      `json:"roles"`
		Assignments []map[string]interface{} `json:"assignments"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return "", 0, fmt.Errorf("the store's control-plane document: %v", err)
	}
	roles := make(map[string][]string, len(d.Roles))
	for name, perms := range d.Roles {
		roles[storeRole(name)] = perms
	}
	var kept []map[string]interface{}
	dropped := 0
	for _, a := range d.Assignments {
		iss, _ := a["issuer"].(string)
		if !issuerAccepted(iss, issuers) {
			dropped++
			continue
		}
		if role, ok := a["role"].(string); ok {
			a["role"] = storeRole(role)
		}
		kept = append(kept, a)
	}
	if kept == nil {
		kept = []map[string]interface{}{}
	}
	out, err := json.Marshal(map[string]interface{}{"permissions": d.Permissions, "roles": roles, "assignments": kept})
	return string(out), dropped, err
}

// storeRole is the admin policy's name for a control-plane role.
func storeRole(name string) string { return name + `"store` }

func issuerAccepted(iss string, issuers []string) bool {
	switch {
	case len(issuers) > 1 && iss == "":
		return false
	case iss == "" || len(issuers) == 0:
		return true
	}
	for _, t := range issuers {
		if t == iss {
			return true
		}
	}
	return false
}

// recorder keeps the middleware's denial.
type recorder struct {
	status int
	header http.Header
	body   []byte
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body = append(r.body, b...)
	return len(b), nil
}

// relay answers with the middleware's denial. A middleware that neither allowed nor denied
// (Gatehouse never does that) is answered 500: nothing is let through.
func (r *recorder) relay(w http.ResponseWriter) {
	if r.status < 400 {
		writeProblem(w, problem(http.StatusInternalServerError, "", "internal error"))
		return
	}
	for k, v := range r.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(r.body)))
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
}

// statusWriter records the status for metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
	w.ResponseWriter.WriteHeader(s)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func plain(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
