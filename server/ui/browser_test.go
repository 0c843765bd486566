package ui

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/server/store"
)

// chromiumPath finds Debian's chromium (installed by .ci/run). Without it the browser tests are
// skipped, unless CI is set: then they fail.
func chromiumPath(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (apt-get install chromium); CI is set, so this is a failure")
	}
	t.Skip("chromium is not installed (apt-get install chromium)")
	return ""
}

// browser is one headless Chromium of its own (its own profile: its own cookies), stopped when
// the test ends.
type browser struct {
	t   *testing.T
	ctx context.Context
	e   *env
}

func (e *env) browser(t *testing.T) *browser {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, e: e}
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatal(err)
	}
}

// open loads a page of the UI and returns its HTTP status.
func (b *browser) open(path string) int64 {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.e.url+path))
	if err != nil {
		b.t.Fatalf("%s: %v", path, err)
	}
	return resp.Status
}

// submit clicks a button that sends a form and waits for the page it leads to.
func (b *browser) submit(sel string) int64 {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("clicking %s: %v", sel, err)
	}
	return resp.Status
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *browser) html() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("html")))
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("document.querySelectorAll("+jsString(sel)+").length"))
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

func jsString(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// screenshot saves the viewport as name.png in $GATEHOUSE_SCREENSHOTS (default: the test's
// temporary directory).
func (b *browser) screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if dir == "" {
		dir = b.t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Fatal(err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s (%d bytes)", p, len(png))
}

// signIn goes through the issuer's login page as sub, with the browser.
func (b *browser) signIn(sub string) int64 {
	b.t.Helper()
	b.open("/ui/")
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	if !strings.HasPrefix(loc, b.e.issURL+"/authorize?") {
		b.t.Fatalf("/ui/ led to %s, not the issuer's login page", loc)
	}
	return b.submit("#sub-" + sub)
}

func TestInChromiumAliceChangesARoleAndAnAssignmentAndSeesTheDenials(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	var lines []string
	for i := 0; i < 40; i++ {
		at := now.Add(-time.Duration(i*35) * time.Minute)
		lines = append(lines, decision(at, "allow", "bob", "acme", "GET /orgs/{org}/workflows", "workflows:read", "granted"))
		if i%3 == 0 {
			lines = append(lines, decision(at.Add(-time.Minute), "deny", "dave", "acme", "POST /orgs/{org}/workflows", "workflows:create", "missing permission"))
		}
		if i%5 == 0 {
			lines = append(lines, decision(at.Add(-2*time.Minute), "deny", "erin", "acme", "GET /orgs/{org}/workflows", "workflows:read", "cross-tenant"))
		}
	}
	e.ingest(lines...)
	b := e.browser(t)
	if st := b.signIn("alice"); st != 200 {
		t.Fatalf("sign-in ended with %d", st)
	}
	if who := b.text("#whoami"); who != "alice" {
		t.Fatalf("signed in as %q", who)
	}
	// Keyboard: the first Tab reaches the skip link, which is visible when focused.
	b.do(chromedp.KeyEvent("\t"))
	if cls, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.activeElement.className")); cls != "skip" {
		t.Errorf("the first Tab focuses %q, not the skip link", cls)
	}
	if n := b.count("svg rect.deny"); n == 0 {
		t.Errorf("the overview's chart has no denial bars")
	}
	if top := b.text("#ts-h + table"); !strings.Contains(top, "dave") || !strings.Contains(top, "erin") {
		t.Errorf("top denied subjects: %q", top)
	}
	b.screenshot("overview")

	// The role matrix: add workflows:share to developer, see who it affects, confirm.
	b.open("/ui/roles")
	b.screenshot("roles")
	b.do(chromedp.Click(chromedp.CSS(`input[aria-label="developer grants workflows:share"]`)))
	if st := b.submit("#review-developer"); st != 200 {
		t.Fatalf("review: %d", st)
	}
	affected := b.text("#affected")
	for _, want := range []string{"svc-ci", "bob", "frank"} {
		if !strings.Contains(affected, want) {
			t.Errorf("the confirmation does not list %s: %q", want, affected)
		}
	}
	if r, _ := e.st.GetRole(ctx, "developer"); has(r.Permissions, "workflows:share") {
		t.Fatal("the role changed before the confirmation")
	}
	b.screenshot("role-confirmation")
	if st := b.submit("#confirm"); st != 200 || !strings.Contains(b.text(".notice"), "Role developer saved") {
		t.Fatalf("save: %d", st)
	}
	if r, _ := e.st.GetRole(ctx, "developer"); !has(r.Permissions, "workflows:share") {
		t.Fatalf("developer after the save: %v", r.Permissions)
	}

	// Add an assignment, then remove it.
	b.open("/ui/subjects?org=acme")
	b.do(chromedp.SendKeys(chromedp.CSS("#a-subject"), "zoe"), chromedp.SetValue(chromedp.CSS("#a-role"), "analyst"))
	if st := b.submit("#add"); st != 200 {
		t.Fatalf("add: %d", st)
	}
	notice := b.text(".notice")
	m := regexp.MustCompile(`Assignment (\d+) added`).FindStringSubmatch(notice)
	if m == nil {
		t.Fatalf("after add: %q", notice)
	}
	list, _ := e.st.ListAssignments(ctx, store.AssignmentFilter{Subject: "zoe", Org: "acme"})
	if len(list) != 1 || list[0].Role != "analyst" {
		t.Fatalf("zoe's assignments: %+v", list)
	}
	b.screenshot("subjects")
	if st := b.submit("#remove-" + m[1]); st != 200 || !strings.Contains(b.text(".notice"), "removed") {
		t.Fatalf("remove: %d", st)
	}
	if list, _ := e.st.ListAssignments(ctx, store.AssignmentFilter{Subject: "zoe", Org: "acme"}); len(list) != 0 {
		t.Fatalf("zoe still has %+v", list)
	}

	// The denials: the filtered table and its chart.
	if st := b.open("/ui/decisions?org=acme&decision=deny"); st != 200 {
		t.Fatalf("decisions: %d", st)
	}
	rows := b.count("#decisions tbody tr")
	table := b.text("#decisions")
	if rows != 22 || strings.Contains(table, "granted") || !strings.Contains(table, "missing permission") || !strings.Contains(table, "cross-tenant") {
		t.Errorf("the denial table: %d rows\n%s", rows, table)
	}
	if b.count("svg rect.deny") == 0 || b.count("svg rect.allow") != 0 {
		t.Errorf("the denial chart: %d deny bars, %d allow bars", b.count("svg rect.deny"), b.count("svg rect.allow"))
	}
	b.screenshot("decisions")
	b.open("/ui/can?org=acme&subject=svc-ci")
	if got := b.text("#checks"); !strings.Contains(got, "workflows:share") || !strings.Contains(got, "developer") {
		t.Errorf("svc-ci's checks: %q", got)
	}
	b.screenshot("can")
}

func TestInChromiumDaveTheViewerCannotReachTheAdminPages(t *testing.T) {
	e := newEnv(t)
	e.ingest(decision(time.Now().Add(-time.Minute), "deny", "bob", "acme", "GET /r", "workflows:read", "missing permission"))
	b := e.browser(t)
	if st := b.signIn("dave"); st != 403 {
		t.Fatalf("dave's overview: %d", st)
	}
	for _, path := range []string{"/ui/", "/ui/roles", "/ui/subjects?org=acme", "/ui/decisions?org=acme", "/ui/changes?org=acme", "/ui/whocan?org=acme&permission=workflows:read", "/ui/review"} {
		if st := b.open(path); st != 403 {
			t.Errorf("%s: %d", path, st)
		}
		if h := b.text("h1"); h != "Not allowed" {
			t.Errorf("%s: the heading is %q", path, h)
		}
		if html := b.html(); strings.Contains(html, "svc-ci") || strings.Contains(html, "missing permission") {
			t.Errorf("%s shows dave admin data", path)
		}
	}
	b.screenshot("dave-not-allowed")
}

func TestInChromiumErinOfGlobexNeverSeesAcme(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	e.ingest(decision(now.Add(-time.Hour), "deny", "dave", "acme", "POST /orgs/{org}/workflows", "workflows:create", "missing permission"),
		decision(now.Add(-time.Hour), "allow", "frank", "globex", "GET /orgs/{org}/workflows", "workflows:read", "granted"),
		decision(now.Add(-time.Minute), "deny", "frank", "globex", "DELETE /orgs/{org}/workflows", "workflows:delete", "missing permission"))
	b := e.browser(t)
	if st := b.signIn("erin"); st != 200 {
		t.Fatalf("erin's overview: %d", st)
	}
	// Every page erin reaches from the navigation, as she lands on it.
	links, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("nav[aria-label=Main] a")].map(a => a.getAttribute("href"))`))
	if err != nil || len(links) != 8 {
		t.Fatalf("navigation: %v %v", links, err)
	}
	reached := 0
	for _, path := range append(links, "/ui/can?subject=frank", "/ui/whocan?permission=workflows:read") {
		st := b.open(path)
		if html := b.html(); regexp.MustCompile(`(?i)acme`).MatchString(html) {
			t.Errorf("%s (%d) shows erin acme", path, st)
		}
		if st == 200 {
			reached++
		}
	}
	if reached < 8 {
		t.Errorf("erin reached %d pages", reached)
	}
	b.open("/ui/decisions")
	if rows := b.count("#decisions tbody tr"); rows != 2 {
		t.Errorf("erin's decisions: %d rows", rows)
	}
	for _, path := range []string{"/ui/subjects?org=acme", "/ui/decisions?org=acme", "/ui/decisions?org=", "/ui/changes?org="} {
		if st := b.open(path); st != 403 || strings.Contains(b.html(), "dave") {
			t.Errorf("%s: erin gets %d", path, st)
		}
	}
}
