package ui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/demo/issuer"
	"github.com/gatehouse-dev/gatehouse/server/admin"
	"github.com/gatehouse-dev/gatehouse/server/audit"
	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
	"github.com/gatehouse-dev/gatehouse/server/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var ctx = context.Background()

const clientID = "gatehouse-ui"

// env is the whole chain over a fresh database: the demo issuer (with its login page), the
// control plane's admin API with the UI's routes, and the UI, served together as gatehouse serve
// does. alice is the platform admin (admin org acme), erin the org admin of globex; demo/policy.yaml
// is imported.
type env struct {
	t        testing.TB
	url      string // the control plane (UI under /ui/)
	issURL   string
	iss      *issuer.Issuer
	st       *store.Store
	db       *audit.DB
	redirect string
	log      *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func listen(t testing.TB) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func serveOn(t testing.TB, ln net.Listener, h http.Handler) {
	s := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	s.Start()
	t.Cleanup(s.Close)
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dsn := pgtest.Shared(t).NewDatabase(t)
	issLn := listen(t)
	e := &env{t: t, issURL: "http://" + issLn.Addr().String(), log: &syncBuffer{}}
	var err error
	if e.iss, err = issuer.New(e.issURL); err != nil {
		t.Fatal(err)
	}
	serveOn(t, issLn, e.iss.Handler())
	if e.st, err = store.Open(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.st.Close)
	if _, err := e.st.Bootstrap(ctx, "cli:test", "alice", e.issURL, "acme"); err != nil {
		t.Fatal(err)
	}
	policy, err := os.ReadFile(filepath.Join("..", "..", "demo", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Import(ctx, "cli:test", policy); err != nil {
		t.Fatal(err)
	}
	for _, a := range []store.Assignment{
		{Subject: "erin", Issuer: e.issURL, Org: "globex", Role: store.RoleOrgAdmin},
		{Subject: "frank", Org: "globex", Role: "developer"},
		{Subject: "bob", Issuer: e.issURL, Org: "acme", Role: "developer"},
	} {
		if _, err := e.st.CreateAssignment(ctx, "cli:test", a); err != nil {
			t.Fatal(err)
		}
	}
	if e.db, err = audit.Open(ctx, dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.db.Close)
	cfg := gatehouse.CreateConfig()
	cfg.Issuers = []string{e.issURL}
	cfg.Audiences = []string{issuer.Audience}
	cfg.JWKSURL = e.issURL + "/jwks"
	cfg.RequireTyp = "at+jwt"
	adm, err := admin.New(ctx, admin.Options{Store: e.st, Config: cfg, AdminOrg: "acme", Log: e.log, Routes: Routes(e.db)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.Close)
	ln := listen(t)
	e.url = "http://" + ln.Addr().String()
	e.redirect = e.url + "/ui/callback"
	e.iss.AllowClient(clientID, e.redirect)
	web, err := New(Options{API: adm, Issuer: e.issURL, ClientID: clientID, RedirectURL: e.redirect, Config: cfg, Log: e.log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(web.Close)
	mux := http.NewServeMux()
	mux.Handle(Prefix, web)
	mux.Handle("/", adm)
	serveOn(t, ln, mux)
	return e
}

// ingest stores audit lines as a gateway writes them (through server/audit's parser).
func (e *env) ingest(lines ...string) {
	e.t.Helper()
	evs, _, p := audit.ParseBatch([]byte(strings.Join(lines, "\n")))
	if p != nil {
		e.t.Fatalf("audit batch: %+v", p)
	}
	if _, err := e.db.Store(ctx, evs, nil, audit.Stats{}); err != nil {
		e.t.Fatal(err)
	}
}

// decision is one audit line of the plugin's shape.
func decision(at time.Time, dec, sub, org, route, perm, reason string) string {
	status := 200
	if dec != "allow" {
		status = 403
	}
	return fmt.Sprintf(`{"gatehouse":"audit","time":%q,"middleware":"gw","decision":%q,"status":%d,"reason":%q,"route":%q,"permission":%q,"subject":%q,"issuer":"http://issuer:9000","org":%q,"method":"GET","path":"/orgs/%s/x","client":"10.0.0.1"}`,
		at.UTC().Format(time.RFC3339Nano), dec, status, reason, route, perm, sub, org, org)
}

// client is a browser without a script engine: a cookie jar, redirects followed.
func client(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

// signIn runs the whole code flow as sub: /ui/login, the issuer's login page, its form, the
// callback; it returns the browser and the page it ended on.
func (e *env) signIn(sub string) (*http.Client, answerPage) {
	e.t.Helper()
	c := client(e.t)
	pg := e.get(c, "/ui/login")
	if pg.status != 200 || !strings.HasPrefix(pg.url, e.issURL+"/authorize?") {
		e.t.Fatalf("login went to %s (%d): %s", pg.url, pg.status, pg.body)
	}
	u, _ := url.Parse(pg.url)
	form := u.Query()
	form.Set("sub", sub)
	resp, err := c.PostForm(e.issURL+"/authorize", form)
	if err != nil {
		e.t.Fatal(err)
	}
	home := readPage(e.t, resp)
	if strings.HasPrefix(home.url, e.url+Prefix+"callback") || !strings.HasPrefix(home.url, e.url+Prefix) {
		e.t.Fatalf("the sign-in of %s ended at %s (%d): %s", sub, home.url, home.status, home.body)
	}
	return c, home
}

type answerPage struct {
	status int
	url    string
	body   string
	header http.Header
}

func readPage(t testing.TB, resp *http.Response) answerPage {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answerPage{status: resp.StatusCode, url: resp.Request.URL.String(), body: string(b), header: resp.Header}
}

func (e *env) get(c *http.Client, path string) answerPage {
	e.t.Helper()
	resp, err := c.Get(e.url + path)
	if err != nil {
		e.t.Fatal(err)
	}
	return readPage(e.t, resp)
}

func (e *env) post(c *http.Client, path string, form url.Values) answerPage {
	e.t.Helper()
	req, _ := http.NewRequest("POST", e.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.url)
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return readPage(e.t, resp)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the token of a page's forms.
func csrf(t testing.TB, p answerPage) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no csrf field on %s:\n%s", p.url, p.body)
	}
	return m[1]
}
