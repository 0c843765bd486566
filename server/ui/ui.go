// Package ui is the control plane's admin web UI, served by gatehouse serve under /ui/: the role
// matrix, subjects and their assignments per org, "what can this subject do" and "who can do
// this", the decision table with its chart, the change log and the latest access review
// (docs/ui.md).
//
// People sign in through the trusted issuer with OpenID Connect (authorization code with PKCE,
// oidc.go). The UI holds their access token in a server-side session, and every read and write it
// makes is an in-process request to the admin API's handler with that token: the admin API's
// middleware decides everything, so the UI can never show or change what the API would refuse.
// The decisions, their summary and the latest review are admin routes too (api.go, added to the
// admin API through admin.Options.Routes).
//
// Pages are rendered on the server (html/template, templates and CSS embedded), with no
// JavaScript; forms that change something carry a per-session CSRF token and are checked against
// the request's Origin.
package ui

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Prefix is where the UI is served.
const Prefix = "/ui/"

// Options configure the UI.
type Options struct {
	// API is the admin API (server/admin's Server, with Routes(...) among its Options.Routes).
	API http.Handler
	// Issuer is the OpenID Connect issuer people sign in with: its iss, one of Config's issuers.
	Issuer string
	// IssuerURL is where this server reaches the issuer (discovery, token endpoint, JWKS), when
	// that is not Issuer (e.g. http://issuer:9000 resolves only inside a compose network): URLs of
	// the discovery document under Issuer are fetched under IssuerURL. "" is Issuer.
	IssuerURL string
	// ClientID is the UI's client at the issuer (a public client: PKCE, no secret).
	ClientID string
	// RedirectURL is the UI's callback as the browser reaches it, e.g.
	// https://gatehouse.example/ui/callback; its scheme decides Secure and __Host- cookies.
	RedirectURL string
	// Config holds the token settings (leeway, algorithms); may be nil.
	Config *gatehouse.Config
	// HTTPClient reaches the issuer (default: 10 s timeout).
	HTTPClient *http.Client
	// Log receives one JSON line per error worth an operator's attention (default os.Stderr).
	Log io.Writer
	// Now is the clock (tests); time.Now when nil.
	Now func() time.Time
}

// UI is the web UI's handler. It is safe for concurrent use.
type UI struct {
	o        Options
	secure   bool
	origin   string // scheme://host of RedirectURL: the Origin accepted on forms
	cookie   string
	pages    map[string]*template.Template
	static   http.Handler
	mux      *http.ServeMux
	oidc     *provider
	sessions sessions
}

// New builds the UI; it fetches nothing yet (the issuer's discovery document is read at the first
// sign-in, and again after a failure).
func New(o Options) (*UI, error) {
	if o.API == nil {
		return nil, errors.New("ui: no admin API")
	}
	if o.Issuer == "" || o.ClientID == "" || o.RedirectURL == "" {
		return nil, errors.New("ui: --ui-issuer, --ui-client-id and --ui-redirect are all required")
	}
	ru, err := url.Parse(o.RedirectURL)
	if err != nil || (ru.Scheme != "https" && ru.Scheme != "http") || ru.Host == "" || ru.User != nil || ru.Fragment != "" {
		return nil, fmt.Errorf("ui: --ui-redirect %q must be an absolute http(s) URL", o.RedirectURL)
	}
	if ru.Path != Prefix+"callback" {
		return nil, fmt.Errorf("ui: --ui-redirect %q must end in %scallback (where the UI answers)", o.RedirectURL, Prefix)
	}
	if ru.Scheme == "http" && !loopback(ru.Hostname()) {
		return nil, fmt.Errorf("ui: --ui-redirect %q: plain http only to a loopback host (the session cookie would cross the network readable)", o.RedirectURL)
	}
	if o.IssuerURL == "" {
		o.IssuerURL = o.Issuer
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	u := &UI{o: o, secure: ru.Scheme == "https", origin: ru.Scheme + "://" + ru.Host, cookie: "gatehouse-ui"}
	if u.secure {
		u.cookie = "__Host-gatehouse-ui"
	}
	u.sessions.init()
	if u.pages, err = parsePages(); err != nil {
		return nil, err
	}
	sub, _ := fs.Sub(assets, "static")
	u.static = http.StripPrefix(Prefix+"static/", http.FileServer(http.FS(sub)))
	u.oidc = newProvider(o)
	u.routes()
	return u, nil
}

// Close releases what the UI holds beyond its own memory: the handle on the issuer's key set.
// Call it once the server stops answering.
func (u *UI) Close() { u.oidc.close() }

func loopback(host string) bool {
	return host == "localhost" || host == "::1" || strings.HasPrefix(host, "127.")
}

// ServeHTTP answers /ui/...: a panic becomes the generic error page (the stack goes to the log).
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			u.logf("panic serving %s %s: %v\n%s", r.Method, r.URL.Path, v, debug.Stack())
			u.renderError(w, r, nil, http.StatusInternalServerError, "Something went wrong on the control plane", "The request could not be completed. Nothing was changed by this page; try again, and tell the operator if it keeps happening (the details are in the control plane's log).")
		}
	}()
	u.mux.ServeHTTP(w, r)
}

func (u *UI) logf(format string, args ...interface{}) {
	b, _ := json.Marshal(map[string]string{"gatehouse": "ui", "error": fmt.Sprintf(format, args...)})
	fmt.Fprintf(u.o.Log, "%s\n", b)
}

// page is a handler that needs a signed-in session.
type page func(w http.ResponseWriter, r *http.Request, s *session)

func (u *UI) routes() {
	m := http.NewServeMux()
	m.Handle("GET "+Prefix+"static/", u.static)
	m.HandleFunc("GET "+Prefix+"login", u.login)
	m.HandleFunc("GET "+Prefix+"callback", u.callback)
	m.HandleFunc("GET "+Prefix+"signed-out", u.signedOut)
	m.HandleFunc("POST "+Prefix+"logout", u.form(u.logout))
	m.HandleFunc("GET "+Prefix+"{$}", u.signedIn(u.dashboard))
	m.HandleFunc("GET "+Prefix+"roles", u.signedIn(u.rolesPage))
	m.HandleFunc("POST "+Prefix+"roles/{name}/review", u.form(u.roleReview))
	m.HandleFunc("POST "+Prefix+"roles/{name}/save", u.form(u.roleSave))
	m.HandleFunc("GET "+Prefix+"subjects", u.signedIn(u.subjectsPage))
	m.HandleFunc("POST "+Prefix+"assignments/add", u.form(u.assignmentAdd))
	m.HandleFunc("POST "+Prefix+"assignments/remove", u.form(u.assignmentRemove))
	m.HandleFunc("GET "+Prefix+"can", u.signedIn(u.canPage))
	m.HandleFunc("GET "+Prefix+"whocan", u.signedIn(u.whoCanPage))
	m.HandleFunc("GET "+Prefix+"decisions", u.signedIn(u.decisionsPage))
	m.HandleFunc("GET "+Prefix+"changes", u.signedIn(u.changesPage))
	m.HandleFunc("GET "+Prefix+"review", u.signedIn(u.reviewPage))
	m.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		u.renderError(w, r, u.sessions.get(u.cookieValue(r), u.o.Now()), http.StatusNotFound, "No such page", "The UI has no page at "+r.URL.Path+".")
	})
	u.mux = m
}

// signedIn runs p with the request's session, or sends the browser to sign in first.
func (u *UI) signedIn(p page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := u.sessions.get(u.cookieValue(r), u.o.Now())
		if s == nil || s.token == "" {
			http.Redirect(w, r, Prefix+"login?back="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		p(w, r, s)
	}
}

// form is signedIn for state-changing forms: the Origin (when the browser sends one) must be
// the UI's, and the form's csrf field the session's token.
func (u *UI) form(p page) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := u.sessions.get(u.cookieValue(r), u.o.Now())
		if origin := r.Header.Get("Origin"); origin != "" && origin != u.origin {
			u.renderError(w, r, s, http.StatusForbidden, "Refused: this form was sent from another site", "The request came from "+origin+", not from "+u.origin+". Nothing was changed.")
			return
		}
		if s == nil || s.token == "" {
			u.renderError(w, r, nil, http.StatusUnauthorized, "You are not signed in", "Your session has ended, so nothing was changed. Sign in and try again.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			u.renderError(w, r, s, http.StatusBadRequest, "The form could not be read", "Nothing was changed: "+err.Error())
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(s.csrf)) != 1 {
			u.renderError(w, r, s, http.StatusForbidden, "Refused: the form's security token is missing or stale", "Nothing was changed. Reload the page and send the form again.")
			return
		}
		p(w, r, s)
	}
}

func (u *UI) cookieValue(r *http.Request) string {
	c, err := r.Cookie(u.cookie)
	if err != nil {
		return ""
	}
	return c.Value
}

func (u *UI) setCookie(w http.ResponseWriter, id string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: u.cookie, Value: id, Path: "/", HttpOnly: true, Secure: u.secure, SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}

// session is one browser's: before sign-in it holds the pending login (state, nonce, PKCE
// verifier), after it the identity and the access token.
type session struct {
	id, csrf               string
	sub, iss, org          string
	token                  string
	expires                time.Time
	state, nonce, verifier string
	back                   string
}

// sessions are kept in memory (a restart signs everyone out; each replica has its own: put the
// UI behind sticky sessions when there are several).
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
}

// maxSessions bounds the sessions kept (when full: pending sign-ins first, then the ones closest to
// expiring).
var maxSessions = 10000

func (ss *sessions) init() { ss.byID = map[string]*session{} }

func (ss *sessions) get(id string, now time.Time) *session {
	if id == "" {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byID[id]
	if s == nil {
		return nil
	}
	if now.After(s.expires) {
		delete(ss.byID, id)
		return nil
	}
	c := *s
	return &c
}

func (ss *sessions) put(s *session, now time.Time) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.byID) >= maxSessions {
		for id, o := range ss.byID {
			if now.After(o.expires) {
				delete(ss.byID, id)
			}
		}
		for len(ss.byID) >= maxSessions {
			// Pending sign-ins go first (a flood of /ui/login evicts no signed-in session), then
			// the session closest to expiring.
			var oldest *session
			for _, o := range ss.byID {
				if oldest == nil || (o.token == "") != (oldest.token == "") && o.token == "" ||
					(o.token == "") == (oldest.token == "") && o.expires.Before(oldest.expires) {
					oldest = o
				}
			}
			delete(ss.byID, oldest.id)
		}
	}
	c := *s
	ss.byID[s.id] = &c
}

func (ss *sessions) drop(id string) {
	ss.mu.Lock()
	delete(ss.byID, id)
	ss.mu.Unlock()
}

// random is n random bytes, base64url.
func random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("ui: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// apiAnswer is the admin API's answer to one in-process request.
type apiAnswer struct {
	status int
	header http.Header
	body   []byte
}

// problem is an RFC 9457 problem of the API.
type problem struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Field  string `json:"field"`
}

// apiError is a refused API call, shown to the person as the API's detail.
type apiError struct {
	status int
	p      problem
}

func (e *apiError) Error() string { return e.p.Detail }

type recorder struct {
	status int
	header http.Header
	body   bytes.Buffer
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
	return r.body.Write(b)
}

// call makes one request to the admin API as the session's user. A status of 400 or more is an
// *apiError carrying the API's problem.
func (u *UI) call(ctx context.Context, r *http.Request, s *session, method, path string, body interface{}, ifMatch int64, out interface{}) (*apiAnswer, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://gatehouse.internal"+path, rd)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = r.RemoteAddr
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch > 0 {
		req.Header.Set("If-Match", `"`+strconv.FormatInt(ifMatch, 10)+`"`)
	}
	rec := &recorder{header: http.Header{}}
	u.o.API.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	a := &apiAnswer{status: rec.status, header: rec.header, body: rec.body.Bytes()}
	if a.status >= 400 {
		e := &apiError{status: a.status}
		if json.Unmarshal(a.body, &e.p) != nil || e.p.Detail == "" || e.p.Detail == strings.ToLower(http.StatusText(a.status)) {
			e.p.Detail = http.StatusText(a.status)
		}
		if a.status == http.StatusForbidden {
			// The UI's own words: an admin-org route's refusal names the admin org, which an org's
			// admin is not told here.
			who := s.sub
			if s.org != "" {
				who += " (org " + s.org + ")"
			}
			e.p.Detail = "The control plane refused this request for " + who + "."
			if perm := scopeOf(a.header.Get("WWW-Authenticate")); perm != "" {
				e.p.Detail = "The control plane does not give " + who + " the permission " + perm + " where this is decided (the org asked for, or for platform-wide pages the admin org)."
			}
		}
		return a, e
	}
	if out != nil && len(a.body) > 0 {
		if err := json.Unmarshal(a.body, out); err != nil {
			return a, fmt.Errorf("the admin API's answer to %s %s does not decode: %v", method, path, err)
		}
	}
	return a, nil
}

// scopeOf is the scope of a Bearer insufficient_scope challenge (RFC 6750 Section 3).
func scopeOf(challenge string) string {
	_, after, ok := strings.Cut(challenge, `scope="`)
	if !ok {
		return ""
	}
	scope, _, _ := strings.Cut(after, `"`)
	return scope
}

// --- rendering

var funcs = template.FuncMap{
	"join": strings.Join,
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"has": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
	"q": url.QueryEscape,
	"p": url.PathEscape,
	"json": func(raw json.RawMessage) string {
		if len(raw) == 0 {
			return ""
		}
		var b bytes.Buffer
		if json.Indent(&b, raw, "", "  ") != nil {
			return string(raw)
		}
		return b.String()
	},
	"add": func(a, b int) int { return a + b },
}

func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/_*.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(assets, n)
		if err != nil {
			return nil, err
		}
		pages[name] = t
	}
	return pages, nil
}

// view is what every page's template gets.
type view struct {
	Title   string
	Nav     string
	User    *session
	Me      *me // the signed-in user, as templates see them
	CSRF    string
	Org     string
	Notice  string // a success message
	Problem *shown // an error shown above the page's content
	Data    interface{}
}

type me struct{ Sub, Org, Issuer string }

// shown is an error as the page shows it.
type shown struct {
	Title, Detail, Field string
	Status               int
}

func (u *UI) render(w http.ResponseWriter, status int, name string, v view) {
	if v.User != nil {
		v.CSRF = v.User.csrf
		v.Me = &me{Sub: v.User.sub, Org: v.User.org, Issuer: v.User.iss}
	}
	var b bytes.Buffer
	if err := u.pages[name].ExecuteTemplate(&b, "layout.html", v); err != nil {
		panic(fmt.Sprintf("template %s: %v", name, err))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

func (u *UI) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, title, detail string) {
	u.render(w, status, "error", view{Title: title, User: s, Org: errorOrg(r, s), Problem: &shown{Title: title, Detail: detail, Status: status}})
}

// errorOrg is the org an error page's links keep.
func errorOrg(r *http.Request, s *session) string {
	if s == nil {
		return ""
	}
	if v := r.URL.Query().Get("org"); v != "" {
		return v
	}
	if v := r.PostFormValue("org"); r.Method == http.MethodPost && v != "" {
		return v
	}
	return s.org
}

// fail shows an API refusal (or another error) as the page's answer.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		u.render(w, ae.status, "error", view{Title: titleFor(ae.status), User: s, Org: errorOrg(r, s), Problem: describe(ae)})
		return
	}
	u.logf("%s %s: %v", r.Method, r.URL.Path, err)
	u.renderError(w, r, s, http.StatusBadGateway, "The control plane could not answer", err.Error())
}

func describe(ae *apiError) *shown {
	return &shown{Title: titleFor(ae.status), Detail: ae.p.Detail, Field: ae.p.Field, Status: ae.status}
}

func titleFor(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "Your sign-in is no longer valid"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusNotFound:
		return "Not found"
	case http.StatusConflict:
		return "Refused: it is still in use or exists already"
	case http.StatusPreconditionFailed:
		return "Someone else changed it first"
	case http.StatusUnprocessableEntity, http.StatusBadRequest:
		return "Refused: the input is not valid"
	case http.StatusServiceUnavailable:
		return "The database is unreachable"
	}
	return "The request was refused"
}

// sorted returns the keys of m, sorted.
func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
