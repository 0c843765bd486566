package ui

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/review"
)

func TestSignedInAliceReachesEveryPage(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	e.ingest(decision(now.Add(-2*time.Hour), "allow", "bob", "acme", "GET /orgs/{org}/workflows", "workflows:read", "granted"),
		decision(now.Add(-time.Hour), "deny", "dave", "acme", "POST /orgs/{org}/workflows", "workflows:create", "missing permission"),
		decision(now.Add(-30*time.Minute), "deny", "erin", "globex", "GET /orgs/{org}/workflows", "workflows:read", "missing permission"))
	c, home := e.signIn("alice")
	if home.status != 200 || !strings.Contains(home.body, `id="whoami">alice<`) || !strings.Contains(home.body, `<svg role="img"`) {
		t.Fatalf("after sign-in: %d %s\n%s", home.status, home.url, home.body)
	}
	for _, c2 := range []struct{ path, want string }{
		{"/ui/?org=acme", "Most denied subjects"},
		{"/ui/?org=", "every org"},
		{"/ui/roles", `aria-label="viewer grants workflows:read" checked`},
		{"/ui/subjects?org=acme", "svc-ci"},
		{"/ui/can?org=acme&subject=svc-ci", "workflows:create"},
		{"/ui/whocan?org=acme&permission=workflows:run", "svc-ci"},
		{"/ui/decisions?org=acme", "missing permission"},
		{"/ui/decisions?org=", "globex"},
		{"/ui/changes?org=", "create role developer"},
		{"/ui/changes?org=acme", "Change log"},
		{"/ui/review", "No review yet"},
	} {
		p := e.get(c, c2.path)
		if p.status != 200 || !strings.Contains(p.body, c2.want) {
			t.Errorf("%s: status %d, want 200 and %q in:\n%s", c2.path, p.status, c2.want, p.body)
		}
		if strings.Contains(p.body, "goroutine") || strings.Contains(p.body, ".go:") {
			t.Errorf("%s shows a stack trace", c2.path)
		}
	}
}

func TestAPageWithoutASessionSendsTheBrowserToSignIn(t *testing.T) {
	e := newEnv(t)
	c := client(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(e.url + "/ui/decisions?org=acme")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login?back="+url.QueryEscape("/ui/decisions?org=acme") {
		t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSignInReturnsToThePageAskedFor(t *testing.T) {
	e := newEnv(t)
	c := client(t)
	p := e.get(c, "/ui/roles")
	u, _ := url.Parse(p.url)
	form := u.Query()
	form.Set("sub", "alice")
	resp, err := c.PostForm(e.issURL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	p = readPage(t, resp)
	if p.url != e.url+"/ui/roles" || p.status != 200 {
		t.Fatalf("ended on %s (%d)", p.url, p.status)
	}
}

func TestASubjectNamedScriptIsShownEscaped(t *testing.T) {
	e := newEnv(t)
	e.ingest(decision(time.Now().Add(-time.Minute), "deny", "<script>alert(1)</script>", "acme", "GET /<b>", "workflows:read", "missing permission"))
	c, _ := e.signIn("alice")
	p := e.get(c, "/ui/subjects?org=acme")
	f := url.Values{"csrf": {csrf(t, p)}, "org": {"acme"}, "subject": {"<script>alert(1)</script>"}, "role": {"viewer"}}
	if p = e.post(c, "/ui/assignments/add", f); p.status != 200 {
		t.Fatalf("add: %d\n%s", p.status, p.body)
	}
	for _, path := range []string{"/ui/subjects?org=acme", "/ui/decisions?org=acme", "/ui/?org=acme", "/ui/whocan?org=acme&permission=workflows:read",
		"/ui/can?org=acme&subject=" + url.QueryEscape("<script>alert(1)</script>"), "/ui/changes?org=acme"} {
		p := e.get(c, path)
		if p.status != 200 && !strings.Contains(p.body, "unsafe path") { // the admin API refuses < in a path segment
			t.Errorf("%s: %d", path, p.status)
		}
		if strings.Contains(p.body, "<script>") || strings.Contains(p.body, "<b>") {
			t.Errorf("%s renders the subject unescaped", path)
		}
		if !strings.Contains(p.body, "&lt;script&gt;") && !strings.Contains(p.body, `\u003cscript\u003e`) {
			t.Errorf("%s does not show the subject", path)
		}
	}
}

func TestAFormWithoutTheSessionsTokenChangesNothing(t *testing.T) {
	e := newEnv(t)
	c, _ := e.signIn("alice")
	before, _ := e.st.Revision(ctx)
	for _, tc := range []struct {
		name   string
		form   url.Values
		origin string
	}{
		{"no token", url.Values{"org": {"acme"}, "subject": {"mallory"}, "role": {"admin"}}, ""},
		{"another token", url.Values{"csrf": {"x"}, "org": {"acme"}, "subject": {"mallory"}, "role": {"admin"}}, ""},
		{"the right token from another site", url.Values{"csrf": {csrf(t, e.get(c, "/ui/subjects?org=acme"))}, "org": {"acme"}, "subject": {"mallory"}, "role": {"admin"}}, "http://evil.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.url+"/ui/assignments/add", strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			p := readPage(t, resp)
			if p.status != http.StatusForbidden || !strings.Contains(p.body, "Nothing was changed") {
				t.Fatalf("%d\n%s", p.status, p.body)
			}
		})
	}
	if after, _ := e.st.Revision(ctx); after != before {
		t.Fatalf("revision %d -> %d", before, after)
	}
}

func TestTheSignInRefusesABadStateAReplayedCodeAndAWrongVerifier(t *testing.T) {
	e := newEnv(t)
	// A callback with no sign-in in progress.
	c := client(t)
	if p := e.get(c, "/ui/callback?code=x&state=y"); p.status != 400 || !strings.Contains(p.body, "no sign-in in progress") {
		t.Errorf("no pending sign-in: %d %s", p.status, p.body)
	}
	// A state that is not the pending one.
	c = client(t)
	p := e.get(c, "/ui/login")
	if p = e.get(c, "/ui/callback?code=x&state=forged"); p.status != 400 || !strings.Contains(p.body, "state") {
		t.Errorf("forged state: %d %s", p.status, p.body)
	}
	// The code and state of a real sign-in, replayed after it: the pending login is gone.
	c = client(t)
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.Path, "/ui/callback") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	p = e.get(c, "/ui/login")
	u, _ := url.Parse(p.url)
	form := u.Query()
	form.Set("sub", "alice")
	resp, err := c.PostForm(e.issURL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	c.CheckRedirect = nil
	if p = e.get(c, strings.TrimPrefix(callback, e.url)); p.status != 200 || !strings.Contains(p.body, "whoami") {
		t.Fatalf("first callback: %d %s", p.status, p.body)
	}
	if p = e.get(c, strings.TrimPrefix(callback, e.url)); p.status != 400 || !strings.Contains(p.body, "no sign-in in progress") {
		t.Errorf("replayed callback: %d %s", p.status, p.body)
	}
	// The issuer refuses a code exchanged with another verifier (PKCE) and a used code.
	p = e.get(client(t), "/ui/login")
	u, _ = url.Parse(p.url)
	form = u.Query()
	form.Set("sub", "alice")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.PostForm(e.issURL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	tok := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {e.redirect}, "client_id": {clientID}, "code_verifier": {strings.Repeat("a", 64)}}
	resp, err = http.PostForm(e.issURL+"/token", tok)
	if err != nil {
		t.Fatal(err)
	}
	p = readPage(t, resp)
	if p.status != 400 || !strings.Contains(p.body, "PKCE") {
		t.Errorf("wrong verifier: %d %s", p.status, p.body)
	}
	resp, _ = http.PostForm(e.issURL+"/token", tok)
	if p = readPage(t, resp); p.status != 400 || !strings.Contains(p.body, "used or expired") {
		t.Errorf("the code after a failed exchange: %d %s", p.status, p.body)
	}
}

func TestTheIssuerRefusesUnregisteredRedirectsAndMissingPKCE(t *testing.T) {
	e := newEnv(t)
	ok := url.Values{"client_id": {clientID}, "redirect_uri": {e.redirect}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}, "state": {"s"}}
	for _, tc := range []struct {
		name, key, value, want string
	}{
		{"another redirect URI", "redirect_uri", "http://evil.example/ui/callback", "not registered"},
		{"an unknown client", "client_id", "other", "unknown client_id"},
		{"no code challenge", "code_challenge", "", "PKCE"},
		{"the plain method", "code_challenge_method", "plain", "PKCE"},
		{"no openid scope", "scope", "profile", "openid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range ok {
				q[k] = v
			}
			q.Set(tc.key, tc.value)
			resp, err := http.Get(e.issURL + "/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			p := readPage(t, resp)
			if p.status != 400 || !strings.Contains(p.body, tc.want) || strings.Contains(p.body, `name="sub"`) {
				t.Fatalf("%d %s", p.status, p.body)
			}
		})
	}
	resp, err := http.Get(e.issURL + "/authorize?" + ok.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if p := readPage(t, resp); p.status != 200 || !strings.Contains(p.body, "no password") || !strings.Contains(p.body, `value="alice"`) {
		t.Fatalf("the login page: %d %s", p.status, p.body)
	}
}

func TestTheIDTokenMustCarryTheSignInsNonce(t *testing.T) {
	e := newEnv(t)
	c := client(t)
	p := e.get(c, "/ui/login")
	u, _ := url.Parse(p.url)
	form := u.Query()
	form.Set("nonce", "another-nonce") // the issuer puts what it is given in the ID token
	form.Set("sub", "alice")
	resp, err := c.PostForm(e.issURL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	if p = readPage(t, resp); p.status != 400 || !strings.Contains(p.body, "nonce") || strings.Contains(p.body, "whoami") {
		t.Fatalf("%d %s", p.status, p.body)
	}
}

func TestDaveTheViewerReachesNoAdminPage(t *testing.T) {
	e := newEnv(t)
	e.ingest(decision(time.Now().Add(-time.Minute), "deny", "bob", "acme", "GET /r", "workflows:read", "missing permission"))
	c, home := e.signIn("dave")
	if home.status != http.StatusForbidden || !strings.Contains(home.body, "Not allowed") {
		t.Fatalf("dave's overview: %d\n%s", home.status, home.body)
	}
	for _, path := range []string{"/ui/", "/ui/?org=", "/ui/roles", "/ui/subjects?org=acme", "/ui/can?org=acme&subject=bob", "/ui/whocan?org=acme&permission=workflows:read",
		"/ui/decisions?org=acme", "/ui/decisions?org=", "/ui/changes?org=acme", "/ui/changes?org=", "/ui/review"} {
		p := e.get(c, path)
		if p.status != http.StatusForbidden {
			t.Errorf("%s: dave gets %d, want 403", path, p.status)
		}
		for _, leak := range []string{"svc-ci", "missing permission", "workflows:create"} {
			if strings.Contains(p.body, leak) {
				t.Errorf("%s shows dave %q", path, leak)
			}
		}
	}
}

// acmeRE finds acme anywhere in a page (an org, a subject's org, a path).
var acmeRE = regexp.MustCompile(`(?i)acme`)

func TestErinOfGlobexNeverSeesAcme(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	e.ingest(decision(now.Add(-time.Hour), "deny", "dave", "acme", "POST /orgs/{org}/workflows", "workflows:create", "missing permission"),
		decision(now.Add(-time.Hour), "allow", "frank", "globex", "GET /orgs/{org}/workflows", "workflows:read", "granted"))
	c, home := e.signIn("erin")
	if home.status != 200 || !strings.Contains(home.body, "globex") {
		t.Fatalf("erin's overview: %d\n%s", home.status, home.body)
	}
	for _, path := range []string{"/ui/", "/ui/roles", "/ui/subjects", "/ui/can?subject=frank", "/ui/whocan?permission=workflows:read",
		"/ui/decisions", "/ui/changes"} {
		p := e.get(c, path)
		if p.status != 200 {
			t.Errorf("%s: erin gets %d\n%s", path, p.status, p.body)
		}
		if acmeRE.MatchString(p.body) {
			t.Errorf("%s shows erin acme:\n%s", path, p.body)
		}
	}
	for _, path := range []string{"/ui/?org=acme", "/ui/?org=", "/ui/subjects?org=acme", "/ui/decisions?org=acme", "/ui/decisions?org=",
		"/ui/changes?org=", "/ui/can?org=acme&subject=zed", "/ui/whocan?org=acme&permission=workflows:read", "/ui/review"} {
		p := e.get(c, path)
		if p.status != http.StatusForbidden {
			t.Errorf("%s: erin gets %d, want 403", path, p.status)
		}
		for _, leak := range []string{"svc-ci", "dave", "workflows:create\"", "bob"} {
			if strings.Contains(p.body, leak) {
				t.Errorf("%s shows erin %q", path, leak)
			}
		}
	}
}

func TestAliceChangesARoleAfterItsConfirmation(t *testing.T) {
	e := newEnv(t)
	c, _ := e.signIn("alice")
	roles := e.get(c, "/ui/roles")
	m := regexp.MustCompile(`action="/ui/roles/developer/review"><input type="hidden" name="csrf" value="([^"]+)"><input type="hidden" name="version" value="(\d+)">`).FindStringSubmatch(roles.body)
	if m == nil {
		t.Fatalf("no form for developer:\n%s", roles.body)
	}
	f := url.Values{"csrf": {m[1]}, "version": {m[2]}, "permission": {"workflows:create", "workflows:read", "workflows:run", "workflows:share"}}
	review := e.post(c, "/ui/roles/developer/review", f)
	for _, want := range []string{"grants <code>workflows:share</code> (added)", "<td>svc-ci</td>", "<td>bob</td>", "<td>frank</td><td></td><td>globex</td>", "3 subject(s)"} {
		if !strings.Contains(review.body, want) {
			t.Errorf("the confirmation lacks %q:\n%s", want, review.body)
		}
	}
	if r, _ := e.st.GetRole(ctx, "developer"); len(r.Permissions) != 3 {
		t.Fatalf("the review saved already: %v", r.Permissions)
	}
	saved := e.post(c, "/ui/roles/developer/save", f)
	if saved.status != 200 || !strings.Contains(saved.body, "Role developer saved.") {
		t.Fatalf("save: %d\n%s", saved.status, saved.body)
	}
	if r, _ := e.st.GetRole(ctx, "developer"); len(r.Permissions) != 4 {
		t.Fatalf("after save: %v", r.Permissions)
	}
	// The same form again names the old version: 412, nothing saved.
	f.Set("permission", "workflows:read")
	again := e.post(c, "/ui/roles/developer/save", f)
	if again.status != http.StatusPreconditionFailed || !strings.Contains(again.body, "Someone else changed it first") {
		t.Fatalf("stale save: %d\n%s", again.status, again.body)
	}
	if r, _ := e.st.GetRole(ctx, "developer"); len(r.Permissions) != 4 {
		t.Fatalf("after the stale save: %v", r.Permissions)
	}
}

func TestErinCannotChangeARole(t *testing.T) {
	e := newEnv(t)
	c, _ := e.signIn("erin")
	roles := e.get(c, "/ui/roles")
	m := regexp.MustCompile(`name="version" value="(\d+)"`).FindStringSubmatch(roles.body)
	f := url.Values{"csrf": {csrf(t, roles)}, "version": {m[1]}, "permission": {"workflows:read"}}
	p := e.post(c, "/ui/roles/admin/save", f)
	if p.status != http.StatusForbidden || !strings.Contains(p.body, "does not give erin (org globex) the permission gatehouse:roles:write") {
		t.Fatalf("%d\n%s", p.status, p.body)
	}
	if r, _ := e.st.GetRole(ctx, "admin"); len(r.Permissions) != 5 {
		t.Fatalf("erin changed admin: %v", r.Permissions)
	}
}

func TestAnUnknownRoleIsShownAsTheAPIsProblem(t *testing.T) {
	e := newEnv(t)
	c, _ := e.signIn("alice")
	p := e.get(c, "/ui/subjects?org=acme")
	p = e.post(c, "/ui/assignments/add", url.Values{"csrf": {csrf(t, p)}, "org": {"acme"}, "subject": {"zoe"}, "role": {"editr"}})
	if p.status != 422 || !strings.Contains(p.body, `unknown role &#34;editr&#34;`) || !strings.Contains(p.body, "Field: role") {
		t.Fatalf("%d\n%s", p.status, p.body)
	}
}

func TestSignOutEndsTheSession(t *testing.T) {
	e := newEnv(t)
	c, home := e.signIn("alice")
	p := e.post(c, "/ui/logout", url.Values{"csrf": {csrf(t, home)}})
	if p.status != 200 || !strings.Contains(p.body, "signed out") {
		t.Fatalf("%d %s", p.status, p.body)
	}
	noFollow := *c
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noFollow.Get(e.url + "/ui/roles")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after sign-out: %d", resp.StatusCode)
	}
}

func TestDecisionFiltersAndPages(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	var lines []string
	for i := 0; i < 120; i++ {
		dec := "allow"
		if i%3 == 0 {
			dec = "deny"
		}
		lines = append(lines, decision(now.Add(-time.Duration(i)*time.Minute), dec, "svc-"+string(rune('a'+i%4)), "acme", "GET /r", "workflows:read", "r"+dec))
	}
	e.ingest(lines...)
	c, _ := e.signIn("alice")
	rows := func(p answerPage) int {
		_, table, _ := strings.Cut(p.body, `id="decisions"`)
		return strings.Count(table, "<tr><td>")
	}
	p := e.get(c, "/ui/decisions?org=acme&decision=deny")
	if n := rows(p); n != 40 || strings.Contains(p.body, "rallow") {
		t.Errorf("denials: %d rows", n)
	}
	p = e.get(c, "/ui/decisions?org=acme")
	if n := rows(p); n != 50 || !strings.Contains(p.body, `id="older"`) {
		t.Fatalf("first page: %d rows", n)
	}
	seen := map[string]bool{}
	pages := 0
	for next := "/ui/decisions?org=acme"; next != ""; pages++ {
		p := e.get(c, next)
		for _, m := range regexp.MustCompile(`<tr><td>([^<]+)</td><td>(svc-.)</td>`).FindAllStringSubmatch(p.body, -1) {
			seen[m[1]+m[2]] = true
		}
		next = ""
		if m := regexp.MustCompile(`href="/ui(/decisions\?[^"]+)" id="older"`).FindStringSubmatch(p.body); m != nil {
			next = "/ui" + strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if pages != 3 || len(seen) != 120 {
		t.Errorf("%d pages, %d distinct rows", pages, len(seen))
	}
	p = e.get(c, "/ui/decisions?org=acme&from=yesterday")
	if p.status != 400 || !strings.Contains(p.body, "Field: from") {
		t.Errorf("bad from: %d", p.status)
	}
	p = e.get(c, "/ui/decisions?org=acme&subject=svc-b&from="+now.Add(-30*time.Minute).UTC().Format("2006-01-02T15:04"))
	if n := rows(p); n < 7 || n > 8 || strings.Contains(p.body, "<td>svc-a</td>") {
		t.Errorf("subject and from: %d rows", n)
	}
}

func TestAPanicShowsTheGenericErrorPage(t *testing.T) {
	e := newEnv(t)
	u := &UI{o: Options{Log: e.log, Now: time.Now}}
	var err error
	if u.pages, err = parsePages(); err != nil {
		t.Fatal(err)
	}
	u.mux = http.NewServeMux()
	u.mux.HandleFunc("/ui/boom", func(http.ResponseWriter, *http.Request) { panic("secret detail at handler.go:42") })
	rec := &recorder{header: http.Header{}}
	u.ServeHTTP(rec, mustRequest(t, "GET", "/ui/boom"))
	body := rec.body.String()
	if rec.status != 500 || !strings.Contains(body, "Something went wrong") || strings.Contains(body, "secret detail") || strings.Contains(body, "goroutine") {
		t.Fatalf("%d\n%s", rec.status, body)
	}
	if !strings.Contains(e.log.String(), "secret detail") {
		t.Fatalf("the log lacks the panic: %s", e.log.String())
	}
}

func mustRequest(t testing.TB, method, path string) *http.Request {
	r, err := http.NewRequest(method, "http://x"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAFloodOfSignInsEvictsNoSignedInSession(t *testing.T) {
	defer func(n int) { maxSessions = n }(maxSessions)
	maxSessions = 3
	var ss sessions
	ss.init()
	now := time.Now()
	ss.put(&session{id: "alice", token: "t", expires: now.Add(time.Minute)}, now)
	for i := 0; i < 10; i++ {
		ss.put(&session{id: "pending-" + strconv.Itoa(i), state: "s", expires: now.Add(10 * time.Minute)}, now)
	}
	if ss.get("alice", now) == nil || len(ss.byID) != 3 || ss.get("pending-9", now) == nil {
		t.Fatalf("kept %d sessions, alice's: %v", len(ss.byID), ss.get("alice", now) != nil)
	}
	ss.put(&session{id: "bob", token: "t", expires: now.Add(time.Hour)}, now)
	ss.put(&session{id: "carol", token: "t", expires: now.Add(time.Hour)}, now)
	ss.put(&session{id: "dave", token: "t", expires: now.Add(time.Hour)}, now)
	if ss.get("alice", now) != nil || ss.get("bob", now) == nil || ss.get("dave", now) == nil {
		t.Fatal("with no pending sign-in left, the session closest to expiring goes")
	}
	if ss.get("bob", now.Add(2*time.Hour)) != nil {
		t.Fatal("an expired session is still served")
	}
}

func TestTheLatestReviewIsShownToPlatformAdminsOnly(t *testing.T) {
	e := newEnv(t)
	at := time.Now().UTC().Truncate(time.Second)
	for _, title := range []string{"an older review", "dave denied 30 times in a minute"} {
		r := &review.Report{At: at, Since: at.Add(-24 * time.Hour), Counts: map[string]int{"high": 1},
			Findings: []review.Finding{{Key: "burst:dave", Class: "denial-burst", Severity: "high", Title: title, Evidence: map[string]interface{}{"subject": "dave"}}}}
		if err := review.Save(ctx, e.db.Pool(), r); err != nil {
			t.Fatal(err)
		}
		at = at.Add(time.Minute)
	}
	c, _ := e.signIn("alice")
	p := e.get(c, "/ui/review")
	if p.status != 200 || !strings.Contains(p.body, "dave denied 30 times in a minute") || strings.Contains(p.body, "an older review") || !strings.Contains(p.body, `class="sev-high"`) {
		t.Fatalf("%d\n%s", p.status, p.body)
	}
	c, _ = e.signIn("erin")
	if p := e.get(c, "/ui/review"); p.status != http.StatusForbidden || strings.Contains(p.body, "dave") {
		t.Fatalf("erin: %d\n%s", p.status, p.body)
	}
}
