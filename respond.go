package gatehouse

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// respond writes a denial: WWW-Authenticate (RFC 6750 §3) on 401/403 and an
// application/problem+json body (RFC 9457) that never echoes the token or the decision's internals.
func (g *Gatehouse) respond(rw http.ResponseWriter, req *http.Request, o *outcome) {
	g.audit(req, o, "deny")
	h := rw.Header()
	switch o.status {
	case 401:
		c := g.challenge
		if o.code != "" {
			c += `, error="` + o.code + `", error_description="` + o.detail + `"`
		}
		h.Set("WWW-Authenticate", c)
	case 403:
		c := g.challenge + `, error="insufficient_scope"`
		if o.permission != "" && o.permission != matcher.Authenticated {
			c += `, scope="` + o.permission + `"`
		}
		h.Set("WWW-Authenticate", c)
	case 503:
		h.Set("Retry-After", "10")
	}
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	body := `{"type":"about:blank","title":` + jsonString(http.StatusText(o.status)) + `,"status":` + strconv.Itoa(o.status) + `,"detail":` + jsonString(o.detail) + "}\n"
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rw.WriteHeader(o.status)
	if req.Method != http.MethodHead {
		_, _ = rw.Write([]byte(body))
	}
}

func (g *Gatehouse) allowAudit(req *http.Request, route *matcher.Route, id *tokens.Identity, org, reason string) {
	if g.auditAllowed {
		g.audit(req, &outcome{status: 200, reason: reason, route: route, id: id, org: org, permission: route.Requirement}, "allow")
	}
}

// Audit field bounds: no field of an audit line exceeds these many bytes (plus the truncation
// marker), whatever the request, so a line is at most a few KiB.
const (
	maxAuditField = 256
	maxAuditPath  = 1024
)

// audit writes one JSON line to stderr: Traefik passes the plugin's raw stderr through at every log
// level, so operators see denials with Traefik's default settings. Subject, issuer and org are those
// of a verified token only. Every field is bounded (bounded).
func (g *Gatehouse) audit(req *http.Request, o *outcome, decision string) {
	r := auditRecord{Time: time.Now().UTC().Format(time.RFC3339Nano), Gatehouse: bounded(g.name, maxAuditField), Decision: decision,
		Status: o.status, Reason: bounded(o.reason, maxAuditPath), Method: bounded(req.Method, maxAuditField),
		Path: bounded(req.URL.EscapedPath(), maxAuditPath), Client: bounded(req.RemoteAddr, maxAuditField)}
	if o.route != nil {
		auditRoute(&r, o)
	}
	if o.id != nil {
		auditIdentity(&r, o)
	}
	line, err := json.Marshal(&r)
	if err != nil {
		return // not for strings and an int; a line is never written half
	}
	_, _ = os.Stderr.Write(append(line, '\n'))
}

// auditRecord is one audit line, in the order of its fields: encoding/json writes it in one
// compiled call, where writing each field through jsonString cost about 800 allocations a line
// under Yaegi. The optional fields are nil when absent (omitted), and "" when present but empty.
type auditRecord struct {
	Time       string  `json:"time"`
	Gatehouse  string  `json:"gatehouse"`
	Decision   string  `json:"decision"`
	Status     int     `json:"status"`
	Reason     string  `json:"reason"`
	Route      *string `json:"route,omitempty"`
	Permission *string `json:"permission,omitempty"`
	Subject    *string `json:"subject,omitempty"`
	Issuer     *string `json:"issuer,omitempty"`
	Org        *string `json:"org,omitempty"`
	Method     string  `json:"method"`
	Path       string  `json:"path"`
	Client     string  `json:"client"`
}

// auditRoute fills the route and the permission it requires (the outcome's, else the route's).
func auditRoute(r *auditRecord, o *outcome) {
	route := bounded(o.route.Text, maxAuditField)
	perm := o.permission
	if perm == "" {
		perm = o.route.Requirement
	}
	perm = bounded(perm, maxAuditField)
	r.Route = &route
	r.Permission = &perm
}

// auditIdentity fills the subject, issuer and org of a verified token (the org the decision was
// made in, else the token's).
func auditIdentity(r *auditRecord, o *outcome) {
	sub := bounded(o.id.Subject, maxAuditField)
	iss := bounded(o.id.Issuer, maxAuditField)
	org := o.org
	if org == "" {
		org = o.id.Org
	}
	org = bounded(org, maxAuditField)
	r.Subject = &sub
	r.Issuer = &iss
	r.Org = &org
}

// bounded cuts s to at most max bytes (at a UTF-8 boundary) and marks the cut visibly with the
// number of bytes left out: "…[+1234 bytes]".
func bounded(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return truncated(s, max)
}

// truncated is bounded's cut, in a function of its own: an audit line bounds ten fields, and
// under Yaegi each call would otherwise reserve this code's slots (19 a call where 4 remain).
func truncated(s string, max int) string {
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…[+" + strconv.Itoa(len(s)-cut) + " bytes]"
}

// refuseOverride answers a request that carries a method or path override (400), or whose form
// body cannot be checked for one (413): Gatehouse decided on the method and path it saw, and a
// backend honouring the override would perform another. It reports whether it answered: in shadow
// mode the refusal is only audited and the request goes on. A plain function: under Yaegi each
// call site of a method holds a slot more, and checkOverrides has five.
func refuseOverride(g *Gatehouse, rw http.ResponseWriter, req *http.Request, status int, reason string) bool {
	o := &outcome{status: status, detail: "method or path override refused", reason: reason}
	if status == 413 {
		o.detail = "form body too large to check"
	}
	if g.shadow {
		g.audit(req, o, "shadow-deny")
		return false
	}
	g.respond(rw, req, o)
	return true
}

func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		return `""`
	}
	return string(b)
}

func panicText(r interface{}) string {
	switch v := r.(type) {
	case string:
		return v
	case error:
		return v.Error()
	}
	return "unknown panic value"
}
