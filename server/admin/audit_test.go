package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/audit"
	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
)

// TestAuditBatchEndpoint: POST /v1/audit reaches server/audit's handler only for a token whose
// subject holds gatehouse:audit:write in the admin org (a gateway, a platform admin), and answers
// 404 on a control plane that does not ingest.
func TestAuditBatchEndpoint(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	db, err := audit.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	e := newEnvOn(t, dsn, func(o *Options) { o.Audit = db.Handler() })
	e.assign("auditor-1", adminOrgID, "gatehouse-auditor")
	e.assign("acme-admin", "acme", "gatehouse-org-admin")
	line := `{"time":"` + time.Now().UTC().Format(time.RFC3339Nano) + `","gatehouse":"gw","decision":"deny","status":401,"reason":"no token","method":"GET","path":"/x","client":"192.0.2.1:1"}` + "\n"
	cases := []struct {
		name   string
		token  string
		body   string
		status int
		says   string
	}{
		{"no token", "", line, 401, ""},
		{"an auditor reads, it does not write", tok(t, "auditor-1", adminOrgID), line, 403, ""},
		{"an org admin of another org", tok(t, "acme-admin", "acme"), line, 403, ""},
		{"a gateway posts a batch", e.gateway(), line, 200, `"stored":1`},
		{"the platform admin posts the same batch: nothing new", tok(t, root, adminOrgID), line, 200, `"duplicates":1`},
		{"a bad batch is a problem naming the line", e.gateway(), line + "{oops\n", 400, `"line":2`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := e.do(req{method: "POST", path: "/v1/audit", token: c.token, body: c.body, header: map[string]string{"Content-Type": "application/x-ndjson"}})
			if a.status != c.status || !strings.Contains(string(a.body), c.says) {
				t.Fatalf("got %d %s, want %d %q", a.status, a.body, c.status, c.says)
			}
		})
	}

	off := newEnv(t)
	if a := off.do(req{method: "POST", path: "/v1/audit", token: off.gateway(), body: line}); a.status != 404 || !strings.Contains(a.problem(t).Detail, "not enabled") {
		t.Fatalf("without Options.Audit: %d %s", a.status, a.body)
	}
}
