package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
	"github.com/gatehouse-dev/gatehouse/server/store"
)

// cliLine is an audit line as the plugin writes it.
func cliLine(at time.Time, decision string, status int, subject, org, route, reason string) string {
	m := map[string]interface{}{"time": at.UTC().Format(time.RFC3339Nano), "gatehouse": "workflows-gatehouse@docker", "decision": decision,
		"status": status, "reason": reason, "route": route, "permission": strings.Fields(route)[2], "method": strings.Fields(route)[0],
		"path": "/orgs/acme/workflows", "client": "192.0.2.9:4242"}
	if subject != "" {
		m["subject"], m["issuer"], m["org"] = subject, "https://issuer.example", org
	}
	b, _ := json.Marshal(m)
	return string(b) + "\n"
}

func TestAuditCommands(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	env := func(v string) string { return map[string]string{"GATEHOUSE_DATABASE": dsn}[v] }
	noEnv := func(string) string { return "" }
	dir := t.TempDir()
	log := filepath.Join(dir, "traefik.log")
	now := time.Now().UTC()
	content := "time=\"...\" level=info msg=\"Configuration loaded\"\n" +
		cliLine(now.Add(-time.Hour), "deny", 403, "dave", "acme", "POST /orgs/{org}/workflows workflows:create", "denied") +
		"2026-12-01T10:00:00Z ERR " + strings.TrimSuffix(cliLine(now.Add(-time.Minute), "allow", 200, "alice", "acme", "GET /orgs/{org}/workflows workflows:read", "granted"), "\n") + " plugin=plugin-gatehouse\n"
	if err := os.WriteFile(log, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	old := cliLine(now.Add(-100*24*time.Hour), "deny", 401, "", "", "GET /orgs/{org}/workflows workflows:read", "no token")
	cases := []struct {
		name   string
		args   []string
		stdin  string
		getenv func(string) string
		code   int
		says   string
	}{
		{"ingest without a database is a usage error", []string{"ingest", log}, "", noEnv, 2, "--database (or GATEHOUSE_DATABASE) is required"},
		{"ingest of two files is a usage error", []string{"ingest", log, log}, "", env, 2, "name one FILE"},
		{"ingest --follow of standard input is a usage error", []string{"ingest", "--follow", "-"}, "", env, 2, "not to standard input"},
		{"an unknown subcommand is a usage error", []string{"ship"}, "", env, 2, `unknown subcommand "ship"`},
		{"ingest of a missing file fails", []string{"ingest", filepath.Join(dir, "none.log")}, "", env, 1, "no such file"},
		{"ingest stores the audit lines and counts the others", []string{"ingest", log}, "", env, 0, "3 lines read: 2 stored, 0 already stored, 1 skipped (not-gatehouse 1)"},
		{"ingest again resumes at the end", []string{"ingest", log}, "", env, 0, "0 lines read: 0 stored"},
		{"ingest of standard input, as JSON", []string{"ingest", "--json", "-"}, content + old, env, 0, `{"lines":4,"stored":1,"duplicates":2,"skipped":{"not-gatehouse":1}}`},
		{"prune without an age is a usage error", []string{"prune"}, "", env, 2, "--older-than is required"},
		{"prune with a bad age is a usage error", []string{"prune", "--older-than", "90x"}, "", env, 2, "want a positive number of days"},
		{"prune drops the old day", []string{"prune", "--older-than", "90d"}, "", env, 0, "dropped 1 days of audit events: audit_events_"},
		{"prune again drops nothing", []string{"prune", "--older-than", "90d"}, "", env, 0, "no day of audit events is older than 90d"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			code := auditCommand(context.Background(), c.args, strings.NewReader(c.stdin), &out, &out, c.getenv)
			if code != c.code || !strings.Contains(out.String(), c.says) {
				t.Fatalf("exit %d, output %q; want %d and %q", code, out.String(), c.code, c.says)
			}
		})
	}
}

func TestReviewCommand(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	env := func(v string) string { return map[string]string{"GATEHOUSE_DATABASE": dsn}[v] }
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	for _, p := range []string{"workflows:create", "workflows:read", "workflows:share"} {
		if _, err := st.CreatePermission(ctx, "test", store.Permission{Name: p}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.CreateRole(ctx, "test", store.Role{Name: "viewer", Permissions: []string{"workflows:read"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateAssignment(ctx, "test", store.Assignment{Subject: "dave", Org: "acme", Role: "viewer"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	lines := cliLine(now.Add(-time.Hour), "deny", 403, "dave", "acme", "POST /orgs/{org}/workflows workflows:create", `role "viewer" does not grant "workflows:create"`) +
		cliLine(now.Add(-time.Hour), "deny", 403, "erin", "globex", "GET /orgs/{org}/workflows workflows:read", `token of org "globex" addresses org "acme"`) +
		cliLine(now.Add(-time.Hour), "deny", 403, "<b>mallory</b>", "acme", "POST /orgs/{org}/workflows workflows:create", "denied")
	var out bytes.Buffer
	if code := auditCommand(ctx, []string{"ingest", "-"}, strings.NewReader(lines), &out, &out, env); code != 0 {
		t.Fatalf("ingest: %s", out.String())
	}
	dir := t.TempDir()
	routes := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(routes, []byte("secret: fake-test-secret-0123456789abcdef-for-the-cli-test\nroutes:\n  - GET /orgs/{org}/workflows workflows:read\n  - POST /orgs/{org}/workflows workflows:create\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	html := filepath.Join(dir, "review.html")
	cases := []struct {
		name string
		args []string
		code int
		says []string
	}{
		{"a bad --fail-on is a usage error", []string{"--fail-on", "critical"}, 2, []string{"--fail-on severity \"critical\""}},
		{"--json with --html - is a usage error", []string{"--json", "--html", "-"}, 2, []string{"choose one"}},
		{"a --routes file without routes is a usage error", []string{"--routes", filepath.Join("testdata", "plain.yaml")}, 2, []string{"no gatehouse routes found"}},
		{"the table flags dave's denied create and erin's cross-tenant attempt", []string{"--no-save"}, 0,
			[]string{"cross-tenant", "erin (https://issuer.example) (a token of org globex) tried another org's workflows:read once", "denied-permission", "dave (https://issuer.example) was denied workflows:create in org acme once"}},
		{"--routes reports the permission no route requires", []string{"--no-save", "--routes", routes}, 0, []string{"permission workflows:share is required by no route"}},
		{"--fail-on high fails on the cross-tenant attempt", []string{"--fail-on", "high"}, 1, []string{"a finding is high (--fail-on high)"}},
		{"the next review shows the findings open", []string{"--json", "--html", html}, 0, []string{`"status": "open"`, `"previous": 1`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			code := reviewCommand(ctx, c.args, &out, &out, env)
			if code != c.code {
				t.Fatalf("exit %d, want %d: %s", code, c.code, out.String())
			}
			for _, s := range c.says {
				if !strings.Contains(out.String(), s) {
					t.Fatalf("output lacks %q:\n%s", s, out.String())
				}
			}
		})
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "&lt;b&gt;mallory&lt;/b&gt;") || strings.Contains(string(page), "<b>mallory") {
		t.Fatal("the HTML report does not escape the subject <b>mallory</b>")
	}
}

func TestAuditAndReviewAreDispatched(t *testing.T) {
	t.Setenv("GATEHOUSE_DATABASE", "")
	cases := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"audit without a subcommand prints its usage", []string{"audit"}, 2, "usage: gatehouse audit ingest"},
		{"audit --help succeeds", []string{"audit", "--help"}, 0, "gatehouse audit prune"},
		{"review without a database is a usage error", []string{"review"}, 2, "usage: gatehouse review"},
		{"help lists both", []string{"help"}, 0, "access review"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := run(context.Background(), c.args, &out, &out); code != c.code || !strings.Contains(out.String(), c.says) {
				t.Fatalf("exit %d, output %q; want %d and %q", code, out.String(), c.code, c.says)
			}
		})
	}
}
