package gatehouse

import (
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"testing"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// TestTheAuditLineKeepsItsFormat: the audit line, written by encoding/json from one record, has
// the fields, order, escaping and optional members it had when each field was written by hand
// (server/audit parses it and hashes it for its dedup id): route and permission only with a
// route, subject, issuer and org only with a verified token, an empty issuer kept as "".
func TestTheAuditLineKeepsItsFormat(t *testing.T) {
	g := &Gatehouse{name: "edge<1>"}
	req := httptest.NewRequest("DELETE", "/orgs/acme/a%20b", nil)
	req.RemoteAddr = "192.0.2.1:1234"
	route := &matcher.Route{Text: "DELETE /orgs/{org}/{id} workflows:delete", Requirement: "workflows:delete"}
	id := &tokens.Identity{Subject: "alice \"the\" admin", Org: "acme"}
	for _, tc := range []struct {
		name     string
		o        *outcome
		decision string
		want     string
	}{
		{"a denial with a route and a verified token", &outcome{status: 403, reason: "no role grants workflows:delete & more", route: route, id: id, org: "globex"}, "deny",
			`{"time":T,"gatehouse":"edge\u003c1\u003e","decision":"deny","status":403,"reason":"no role grants workflows:delete \u0026 more","route":"DELETE /orgs/{org}/{id} workflows:delete","permission":"workflows:delete","subject":"alice \"the\" admin","issuer":"","org":"globex","method":"DELETE","path":"/orgs/acme/a%20b","client":"192.0.2.1:1234"}`},
		{"a refusal before any route or token", &outcome{status: 400, reason: "opaque request URI"}, "deny",
			`{"time":T,"gatehouse":"edge\u003c1\u003e","decision":"deny","status":400,"reason":"opaque request URI","method":"DELETE","path":"/orgs/acme/a%20b","client":"192.0.2.1:1234"}`},
		{"an allow without an org of its own reads the token's", &outcome{status: 200, reason: "role admin grants workflows:delete", route: route, id: id, permission: "workflows:delete"}, "allow",
			`{"time":T,"gatehouse":"edge\u003c1\u003e","decision":"allow","status":200,"reason":"role admin grants workflows:delete","route":"DELETE /orgs/{org}/{id} workflows:delete","permission":"workflows:delete","subject":"alice \"the\" admin","issuer":"","org":"acme","method":"DELETE","path":"/orgs/acme/a%20b","client":"192.0.2.1:1234"}`},
	} {
		got := captureAudit(t, func() { g.audit(req, tc.o, tc.decision) })
		got = regexp.MustCompile(`"time":"[^"]+"`).ReplaceAllString(got, `"time":T`)
		if got != tc.want+"\n" {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// captureAudit returns what fn writes to os.Stderr.
func captureAudit(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	fn()
	os.Stderr = old
	w.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
