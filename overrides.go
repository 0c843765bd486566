package gatehouse

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/matcher"
)

// Method and path overrides. Many frameworks let a request say it is another one: a header
// (X-HTTP-Method-Override: DELETE, X-Original-URL: /admin), or a "_method" parameter in the query or
// in a POST form body (Rails, Laravel, Symfony, ASP.NET Core). Gatehouse authorizes the method and
// path it sees, so by default (overrides: refuse) a request carrying an override in any spelling is
// answered 400 and never forwarded. With overrides: authorize, the request must be allowed both as
// sent and as overridden; it is then forwarded with the identity of the overridden decision (what
// the backend performs).

// maxFormBytes bounds the POST form body read to look for "_method" (application/x-www-form-urlencoded
// only; the body is buffered and handed on unchanged). A larger form body is refused with 413.
const maxFormBytes = 256 << 10

// override is what a request asks the backend to perform instead of what it says.
type override struct {
	method string // upper-cased; "" when not overridden
	target string // origin-form request target; "" when not overridden
	header string // a header that carried it, for the audit line
	bad    string // why the override cannot be read (conflicting or malformed): refused
}

// overrideHeader is the kind of each canonical override header: a method or a target.
var overrideHeader = map[string]string{
	"X-Http-Method-Override": "method", "X-Http-Method": "method", "X-Method-Override": "method", "X-Original-Method": "method",
	"X-Original-Url": "target", "X-Original-Uri": "target", "X-Rewrite-Url": "target",
}

// canonicalOverride keeps an override header that a Go backend reads under its canonical name
// (moving its values there, as the wire and the backend's parser will) and deletes every other
// spelling: authorize mode decides on what the canonical headers say.
func canonicalOverride(h http.Header, name string) {
	c := textproto.CanonicalMIMEHeaderKey(name)
	if c == name {
		return
	}
	if overrideHeader[c] != "" {
		h[c] = append(h[c], h[name]...)
	}
	delete(h, name)
}

// methodParam returns the "_method" parameters of a query or form body in any spelling or escape,
// and false if the text cannot be parsed the way a backend would (refused rather than guessed).
func methodParam(raw string) ([]string, bool) {
	// Most queries hold neither an escape nor the name (queryMayOverride), and the parse is a
	// function of its own, so that under Yaegi this frame stays small.
	if queryMayOverride(raw) {
		return parseMethodParam(raw)
	}
	return nil, true
}

// queryMayOverride reports whether a raw query may hold the _method parameter: it holds an
// escape or the name in any case. A query that does not is nothing to the override rule.
func queryMayOverride(raw string) bool {
	// One if per test, not ||: under Yaegi each || is a slot more.
	if strings.IndexByte(raw, '%') >= 0 {
		return true
	}
	return strings.Contains(strings.ToLower(raw), "_method")
}

// parseMethodParam is methodParam's parse of a text that may hold "_method".
func parseMethodParam(raw string) ([]string, bool) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return nil, false
	}
	var out []string
	for k, v := range q {
		if strings.EqualFold(k, "_method") {
			out = append(out, v...)
		}
	}
	return out, true
}

// formBody reports whether a request's Content-Type may make its body a form that formOverride must
// read: an application/x-www-form-urlencoded one, or several Content-Type lines (ambiguous).
func formBody(ct []string) bool {
	if len(ct) != 1 {
		return len(ct) > 1
	}
	v := strings.TrimLeft(ct[0], " \t")
	if len(v) < formLen {
		return false
	}
	return strings.EqualFold(v[:formLen], formType)
}

// The media type formBody looks for, and its length (package constants: under Yaegi a local
// constant and its len each take a frame slot).
const (
	formType = "application/x-www-form-urlencoded"
	formLen  = len(formType)
)

// formOverride reads a POST form body (bounded) for "_method" and puts the body back. It returns the
// values found and a status (413 too large, 400 unreadable) when the body cannot be checked.
func formOverride(req *http.Request) ([]string, int) {
	// Most requests that get here are not POSTs (a query): the rest in a function of its own, so
	// that under Yaegi they reserve none of its frame.
	if req.Method != methodPost {
		return nil, 0
	}
	return readFormOverride(req)
}

// readFormOverride is formOverride for a POST.
func readFormOverride(req *http.Request) ([]string, int) {
	ct := req.Header["Content-Type"]
	if len(ct) == 0 || req.Body == nil || req.Body == http.NoBody {
		return nil, 0
	}
	mt, _, err := mime.ParseMediaType(ct[0])
	if err != nil || len(ct) > 1 {
		return nil, 400
	}
	if mt != "application/x-www-form-urlencoded" {
		return nil, 0
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxFormBytes+1))
	if err != nil {
		return nil, 400
	}
	if len(body) > maxFormBytes {
		return nil, 413
	}
	_ = req.Body.Close()
	req.Body = io.NopCloser(bytes.NewReader(body))
	vals, ok := methodParam(string(body))
	if !ok {
		return nil, 400
	}
	return vals, 0
}

// readOverride collects a request's overrides: the canonical override headers it still carries
// (every other spelling was deleted in authorize mode), "_method" in the query and in a form body.
func readOverride(req *http.Request) (*override, int) {
	o := &override{}
	for name, kind := range overrideHeader {
		v := req.Header[name]
		if len(v) == 0 {
			continue
		}
		o.header = name
		for _, s := range v {
			o.set(kind, strings.TrimSpace(s))
		}
	}
	if req.URL.RawQuery != "" {
		vals, ok := methodParam(req.URL.RawQuery)
		if !ok {
			o.bad = "unreadable query"
		}
		for _, s := range vals {
			o.set("method", s)
		}
	}
	vals, status := formOverride(req)
	if status != 0 {
		return nil, status
	}
	for _, s := range vals {
		o.set("method", s)
	}
	if o.method == "" && o.target == "" && o.bad == "" {
		return nil, 0
	}
	return o, 0
}

func (o *override) set(kind, v string) {
	if kind == "method" {
		m := strings.ToUpper(v)
		switch {
		case m == "" || !validHeaderName(m): // a method is an RFC 9110 token, like a header name
			o.bad = "malformed method override"
		case o.method != "" && o.method != m:
			o.bad = "conflicting method overrides"
		}
		o.method = m
		return
	}
	switch {
	case v == "" || v[0] != '/':
		o.bad = "a path override must be an origin-form target such as /orgs/acme"
	case o.target != "" && o.target != v:
		o.bad = "conflicting path overrides"
	}
	o.target = v
}

// checkOverrides applies the override rule to a request whose identity headers are already
// stripped. sawHeader names an override header in any spelling (or ""). It reports whether the
// request was answered (refused, or authorized as overridden and forwarded by the caller: see
// the returned bool pair). A plain function (under Yaegi a method call costs about 20 allocations
// more): every request with a query or a form body makes this call.
func checkOverrides(g *Gatehouse, rw http.ResponseWriter, req *http.Request, sawHeader string) (answered, decided bool) {
	if g.overridesAuthorize {
		return checkAuthorizedOverrides(g, rw, req)
	}
	if sawHeader != "" {
		return refuseOverride(g, rw, req, 400, "the request carries the override header "+sawHeader), false
	}
	if req.URL.RawQuery != "" {
		vals, ok := methodParam(req.URL.RawQuery)
		// One if per case, not ||: under Yaegi a || is a slot more.
		if !ok {
			return refuseOverride(g, rw, req, 400, "the query carries a _method override"), false
		}
		if len(vals) > 0 {
			return refuseOverride(g, rw, req, 400, "the query carries a _method override"), false
		}
	}
	if req.Method != methodPost {
		return false, false // formOverride's first test, without its call
	}
	vals, status := readFormOverride(req)
	if status != 0 {
		return refuseOverride(g, rw, req, status, "the form body cannot be checked for _method"), false
	}
	if len(vals) > 0 {
		return refuseOverride(g, rw, req, 400, "the form body carries a _method override"), false
	}
	return false, false
}

// checkAuthorizedOverrides is checkOverrides under overrides: authorize (a function of its own:
// the default mode reserves none of its frame).
func checkAuthorizedOverrides(g *Gatehouse, rw http.ResponseWriter, req *http.Request) (answered, decided bool) {
	o, status := readOverride(req)
	if status != 0 {
		return refuseOverride(g, rw, req, status, "the form body cannot be checked for _method"), false
	}
	if o == nil {
		return false, false
	}
	if o.bad != "" {
		return refuseOverride(g, rw, req, 400, o.bad), false
	}
	return !g.authorizeOverride(rw, req, o), true
}

// authorizeOverride decides the request as overridden, then as sent; both must allow. The request
// goes on (true) with the identity of the overridden decision, which is what the backend performs.
func (g *Gatehouse) authorizeOverride(rw http.ResponseWriter, req *http.Request, o *override) bool {
	as := req.Clone(req.Context())
	if o.method != "" {
		as.Method = o.method
	}
	if o.target != "" {
		u, err := url.ParseRequestURI(o.target)
		if err != nil || u.Host != "" || u.Scheme != "" {
			return !refuseOverride(g, rw, req, 400, "a path override must be an origin-form target such as /orgs/acme")
		}
		as.URL = u
		if _, err := matcher.Split(u.EscapedPath()); err != nil {
			return !refuseOverride(g, rw, req, 400, "the path override could be read differently by the backend")
		}
	}
	if !authorize(g, rw, as) {
		return false
	}
	if !authorize(g, rw, req) {
		return false
	}
	for _, name := range g.identityHeaders() {
		if v, ok := as.Header[name]; ok {
			req.Header[name] = v
		} else {
			delete(req.Header, name)
		}
	}
	return true
}

// identityHeaders are the headers forward sets: what the overridden decision hands to the backend.
func (g *Gatehouse) identityHeaders() []string {
	names := []string{g.hSubject, g.hIssuer, g.hOrg, g.hRoles, g.hPermissions, g.hAssertion}
	if g.tenantHeader != "" {
		names = append(names, g.tenantHeader)
	}
	return names
}
