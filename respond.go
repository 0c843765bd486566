package gatehouse

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"time"

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

// audit writes one JSON line to stderr: Traefik passes the plugin's raw stderr through at every log
// level, so operators see denials with Traefik's default settings. Subject and org are those of a
// verified token only.
func (g *Gatehouse) audit(req *http.Request, o *outcome, decision string) {
	line := `{"time":` + jsonString(time.Now().UTC().Format(time.RFC3339Nano)) +
		`,"gatehouse":` + jsonString(g.name) +
		`,"decision":"` + decision + `","status":` + strconv.Itoa(o.status) +
		`,"reason":` + jsonString(o.reason)
	if o.route != nil {
		line += `,"route":` + jsonString(o.route.Text)
		perm := o.permission
		if perm == "" {
			perm = o.route.Requirement
		}
		line += `,"permission":` + jsonString(perm)
	}
	if o.id != nil {
		org := o.org
		if org == "" {
			org = o.id.Org
		}
		line += `,"subject":` + jsonString(o.id.Subject) + `,"org":` + jsonString(org)
	}
	line += `,"method":` + jsonString(req.Method) + `,"path":` + jsonString(req.URL.EscapedPath()) +
		`,"client":` + jsonString(req.RemoteAddr) + "}\n"
	_, _ = os.Stderr.WriteString(line)
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
