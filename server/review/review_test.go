package review

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/server/audit"
	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
	"github.com/gatehouse-dev/gatehouse/server/store"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var ctx = context.Background()

const (
	actor = "test"
	iss   = "https://issuer.example"
)

type env struct {
	st *store.Store
	db *audit.DB
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dsn := pgtest.Shared(t).NewDatabase(t)
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	db, err := audit.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return &env{st, db}
}

func (e *env) must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seed declares the policy of the review tests:
//
//	acme: alice developer, bob developer, carol developer+admin, dave viewer, svc-ci developer, svc-idle viewer
//	roles: admin, developer, viewer, ghost (held by nobody); permission wf:orphan granted by no role
func (e *env) seed(t *testing.T) {
	t.Helper()
	for _, p := range []string{"wf:create", "wf:read", "wf:run", "wf:delete", "wf:share", "wf:orphan"} {
		_, err := e.st.CreatePermission(ctx, actor, store.Permission{Name: p})
		e.must(t, err)
	}
	for name, perms := range map[string][]string{
		"admin": {"wf:create", "wf:read", "wf:run", "wf:delete", "wf:share"}, "developer": {"wf:create", "wf:read", "wf:run"},
		"viewer": {"wf:read"}, "ghost": {"wf:read"},
	} {
		_, err := e.st.CreateRole(ctx, actor, store.Role{Name: name, Permissions: perms})
		e.must(t, err)
	}
	for _, s := range []string{"svc-ci", "svc-idle"} {
		_, err := e.st.CreateSubject(ctx, actor, store.Subject{ID: s, Kind: "service"})
		e.must(t, err)
	}
	for _, a := range [][2]string{{"alice", "developer"}, {"bob", "developer"}, {"carol", "developer"}, {"carol", "admin"}, {"dave", "viewer"},
		{"svc-ci", "developer"}, {"svc-idle", "viewer"}} {
		_, err := e.st.CreateAssignment(ctx, actor, store.Assignment{Subject: a[0], Org: "acme", Role: a[1]})
		e.must(t, err)
	}
}

// line is an audit line as the plugin writes it.
func line(at time.Time, decision string, status int, subject, org, route, reason, client string) string {
	m := map[string]interface{}{"time": at.UTC().Format(time.RFC3339Nano), "gatehouse": "workflows-gatehouse@file", "decision": decision,
		"status": status, "reason": reason, "method": strings.Fields(route + " GET")[0], "path": "/orgs/acme/workflows", "client": client}
	if route != "" {
		m["route"] = route
		m["permission"] = strings.Fields(route)[2]
	}
	if subject != "" {
		m["subject"], m["issuer"], m["org"] = subject, iss, org
	}
	b, _ := json.Marshal(m)
	return string(b) + "\n"
}

const (
	readRoute   = "GET /orgs/{org}/workflows wf:read"
	createRoute = "POST /orgs/{org}/workflows wf:create"
	deleteRoute = "DELETE /orgs/{org}/workflows/{id} wf:delete"
	runRoute    = "POST /orgs/{org}/workflows/{id}/run wf:run"
)

// crossTenant is the engine's own reason for erin's attempt: a token of org globex addressing acme.
func crossTenant(t *testing.T) string {
	t.Helper()
	pol, err := policy.Parse([]byte("permissions: [wf:read]\nroles: {viewer: [wf:read]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	table, errs := matcher.Compile([]string{readRoute})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	d := policy.Decide(pol, policy.Options{}, &tokens.Identity{Subject: "erin", Org: "globex"}, table.Routes[0], policy.Target{Guarded: true, Org: "acme"})
	if d.Allow || !strings.HasPrefix(d.Reason, crossTenantReason) {
		t.Fatalf("the engine's cross-tenant reason changed: %q", d.Reason)
	}
	return d.Reason
}

// events writes the review tests' audit lines, relative to now (the review's time).
func (e *env) events(t *testing.T, now time.Time) {
	t.Helper()
	var b strings.Builder
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	b.WriteString(line(ago(48*time.Hour), "allow", 200, "alice", "acme", readRoute, "granted", "192.0.2.1:1000"))
	b.WriteString(line(ago(48*time.Hour), "allow", 200, "bob", "globex", readRoute, "granted", "192.0.2.2:1000")) // bob's use is in another org
	b.WriteString(line(ago(47*time.Hour), "allow", 200, "carol", "acme", deleteRoute, "granted", "192.0.2.3:1000"))
	b.WriteString(line(ago(46*time.Hour), "allow", 200, "dave", "acme", readRoute, "granted", "192.0.2.4:1000"))
	b.WriteString(line(ago(45*time.Hour), "deny", 403, "dave", "acme", createRoute, `role "viewer" does not grant "wf:create"`, "192.0.2.4:1001"))
	b.WriteString(line(ago(10*24*time.Hour), "allow", 200, "svc-ci", "acme", readRoute, "granted", "10.0.0.5:1000"))
	b.WriteString(line(ago(time.Hour), "allow", 200, "svc-ci", "acme", readRoute, "granted", "10.0.0.5:1001"))
	b.WriteString(line(ago(time.Hour), "allow", 200, "svc-ci", "acme", runRoute, "granted", "10.0.0.5:1002"))
	b.WriteString(line(ago(3*time.Hour), "deny", 403, "erin", "globex", readRoute, crossTenant(t), "192.0.2.5:1000"))
	b.WriteString(line(ago(3*time.Hour), "deny", 403, "<script>alert(1)</script>", "acme", createRoute, "denied", "192.0.2.6:1000"))
	for i := 0; i < 25; i++ { // a burst: 25 denials within 25 seconds
		b.WriteString(line(ago(5*time.Hour).Add(time.Duration(i)*time.Second), "deny", 401, "", "", readRoute, "no token", "198.51.100.9:"+itoa(2000+i)))
		// the same number spread over 25 minutes is no burst
		b.WriteString(line(ago(8*time.Hour).Add(time.Duration(i)*time.Minute), "deny", 401, "", "", readRoute, "no token", "198.51.100.10:"+itoa(2000+i)))
	}
	b.WriteString(line(ago(6*time.Hour), "deny", 401, "", "", readRoute, tokens.ErrIssuer.Error(), "203.0.113.5:4000"))
	b.WriteString(line(ago(6*time.Hour).Add(time.Second), "deny", 401, "", "", readRoute, tokens.ErrIssuer.Error(), "203.0.113.5:4001"))
	b.WriteString(line(ago(6*time.Hour), "deny", 401, "", "", readRoute, "expired", "203.0.113.6:4000"))
	st, err := e.db.IngestReader(ctx, strings.NewReader(b.String()), 0)
	if err != nil || st.SkippedTotal() != 0 {
		t.Fatalf("ingest: %+v %v", st, err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func has(r *Report, class string, parts ...string) *Finding {
	k := key(append([]string{class}, parts...)...)
	for i := range r.Findings {
		if r.Findings[i].Key == k {
			return &r.Findings[i]
		}
	}
	return nil
}

// future is the review time of the tests: the assignments (made now) are older than its window.
func future() time.Time { return time.Now().Add(40 * 24 * time.Hour).UTC().Truncate(time.Second) }

func TestEachFindingClassHasACaseThatTriggersItAndOneThatMustNot(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	now := future()
	e.events(t, now)
	r, err := Run(ctx, e.st, e.db.Pool(), Options{Now: now, Routes: []string{readRoute, createRoute, deleteRoute, runRoute}, RoutesFrom: "test"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		class    string
		key      []string
		want     bool
		severity string
	}{
		{"bob's developer role, used only in another org, is unused in acme", ClassUnusedAssignment, []string{"bob", "", "acme", "developer", ""}, true, Medium},
		{"svc-idle's viewer role, with no decision at all, is unused", ClassUnusedAssignment, []string{"svc-idle", "", "acme", "viewer", ""}, true, Medium},
		{"carol's developer role is unused: her delete needed admin", ClassUnusedAssignment, []string{"carol", "", "acme", "developer", ""}, true, Medium},
		{"alice's read uses her developer role", ClassUnusedAssignment, []string{"alice", "", "acme", "developer", ""}, false, ""},
		{"carol's delete uses her admin role", ClassUnusedAssignment, []string{"carol", "", "acme", "admin", ""}, false, ""},
		{"dave's allowed read uses viewer (his denied create does not count)", ClassUnusedAssignment, []string{"dave", "", "acme", "viewer", ""}, false, ""},
		{"ghost is held by nobody", ClassUnheldRole, []string{"ghost"}, true, Low},
		{"viewer is held", ClassUnheldRole, []string{"viewer"}, false, ""},
		{"the control plane's own roles are not reported", ClassUnheldRole, []string{store.RoleAuditor}, false, ""},
		{"wf:orphan is granted by no role", ClassUngrantedPermission, []string{"wf:orphan"}, true, Low},
		{"wf:share is granted by admin", ClassUngrantedPermission, []string{"wf:share"}, false, ""},
		{"wf:share is required by no route", ClassUnrequiredPermission, []string{"wf:share"}, true, Low},
		{"wf:read is required by a route", ClassUnrequiredPermission, []string{"wf:read"}, false, ""},
		{"carol holds more permissions than any other developer of acme", ClassPermissionOutlier, []string{"carol", "", "acme"}, true, Medium},
		{"alice holds what the other developers hold", ClassPermissionOutlier, []string{"alice", "", "acme"}, false, ""},
		{"svc-ci ran workflows, outside its usual read route", ClassServiceNewRoute, []string{"svc-ci", "", runRoute}, true, Medium},
		{"svc-ci's usual read route is not reported", ClassServiceNewRoute, []string{"svc-ci", "", readRoute}, false, ""},
		{"25 denials of one client in 25 s are a burst", ClassDenialBurst, []string{"client", "198.51.100.9", ""}, true, High},
		{"25 denials of one client over 25 minutes are none", ClassDenialBurst, []string{"client", "198.51.100.10", ""}, false, ""},
		{"tokens of an untrusted issuer from one client", ClassUnknownIssuer, []string{"203.0.113.5"}, true, Medium},
		{"an expired token is not an unknown issuer", ClassUnknownIssuer, []string{"203.0.113.6"}, false, ""},
		{"erin's token of globex addressing acme", ClassCrossTenant, []string{"erin", iss, "globex", "wf:read"}, true, High},
		{"dave's denied create is not cross-tenant", ClassCrossTenant, []string{"dave", iss, "acme", "wf:create"}, false, ""},
		{"dave's denied create", ClassDeniedPermission, []string{"dave", iss, "acme", "wf:create"}, true, Low},
		{"erin's attempt is not reported twice", ClassDeniedPermission, []string{"erin", iss, "globex", "wf:read"}, false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := has(r, c.class, c.key...)
			if (f != nil) != c.want {
				var keys []string
				for _, f := range r.Findings {
					keys = append(keys, f.Key)
				}
				t.Fatalf("finding %s %v: got %v, want %v; findings:\n%s", c.class, c.key, f != nil, c.want, strings.Join(keys, "\n"))
			}
			if f != nil && f.Severity != c.severity {
				t.Fatalf("severity %s, want %s", f.Severity, c.severity)
			}
			if f != nil && len(f.Evidence) == 0 {
				t.Fatal("a finding without evidence")
			}
		})
	}
	if f := has(r, ClassDenialBurst, "client", "198.51.100.9", ""); f != nil && f.Evidence["denials"] != int64(25) {
		t.Fatalf("burst evidence: %v", f.Evidence)
	}
	if f := has(r, ClassPermissionOutlier, "carol", "", "acme"); f != nil && value(f.Evidence["onlyThisSubject"]) != "wf:delete, wf:share" {
		t.Fatalf("outlier evidence: %v", f.Evidence)
	}
	if !r.Fails(High) || r.Worst() != High {
		t.Fatalf("a review with high findings does not fail --fail-on high (worst %q)", r.Worst())
	}
}

func TestWithoutAllowedDecisionsOrRoutesTheReviewSaysWhatItCouldNotCheck(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	now := future()
	if _, err := e.db.IngestReader(ctx, strings.NewReader(line(now.Add(-time.Hour), "deny", 403, "dave", "acme", createRoute, "denied", "192.0.2.4:1")), 0); err != nil {
		t.Fatal(err)
	}
	r, err := Run(ctx, e.st, e.db.Pool(), Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		if f.Class == ClassUnusedAssignment || f.Class == ClassUnrequiredPermission {
			t.Fatalf("reported %s without the data for it", f.Key)
		}
	}
	if len(r.Notes) != 2 {
		t.Fatalf("notes: %q", r.Notes)
	}
}

func TestFailOnComparesTheWorstFinding(t *testing.T) {
	cases := []struct {
		name     string
		severity []string
		failOn   string
		want     bool
	}{
		{"no findings pass --fail-on low", nil, Low, false},
		{"a low finding passes --fail-on medium", []string{Low}, Medium, false},
		{"a low finding fails --fail-on low", []string{Low}, Low, true},
		{"a medium finding fails --fail-on medium", []string{Low, Medium}, Medium, true},
		{"a medium finding passes --fail-on high", []string{Medium}, High, false},
		{"a high finding fails --fail-on high", []string{Low, High}, High, true},
		{"an info finding fails --fail-on info", []string{Info}, Info, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &Report{}
			for _, s := range c.severity {
				r.Findings = append(r.Findings, Finding{Severity: s})
			}
			if got := r.Fails(c.failOn); got != c.want {
				t.Fatalf("got %v", got)
			}
		})
	}
	if _, err := ParseSeverity("critical"); err == nil {
		t.Fatal("an unknown severity was accepted")
	}
}

func TestAssignmentsYoungerThanTheWindowAreNotUnused(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	now := time.Now().UTC()
	if _, err := e.db.IngestReader(ctx, strings.NewReader(line(now.Add(-time.Minute), "allow", 200, "alice", "acme", readRoute, "granted", "192.0.2.1:1")), 0); err != nil {
		t.Fatal(err)
	}
	r, err := Run(ctx, e.st, e.db.Pool(), Options{Now: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Findings {
		if f.Class == ClassUnusedAssignment {
			t.Fatalf("an assignment made today is reported unused for 30 days: %s", f.Key)
		}
	}
	if len(r.Notes) != 1 {
		t.Fatalf("notes: %q", r.Notes)
	}
}

func TestTheNextReviewShowsWhatChanged(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	now := future()
	e.events(t, now)
	first, err := Run(ctx, e.st, e.db.Pool(), Options{Now: now})
	e.must(t, err)
	e.must(t, Compare(ctx, e.db.Pool(), first))
	for _, f := range first.Findings {
		if f.Status != "new" {
			t.Fatalf("first review: %s is %q", f.Key, f.Status)
		}
	}
	e.must(t, Save(ctx, e.db.Pool(), first))

	// Between the reviews: ghost is deleted (resolved), phantom is declared and held by nobody (new).
	e.must(t, e.st.DeleteRole(ctx, actor, "ghost", 0))
	_, err = e.st.CreateRole(ctx, actor, store.Role{Name: "phantom", Permissions: []string{"wf:read"}})
	e.must(t, err)
	second, err := Run(ctx, e.st, e.db.Pool(), Options{Now: now.Add(time.Minute)})
	e.must(t, err)
	e.must(t, Compare(ctx, e.db.Pool(), second))
	e.must(t, Save(ctx, e.db.Pool(), second))
	if second.Previous != first.ID || second.ID == first.ID {
		t.Fatalf("previous %d, want %d", second.Previous, first.ID)
	}
	cases := []struct {
		name, class, key, status string
	}{
		{"a role declared since is new", ClassUnheldRole, "phantom", "new"},
		{"a finding of both reviews is open since the first", ClassUngrantedPermission, "wf:orphan", "open"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := has(second, c.class, c.key)
			if f == nil || f.Status != c.status {
				t.Fatalf("got %+v", f)
			}
			if c.status == "open" && !f.FirstSeen.Equal(first.At) {
				t.Fatalf("first seen %v, want %v", f.FirstSeen, first.At)
			}
		})
	}
	if len(second.Resolved) != 1 || second.Resolved[0].Key != key(ClassUnheldRole, "ghost") {
		t.Fatalf("resolved: %+v", second.Resolved)
	}
	var text bytes.Buffer
	e.must(t, second.WriteText(&text))
	t.Log("\n" + text.String())
	if !strings.Contains(text.String(), "Resolved since review") || !strings.Contains(text.String(), "role ghost is assigned to nobody") ||
		!strings.Contains(text.String(), "open since ") {
		t.Fatalf("text report:\n%s", text.String())
	}
}

func TestReportsEscapeWhatTheyShow(t *testing.T) {
	e := newEnv(t)
	e.seed(t)
	now := future()
	e.events(t, now)
	r, err := Run(ctx, e.st, e.db.Pool(), Options{Now: now})
	e.must(t, err)
	if has(r, ClassDeniedPermission, "<script>alert(1)</script>", iss, "acme", "wf:create") == nil {
		t.Fatal("the subject named <script> was not reported: the test proves nothing")
	}
	var html, js, text bytes.Buffer
	e.must(t, r.WriteHTML(&html))
	e.must(t, r.WriteJSON(&js))
	e.must(t, r.WriteText(&text))
	if strings.Contains(html.String(), "<script>") || !strings.Contains(html.String(), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatal("the HTML report shows the subject unescaped")
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Findings) != len(r.Findings) {
		t.Fatalf("the JSON report does not read back: %v", err)
	}
	// A control character in what a terminal shows is escaped.
	if got := clean("a\x1b[31mred"); got != `a\x1b[31mred` {
		t.Fatalf("clean: %q", got)
	}
}

func TestRoutesFromFileReadsWhatGatehouseCheckReads(t *testing.T) {
	cases := []struct {
		name, path string
		want       string // a route that must be among them ("" when the file must be refused)
	}{
		{"the demo's compose labels", "../../demo/compose.yaml", "POST /orgs/{org}/workflows workflows:create"},
		{"a file with no gatehouse middleware", "../../demo/policy.yaml", ""},
		{"a missing file", "../../demo/none.yaml", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			routes, err := RoutesFromFile(c.path)
			if c.want == "" {
				if err == nil {
					t.Fatalf("accepted: %v", routes)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, r := range routes {
				found = found || strings.Join(strings.Fields(r), " ") == c.want
			}
			if !found {
				t.Fatalf("%q not among %q", c.want, routes)
			}
		})
	}
}

// pluginLines runs requests through the plugin itself (gatehouse.New, compiled) with the demo's
// routes and policy, and returns the audit lines it wrote to stderr.
func pluginLines(t *testing.T, requests func(h http.Handler, token func(issuer, sub, org string, roles ...string) string)) string {
	t.Helper()
	const secret = "review-test-secret-0123456789abcdef"
	cfg := gatehouse.CreateConfig()
	cfg.Issuers = []string{iss}
	cfg.Secret = secret
	cfg.AuditAllowed = "true"
	cfg.PolicyFile = "../../demo/policy.yaml"
	cfg.Routes = []string{"POST /orgs/{org}/workflows workflows:create", "GET /orgs/{org}/workflows workflows:read", "GET /me authenticated"}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan string)
	go func() { b, _ := io.ReadAll(r); out <- string(b) }()
	old := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = old }()
	h, err := gatehouse.New(ctx, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(200) }), cfg, "workflows-gatehouse@docker")
	if err != nil {
		os.Stderr = old
		t.Fatal(err)
	}
	requests(h, func(issuer, sub, org string, roles ...string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": issuer, "sub": sub, "org_id": org, "roles": roles,
			"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	os.Stderr = old
	w.Close()
	return <-out
}

func TestTheReviewFlagsDeniedCreatesCrossTenantAttemptsAndUnknownIssuersFromThePluginsOwnLines(t *testing.T) {
	lines := pluginLines(t, func(h http.Handler, token func(issuer, sub, org string, roles ...string) string) {
		for _, c := range []struct {
			iss, sub, org, role, method, path string
			want                              int
		}{
			{iss, "dave", "acme", "viewer", "GET", "/orgs/acme/workflows", 200},
			{iss, "dave", "acme", "viewer", "POST", "/orgs/acme/workflows", 403},
			{iss, "erin", "globex", "admin", "GET", "/orgs/acme/workflows", 403},
			{iss, "erin", "globex", "admin", "POST", "/orgs/globex/workflows", 200},
			{"https://evil.example", "mallory", "acme", "admin", "GET", "/orgs/acme/workflows", 401},
		} {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(`{"name":"x"}`))
			req.RemoteAddr = "198.51.100.77:4444"
			req.Header.Set("Authorization", "Bearer "+token(c.iss, c.sub, c.org, c.role))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("%s %s as %s: %d, want %d", c.method, c.path, c.sub, rec.Code, c.want)
			}
		}
	})
	e := newEnv(t)
	doc, err := os.ReadFile("../../demo/policy.yaml")
	e.must(t, err)
	_, err = e.st.Import(ctx, actor, doc)
	e.must(t, err)
	st, err := e.db.IngestReader(ctx, strings.NewReader(lines), 0)
	e.must(t, err)
	if st.Stored != 5 || st.SkippedTotal() != 0 {
		t.Fatalf("the plugin's lines: %+v\n%s", st, lines)
	}
	r, err := Run(ctx, e.st, e.db.Pool(), Options{})
	e.must(t, err)
	if f := has(r, ClassDeniedPermission, "dave", iss, "acme", "workflows:create"); f == nil {
		t.Fatalf("dave's denied create is not flagged:\n%s", lines)
	}
	if f := has(r, ClassCrossTenant, "erin", iss, "globex", "workflows:read"); f == nil || f.Severity != High {
		t.Fatalf("erin's cross-tenant attempt is not flagged high:\n%s", lines)
	}
	if f := has(r, ClassDeniedPermission, "erin", iss, "globex", "workflows:read"); f != nil {
		t.Fatal("erin's attempt is reported as a plain denial too")
	}
	if f := has(r, ClassUnknownIssuer, "198.51.100.77"); f == nil {
		t.Fatalf("the token of an untrusted issuer is not flagged:\n%s", lines)
	}
}
