package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
	"github.com/gatehouse-dev/gatehouse/server/store"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var ctx = context.Background()

const (
	testSecret  = "admin-api-test-secret-32-bytes!!"
	testIssuer  = "https://issuer.test"
	otherIssuer = "https://other-issuer.test"
	testAud     = "gatehouse-control-plane"
	adminOrgID  = "gatehouse"
	root        = "root" // bootstrapped platform admin
)

// env is a control plane over a fresh database: the store, the server and its URL.
type env struct {
	t     testing.TB
	store *store.Store
	srv   *Server
	url   string
	dsn   string
	log   *bytes.Buffer
}

type envOption func(*Options)

func withKey(k *SigningKey) envOption { return func(o *Options) { o.BundleKey = k } }

func withConfig(c *gatehouse.Config) envOption { return func(o *Options) { o.Config = c } }

// testConfig trusts testIssuer's HMAC tokens for testAud.
func testConfig() *gatehouse.Config {
	c := gatehouse.CreateConfig()
	c.Issuers = []string{testIssuer}
	c.Audiences = []string{testAud}
	c.Secret = testSecret
	return c
}

// newEnv starts a control plane whose platform admin is root (of testIssuer, in the admin org).
func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	dsn := pgtest.Shared(t).NewDatabase(t)
	return newEnvOn(t, dsn, opts...)
}

func newEnvOn(t testing.TB, dsn string, opts ...envOption) *env {
	t.Helper()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Bootstrap(ctx, "cli:test", root, testIssuer, adminOrgID); err != nil {
		t.Fatal(err)
	}
	log := &bytes.Buffer{}
	o := Options{Store: st, Config: testConfig(), Log: log}
	for _, f := range opts {
		f(&o)
	}
	s, err := New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &env{t: t, store: st, srv: s, url: hs.URL, dsn: dsn, log: log}
}

// claims of a test token; mint fills iss, aud, iat and exp.
type claims map[string]interface{}

// mint signs an HS256 token for sub in org, valid for ttl (negative: expired), with extra claims.
func mint(t testing.TB, sub, org string, ttl time.Duration, extra claims) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": testIssuer, "aud": testAud, "sub": sub, "iat": now.Add(-2 * time.Minute).Unix(), "exp": now.Add(ttl).Unix()}
	if org != "" {
		c["org_id"] = org
	}
	for k, v := range extra {
		c[k] = v
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tok(t testing.TB, sub, org string) string { return mint(t, sub, org, 10*time.Minute, nil) }

// answer is one HTTP answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) problem(t testing.TB) Problem {
	t.Helper()
	var p Problem
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatalf("status %d: want a problem body, got %q", a.status, a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("problem with Content-Type %q", ct)
	}
	return p
}

func (a answer) decode(t testing.TB, v interface{}) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("status %d: %v in %q", a.status, err, a.body)
	}
}

// req is one request of a test.
type req struct {
	method, path, token string
	body                interface{} // string: sent as is; else JSON
	header              map[string]string
}

func (e *env) do(r req) answer {
	e.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(data)
	}
	hr, err := http.NewRequest(r.method, e.url+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: data}
}

// must answers r with want, or fails showing the body.
func (e *env) must(want int, r req) answer {
	e.t.Helper()
	a := e.do(r)
	if a.status != want {
		e.t.Fatalf("%s %s: want %d, got %d: %s", r.method, r.path, want, a.status, a.body)
	}
	return a
}

// assign gives sub the role in org through the store (as bootstrap-like setup) and returns its id.
func (e *env) assign(sub, org, role string) int64 {
	e.t.Helper()
	a, err := e.store.CreateAssignment(ctx, "cli:test", store.Assignment{Subject: sub, Issuer: testIssuer, Org: org, Role: role})
	if err != nil {
		e.t.Fatal(err)
	}
	return a.ID
}

// seed creates the permissions, roles and assignments of a small workflows policy.
func (e *env) seed() {
	e.t.Helper()
	doc := `
permissions: [workflows:read, workflows:create, workflows:delete]
roles:
  viewer: [workflows:read]
  editor: [workflows:read, workflows:create]
  admin: [workflows:read, workflows:create, workflows:delete]
assignments:
  - {subject: bob, issuer: ` + testIssuer + `, org: acme, role: editor}
  - {subject: carol, issuer: ` + testIssuer + `, org: acme, role: viewer, scope: [/projects/p1]}
  - {subject: erin, issuer: ` + testIssuer + `, org: globex, role: admin}
`
	if _, err := e.store.Import(ctx, "cli:test", []byte(doc)); err != nil {
		e.t.Fatal(err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
