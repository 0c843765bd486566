package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/server/admin"
	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
	"github.com/gatehouse-dev/gatehouse/server/store"
)

// Every command runs against a real control plane: server/admin's handler over a real
// PostgreSQL (server/internal/pgtest), a fresh database per test, tokens minted with a test key.

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const (
	testSecret = "cli-test-secret-of-32-bytes-long"
	testIssuer = "https://issuer.test"
	testAud    = "gatehouse-control-plane"
	adminOrg   = "gatehouse"
	root       = "root" // the bootstrapped platform admin
)

// cp is a control plane for one test.
type cp struct {
	t     *testing.T
	url   string
	store *store.Store
	token string // root's
}

func newControlPlane(t *testing.T) *cp {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.Shared(t).NewDatabase(t)
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Bootstrap(ctx, "cli:test", root, testIssuer, adminOrg); err != nil {
		t.Fatal(err)
	}
	c := gatehouse.CreateConfig()
	c.Issuers = []string{testIssuer}
	c.Audiences = []string{testAud}
	c.Secret = testSecret
	srv, err := admin.New(ctx, admin.Options{Store: st, Config: c, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &cp{t: t, url: hs.URL, store: st, token: mint(t, root, adminOrg, 10*time.Minute)}
}

// mint signs a token for sub in org, valid for ttl (negative: expired).
func mint(t *testing.T, sub, org string, ttl time.Duration) string {
	t.Helper()
	now := time.Now()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": testIssuer, "aud": testAud, "sub": sub, "org_id": org,
		"iat": now.Add(-2 * time.Minute).Unix(), "exp": now.Add(ttl).Unix()}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// result is one run of the CLI.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the CLI as root; as runs it with another token.
func (c *cp) run(args ...string) result { return c.as(c.token, args...) }

func (c *cp) as(token string, args ...string) result {
	c.t.Helper()
	var out, errOut bytes.Buffer
	env := func(k string) string {
		switch k {
		case "GATEHOUSE_SERVER":
			return c.url
		case "GATEHOUSE_TOKEN":
			return token
		}
		return ""
	}
	code := Run(context.Background(), args, &out, &errOut, env)
	return result{code, out.String(), errOut.String()}
}

// ok runs a command that must succeed and returns its stdout.
func (c *cp) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("gatehouse %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	if r.stderr != "" {
		c.t.Errorf("gatehouse %s wrote to stderr: %s", strings.Join(args, " "), r.stderr)
	}
	return r.stdout
}

// fails runs a command that must fail with exit 1 and the given message on stderr, nothing on stdout.
func (c *cp) fails(says string, args ...string) {
	c.t.Helper()
	c.failsAs(c.token, says, args...)
}

func (c *cp) failsAs(token, says string, args ...string) {
	c.t.Helper()
	r := c.as(token, args...)
	if r.code != 1 || !strings.Contains(r.stderr, says) || !strings.HasPrefix(r.stderr, "gatehouse: ") || r.stdout != "" {
		c.t.Errorf("gatehouse %s: exit %d, stdout %q, stderr %q; want exit 1 and %q", strings.Join(args, " "), r.code, r.stdout, r.stderr, says)
	}
}

// jsonOf decodes a --json answer.
func jsonOf(t *testing.T, out string, v interface{}) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("--json output does not decode: %v\n%s", err, out)
	}
}

// lines returns the output's lines with runs of spaces squeezed, for table checks.
func lines(out string) []string {
	var ls []string
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		ls = append(ls, strings.Join(strings.Fields(l), " "))
	}
	return ls
}

func demoPolicy(t *testing.T) string {
	p, err := filepath.Abs("../../demo/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImportThenExportGivesBackTheSameDocument(t *testing.T) {
	c := newControlPlane(t)
	out := c.ok("import", demoPolicy(t))
	if !strings.HasPrefix(out, "imported ") || !strings.Contains(out, "created") {
		t.Errorf("import says %q", out)
	}
	exported := c.ok("export")
	held, _, err := c.store.Document(context.Background(), store.DocumentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if exported != string(held) {
		t.Errorf("export is not byte for byte what the store holds:\n%s\n%s", exported, held)
	}
	// Equal in content to the file imported.
	raw, _ := os.ReadFile(demoPolicy(t))
	var file, doc policyDoc
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	jsonOf(t, exported, &doc)
	if !reflect.DeepEqual(file.normalized(), doc.normalized()) {
		t.Errorf("the export differs from demo/policy.yaml:\nfile   %+v\nexport %+v", file.normalized(), doc.normalized())
	}
	// Importing the export changes nothing, and --output writes the same bytes.
	path := filepath.Join(t.TempDir(), "policy.json")
	c.ok("export", "--output", path)
	if b, _ := os.ReadFile(path); string(b) != exported {
		t.Errorf("export --output wrote %q", b)
	}
	var res store.ImportResult
	jsonOf(t, c.ok("import", "--json", path), &res)
	if res.Created != 0 || res.Updated != 0 || res.Deleted != 0 {
		t.Errorf("importing the export changed something: %+v", res)
	}
	if again := c.ok("export"); again != exported {
		t.Errorf("export after re-import differs:\n%s\n%s", again, exported)
	}
}

// policyDoc is the policy file's schema, enough to compare content.
type policyDoc struct {
	Permissions []string            `yaml:"permissions" json:"permissions"`
	Roles       map[string][]string `yaml:"roles" json:"roles"`
	Assignments []struct {
		Subject string   `yaml:"subject" json:"subject"`
		Issuer  string   `yaml:"issuer" json:"issuer"`
		Org     string   `yaml:"org" json:"org"`
		Role    string   `yaml:"role" json:"role"`
		Scope   []string `yaml:"scope" json:"scope"`
	} `yaml:"assignments" json:"assignments"`
}

func (p policyDoc) normalized() []string {
	var out []string
	for _, perm := range p.Permissions {
		out = append(out, "permission "+perm)
	}
	for r, perms := range p.Roles {
		ps := append([]string{}, perms...)
		sort.Strings(ps)
		out = append(out, "role "+r+" "+strings.Join(ps, ","))
	}
	for _, a := range p.Assignments {
		s := append([]string{}, a.Scope...)
		sort.Strings(s)
		out = append(out, "assignment "+a.Org+" "+a.Subject+" "+a.Issuer+" "+a.Role+" "+strings.Join(s, ","))
	}
	sort.Strings(out)
	return out
}

func TestAnImportTheEngineRefusesChangesNothingAndNamesTheProblem(t *testing.T) {
	c := newControlPlane(t)
	c.ok("import", demoPolicy(t))
	before := c.ok("export")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("permissions: [a:read]\nroles:\n  r: [a:write]\n"), 0o644)
	c.fails("Unprocessable Entity: ", "import", bad)
	if after := c.ok("export"); after != before {
		t.Errorf("a refused import changed the policy:\n%s", after)
	}
	c.fails("no such file", "import", filepath.Join(t.TempDir(), "none.yaml"))
}

func TestPermissionsCommands(t *testing.T) {
	c := newControlPlane(t)
	out := c.ok("permissions", "create", "reports:read", "--description", "read reports")
	if l := lines(out); len(l) != 2 || l[0] != "PERMISSION DESCRIPTION VERSION" || l[1] != "reports:read read reports 1" {
		t.Errorf("create printed %q", l)
	}
	if l := lines(c.ok("permissions", "list")); !contains(l, "reports:read read reports 1") || !containsPrefix(l, "gatehouse:roles:write create, change and delete roles ") {
		t.Errorf("list printed %q", l)
	}
	var p store.Permission
	jsonOf(t, c.ok("permissions", "get", "reports:read", "--json"), &p)
	if p.Name != "reports:read" || p.Description != "read reports" || p.Version != 1 {
		t.Errorf("get --json: %+v", p)
	}
	if l := lines(c.ok("permissions", "set", "reports:read", "--description", "")); l[1] != "reports:read - 2" {
		t.Errorf("set an empty description printed %q", l)
	}
	c.fails("Precondition Failed: ", "permissions", "set", "reports:read", "--description", "stale", "--if-version", "1")
	c.fails("Unprocessable Entity: ", "permissions", "create", "reports:*")
	c.fails("Conflict: ", "permissions", "create", "reports:read")
	c.fails("Not Found", "permissions", "get", "reports:write")
	c.ok("roles", "create", "reader", "--permission", "reports:read")
	c.fails("Conflict: ", "permissions", "delete", "reports:read")
	c.ok("roles", "delete", "reader")
	if out := c.ok("permissions", "delete", "reports:read"); out != "deleted permission reports:read\n" {
		t.Errorf("delete printed %q", out)
	}
	c.fails("Not Found", "permissions", "get", "reports:read")
}

func TestRolesCommands(t *testing.T) {
	c := newControlPlane(t)
	c.ok("import", demoPolicy(t))
	out := c.ok("roles", "create", "auditor", "--permission", "workflows:read", "--description", "reads")
	if l := lines(out); l[0] != "ROLE PERMISSIONS DESCRIPTION VERSION" || l[1] != "auditor workflows:read reads 1" {
		t.Errorf("create printed %q", l)
	}
	if l := lines(c.ok("roles", "list")); !contains(l, "developer workflows:create,workflows:read,workflows:run - "+versionOf(l, "developer")) || !contains(l, "auditor workflows:read reads 1") {
		t.Errorf("list printed %q", l)
	}
	c.ok("roles", "set", "auditor", "--add", "workflows:run")
	c.ok("roles", "set", "auditor", "--remove", "workflows:read", "--add", "workflows:share")
	var r store.Role
	jsonOf(t, c.ok("roles", "get", "auditor", "--json"), &r)
	if !reflect.DeepEqual(r.Permissions, []string{"workflows:run", "workflows:share"}) || r.Version != 3 || r.Description != "reads" {
		t.Errorf("after --add and --remove: %+v", r)
	}
	c.ok("roles", "set", "auditor", "--permission", "workflows:read", "--description", "reads only")
	jsonOf(t, c.ok("roles", "get", "auditor", "--json"), &r)
	if !reflect.DeepEqual(r.Permissions, []string{"workflows:read"}) || r.Description != "reads only" || r.Version != 4 {
		t.Errorf("after --permission: %+v", r)
	}
	// A lost update: a script read version 3, someone changed the role since.
	c.fails("gatehouse: Precondition Failed: ", "roles", "set", "auditor", "--add", "workflows:run", "--if-version", "3")
	c.fails("(field permissions", "roles", "set", "auditor", "--add", "workflows:fly")
	c.fails("Unprocessable Entity: ", "roles", "create", "gatehouse-root", "--permission", "workflows:read")
	c.fails("Conflict: ", "roles", "delete", "developer") // svc-ci holds it
	c.fails("Precondition Failed: ", "roles", "delete", "auditor", "--if-version", "1")
	if out := c.ok("roles", "delete", "auditor"); out != "deleted role auditor\n" {
		t.Errorf("delete printed %q", out)
	}
	c.fails("Not Found", "roles", "get", "auditor")
}

func TestSubjectsCommands(t *testing.T) {
	c := newControlPlane(t)
	out := c.ok("subjects", "create", "svc-deploy", "--issuer", testIssuer, "--kind", "service", "--display-name", "Deploy bot")
	if l := lines(out); l[0] != "SUBJECT ISSUER KIND DISPLAY NAME VERSION" || l[1] != "svc-deploy "+testIssuer+" service Deploy bot 1" {
		t.Errorf("create printed %q", l)
	}
	c.ok("subjects", "create", "svc-deploy") // the same id without an issuer is another subject
	if l := lines(c.ok("subjects", "list")); !contains(l, "svc-deploy - user - 1") || !contains(l, "svc-deploy "+testIssuer+" service Deploy bot 1") {
		t.Errorf("list printed %q", l)
	}
	c.ok("subjects", "set", "svc-deploy", "--issuer", testIssuer, "--display-name", "Deployer")
	var s store.Subject
	jsonOf(t, c.ok("subjects", "get", "svc-deploy", "--issuer", testIssuer, "--json"), &s)
	if s.DisplayName != "Deployer" || s.Kind != "service" || s.Version != 2 {
		t.Errorf("after set: %+v", s)
	}
	c.fails("(field kind)", "subjects", "set", "svc-deploy", "--kind", "robot")
	c.fails("Precondition Failed", "subjects", "delete", "svc-deploy", "--issuer", testIssuer, "--if-version", "1")
	c.ok("subjects", "delete", "svc-deploy", "--issuer", testIssuer)
	c.fails("Not Found", "subjects", "get", "svc-deploy", "--issuer", testIssuer)
	s = store.Subject{}
	jsonOf(t, c.ok("subjects", "get", "svc-deploy", "--json"), &s)
	if s.Issuer != "" || s.Kind != "user" {
		t.Errorf("the subject without an issuer: %+v", s)
	}
}

func TestAssignmentsCommands(t *testing.T) {
	c := newControlPlane(t)
	c.ok("import", demoPolicy(t))
	out := c.ok("assignments", "add", "--org", "acme", "--subject", "bob", "--role", "viewer", "--scope", "/workflows/wf-1", "--scope", "/workflows/wf-2")
	l := lines(out)
	if l[0] != "ID ORG SUBJECT ISSUER ROLE SCOPE VERSION" || !strings.HasSuffix(l[1], " acme bob - viewer /workflows/wf-1,/workflows/wf-2 1") {
		t.Errorf("add printed %q", l)
	}
	c.ok("assignments", "add", "--org", "globex", "--subject", "bob", "--role", "analyst")
	c.ok("assignments", "add", "--org", "acme", "--subject", "bob", "--role", "viewer", "--scope", "/workflows/wf-3")
	if l := lines(c.ok("assignments", "list")); len(l) != 6 || !containsPrefix(l, "1 gatehouse root "+testIssuer+" gatehouse-platform-admin") { // header, root, svc-ci, and bob's three
		t.Errorf("list of every org printed %q", l)
	}
	var as []store.Assignment
	jsonOf(t, c.ok("assignments", "list", "--org", "acme", "--subject", "bob", "--json"), &as)
	if len(as) != 2 || as[0].Org != "acme" || as[1].Org != "acme" {
		t.Errorf("bob's assignments in acme: %+v", as)
	}
	// Errors name the field.
	c.fails("(field role)", "assignments", "add", "--org", "acme", "--subject", "bob", "--role", "editr")
	c.fails("(field scope", "assignments", "add", "--org", "acme", "--subject", "bob", "--role", "viewer", "--scope", "no-slash")
	// remove by subject and role: ambiguous without --scope, then exact.
	r := c.run("assignments", "remove", "--org", "acme", "--subject", "bob", "--role", "viewer")
	if r.code != 2 || !strings.Contains(r.stderr, "2 times: give the ID or --scope") {
		t.Errorf("an ambiguous remove: exit %d, %q", r.code, r.stderr)
	}
	out = c.ok("assignments", "remove", "--org", "acme", "--subject", "bob", "--role", "viewer", "--scope", "/workflows/wf-2", "--scope", "/workflows/wf-1")
	if !strings.HasPrefix(out, "removed:\n") || !strings.Contains(out, "/workflows/wf-1,/workflows/wf-2") {
		t.Errorf("remove printed %q", out)
	}
	c.fails("bob holds no role viewer in org acme with scope /workflows/wf-1", "assignments", "remove", "--org", "acme", "--subject", "bob", "--role", "viewer", "--scope", "/workflows/wf-1")
	// remove by ID; an ID of another org is not found there.
	jsonOf(t, c.ok("assignments", "list", "--org", "globex", "--json"), &as)
	id := strconv.FormatInt(as[0].ID, 10)
	c.fails("Not Found", "assignments", "remove", id, "--org", "acme")
	c.fails("Precondition Failed", "assignments", "remove", id, "--org", "globex", "--if-version", "7")
	c.ok("assignments", "remove", id, "--org", "globex")
	if l := lines(c.ok("assignments", "list", "--org", "globex")); len(l) != 1 {
		t.Errorf("globex still holds %q", l)
	}
}

func TestAnOrgAdminManagesTheirOrgOnly(t *testing.T) {
	c := newControlPlane(t)
	c.ok("import", demoPolicy(t))
	c.ok("assignments", "add", "--org", "acme", "--subject", "olga", "--issuer", testIssuer, "--role", "gatehouse-org-admin")
	olga := mint(t, "olga", "acme", 10*time.Minute)
	var as []store.Assignment
	jsonOf(t, c.as(olga, "assignments", "list", "--org", "acme", "--json").stdout, &as)
	if len(as) != 2 {
		t.Errorf("olga sees %d assignments in acme; want svc-ci's and her own", len(as))
	}
	if r := c.as(olga, "assignments", "add", "--org", "acme", "--subject", "dave", "--role", "viewer"); r.code != 0 {
		t.Errorf("olga adds in acme: exit %d, %s", r.code, r.stderr)
	}
	c.failsAs(olga, "Forbidden", "assignments", "add", "--org", "globex", "--subject", "dave", "--role", "viewer")
	c.failsAs(olga, "Forbidden", "assignments", "list") // every org: a platform admin's view
	c.failsAs(olga, "Forbidden", "roles", "create", "x", "--permission", "workflows:read")
	c.failsAs(olga, "Forbidden", "log")
	r := c.as(olga, "log", "--org", "acme")
	if l := lines(r.stdout); r.code != 0 || !strings.Contains(l[len(l)-1], " "+testIssuer+" olga create assignment ") || !strings.HasSuffix(l[len(l)-1], " acme") {
		t.Errorf("olga reads acme's log (the last change is hers): exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	c.failsAs(mint(t, root, adminOrg, -time.Minute), "Unauthorized", "roles", "list")
	c.failsAs("not.a.jwt", "Unauthorized", "roles", "list")
}

func TestWhocanAndCanExplainWithTheEngine(t *testing.T) {
	c := newControlPlane(t)
	c.ok("import", demoPolicy(t))
	c.ok("assignments", "add", "--org", "acme", "--subject", "bob", "--role", "admin", "--scope", "/workflows/wf-9")
	l := lines(c.ok("whocan", "workflows:create", "--org", "acme"))
	if l[0] != "SUBJECT ISSUER KIND ROLE SCOPE ASSIGNMENT" || len(l) != 3 || !containsPrefix(l, "svc-ci - user developer (whole org) ") || !containsPrefix(l, "bob - user admin /workflows/wf-9 ") {
		t.Errorf("whocan workflows:create printed %q", l)
	}
	var hs []store.Holder
	jsonOf(t, c.ok("whocan", "workflows:delete", "--org", "acme", "--json"), &hs)
	if len(hs) != 1 || hs[0].Subject != "bob" || !reflect.DeepEqual(hs[0].Scopes, []string{"/workflows/wf-9"}) {
		t.Errorf("whocan workflows:delete: %+v", hs)
	}
	if out := c.ok("whocan", "workflows:share", "--org", "globex"); out != "nobody holds workflows:share in org globex\n" {
		t.Errorf("whocan in an empty org printed %q", out)
	}
	out := c.ok("can", "svc-ci", "--org", "acme")
	l = lines(out)
	if !strings.HasPrefix(l[0], "svc-ci in org acme at /: roles developer") || l[1] != "PERMISSION ALLOWED GRANTED BY REASON" {
		t.Errorf("can printed %q", l)
	}
	if !containsPrefix(l, "workflows:create yes ") || !containsPrefix(l, "workflows:delete no - ") {
		t.Errorf("can's checks %q", l)
	}
	var a store.Access
	jsonOf(t, c.ok("can", "bob", "--org", "acme", "--resource", "/workflows/wf-9", "--json"), &a)
	if !reflect.DeepEqual(a.Roles, []string{"admin"}) || !allowed(a, "workflows:delete") || allowed(a, "gatehouse:roles:write") {
		t.Errorf("can bob at /workflows/wf-9: %+v", a)
	}
	if !containsPrefix(l, "workflows:create yes policy assignment developer ") {
		t.Errorf("can does not name the grant: %q", l)
	}
	jsonOf(t, c.ok("can", "bob", "--org", "acme", "--resource", "/workflows/wf-1", "--json"), &a)
	if len(a.Roles) != 0 {
		t.Errorf("bob's scoped admin counts outside its scope: %+v", a)
	}
	c.fails("(field resource)", "can", "bob", "--org", "acme", "--resource", "no-slash")
}

func TestLogListsChangesAndPages(t *testing.T) {
	c := newControlPlane(t)
	c.ok("import", demoPolicy(t))
	c.ok("assignments", "add", "--org", "globex", "--subject", "erin", "--role", "admin")
	var all []store.Change
	jsonOf(t, c.ok("log", "--json", "--limit", "1000"), &all)
	if len(all) < 3 {
		t.Fatalf("the log holds %d changes", len(all))
	}
	l := lines(c.ok("log", "--limit", "2"))
	if len(l) != 3 || l[0] != "SEQ AT ACTOR ACTION KIND KEY ORG" || !strings.HasPrefix(l[1], strconv.FormatInt(all[0].Seq, 10)+" ") {
		t.Errorf("log --limit 2 printed %q", l)
	}
	var page []store.Change
	jsonOf(t, c.ok("log", "--json", "--after", strconv.FormatInt(all[len(all)-2].Seq, 10)), &page)
	if len(page) != 1 || page[0].Seq != all[len(all)-1].Seq {
		t.Errorf("--after the last but one: %+v", page)
	}
	last := lines(c.ok("log", "--org", "globex"))
	if len(last) != 2 || !strings.Contains(last[1], testIssuer+" "+root+" create assignment") || !strings.HasSuffix(last[1], " globex") {
		t.Errorf("log --org globex printed %q", last)
	}
	c.fails("(field kind)", "log", "--kind", "planet")
}

func TestAnUnreachableControlPlaneIsAnErrorNotAnEmptyAnswer(t *testing.T) {
	hs := httptest.NewServer(nil)
	url := hs.URL
	hs.Close()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"roles", "list", "--server", url, "--token", "a.b.c"}, &out, &errOut, noEnv)
	if code != 1 || !strings.Contains(errOut.String(), "connection refused") || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

func contains(ls []string, want string) bool {
	for _, l := range ls {
		if l == want {
			return true
		}
	}
	return false
}

func containsPrefix(ls []string, want string) bool {
	for _, l := range ls {
		if strings.HasPrefix(l, want) {
			return true
		}
	}
	return false
}

// versionOf returns the last cell of the row starting with name.
func versionOf(ls []string, name string) string {
	for _, l := range ls {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == name {
			return f[len(f)-1]
		}
	}
	return "?"
}

func allowed(a store.Access, perm string) bool {
	for _, c := range a.Checks {
		if c.Permission == perm {
			return c.Allow
		}
	}
	return false
}

// TestAChangeBetweenTheReadAndTheWriteIsALostUpdateAndNothingIsWritten makes another admin's
// change land between the CLI's read and its write: the write carries the version it read, the
// API answers 412, the CLI exits 1 with the problem, and the other admin's change stands.
func TestAChangeBetweenTheReadAndTheWriteIsALostUpdateAndNothingIsWritten(t *testing.T) {
	c := newControlPlane(t)
	c.ok("import", demoPolicy(t))
	ctx := context.Background()
	concurrently := func(change func()) {
		done := false
		beforeWrite = func() {
			if !done {
				done = true
				change()
			}
		}
		t.Cleanup(func() { beforeWrite = func() {} })
	}
	concurrently(func() {
		r, err := c.store.GetRole(ctx, "viewer")
		if err != nil {
			t.Fatal(err)
		}
		r.Description = "changed by someone else"
		if _, err := c.store.UpdateRole(ctx, "test", r, r.Version); err != nil {
			t.Fatal(err)
		}
	})
	c.fails("gatehouse: Precondition Failed: ", "roles", "set", "viewer", "--add", "workflows:run")
	r, err := c.store.GetRole(ctx, "viewer")
	if err != nil || r.Description != "changed by someone else" || !reflect.DeepEqual(r.Permissions, []string{"workflows:read"}) {
		t.Errorf("viewer after the lost update: %+v, %v", r, err)
	}
	concurrently(func() {
		as, err := c.store.ListAssignments(ctx, store.AssignmentFilter{Subject: "svc-ci"})
		if err != nil || len(as) != 1 {
			t.Fatalf("svc-ci: %+v, %v", as, err)
		}
		a := as[0]
		a.Scopes = []string{"/workflows/ci"}
		if _, err := c.store.UpdateAssignment(ctx, "test", a, a.Version); err != nil {
			t.Fatal(err)
		}
	})
	c.fails("gatehouse: Precondition Failed: ", "assignments", "remove", "--org", "acme", "--subject", "svc-ci", "--role", "developer")
	if as, _ := c.store.ListAssignments(ctx, store.AssignmentFilter{Subject: "svc-ci"}); len(as) != 1 || !reflect.DeepEqual(as[0].Scopes, []string{"/workflows/ci"}) {
		t.Errorf("svc-ci after the refused remove: %+v", as)
	}
}

func TestImportReadsStandardInputForADash(t *testing.T) {
	c := newControlPlane(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin := os.Stdin
	os.Stdin = r
	t.Cleanup(func() { os.Stdin = stdin; r.Close() })
	raw, _ := os.ReadFile(demoPolicy(t))
	go func() { w.Write(raw); w.Close() }()
	if out := c.ok("import", "-"); !strings.HasPrefix(out, "imported -: ") {
		t.Errorf("import - printed %q", out)
	}
	var doc policyDoc
	jsonOf(t, c.ok("export"), &doc)
	if len(doc.Assignments) != 1 || doc.Assignments[0].Subject != "svc-ci" {
		t.Errorf("after import from stdin: %+v", doc)
	}
}
