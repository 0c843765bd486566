package gatehouse

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestTheInlineReplayFindsWhatTheSlowPathStored: warmDecision builds the decision-cache key inline
// (a call costs the warm path too much under Yaegi); it must find the allow the slow path stored
// under decisionKey, and only for the same method, path and token.
func TestTheInlineReplayFindsWhatTheSlowPathStored(t *testing.T) {
	const secret = "fake-unit-test-secret-0123456789abcdef"
	for _, tenant := range []string{"path:org", "host:{org}.api.test"} {
		c := CreateConfig()
		c.Secret = secret
		c.Tenant = tenant
		c.TrustTokenPermissions = "true"
		c.Routes = []string{"GET /orgs/{org}/data data:read", "GET /data data:read"}
		g := newTestMiddleware(t, c, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "org_id": "acme", "permissions": []string{"data:read"},
			"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		path := "/orgs/acme/data"
		if tenant != "path:org" {
			path = "/data"
		}
		req := func(p, bearer string) *http.Request {
			r := httptest.NewRequest("GET", "http://acme.api.test"+p, nil)
			r.Header.Set("Authorization", "Bearer "+bearer)
			return r
		}
		schemed := func(scheme string) *http.Request {
			r := req(path, tok)
			r.Header.Set("Authorization", scheme+tok)
			return r
		}
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req(path, tok))
		if rec.Code != 200 {
			t.Fatalf("%s: first request: status %d", tenant, rec.Code)
		}
		// A miss is decided afresh (missed): without a verifier that panics and is answered 500,
		// so only a replay answers 200.
		verifier := g.verifier
		g.verifier = nil
		for _, tc := range []struct {
			what string
			r    *http.Request
			hit  bool
		}{
			{"the same request", req(path, tok), true},
			{"another path", req(path+"x", tok), false},
			{"another token", req(path, tok+"x"), false},
			{"the same request, the scheme in lower case", schemed("bearer "), true},
			{"the same request, the scheme in capitals", schemed("BEARER "), true},
			{"the same token under another scheme", schemed("Basic? "), false},
			{"the same token after a scheme without its space", schemed("Bearerx"), false},
		} {
			rec := httptest.NewRecorder()
			got := warmDecision(g, rec, tc.r, tc.r.Header, tc.r.Header["Authorization"]) && rec.Code == 200
			if got != tc.hit {
				t.Errorf("%s: %s: warm hit %v, want %v", tenant, tc.what, got, tc.hit)
			}
		}
		g.verifier = verifier
	}
}

// TestTheMissHandsOnDecisionKeysKey: warmDecision hands the key it built on a miss to the slow
// path (missed), which stores the allow under it; the entry must be stored under decisionKey's key
// (requestKey) or not at all when decisionKey has none (a method or host beyond its bounds).
func TestTheMissHandsOnDecisionKeysKey(t *testing.T) {
	const secret = "fake-unit-test-secret-0123456789abcdef"
	long := strings.Repeat("a", maxTenantKey)
	for _, tenant := range []string{"none", "host:{org}.api.test"} {
		c := CreateConfig()
		c.Secret = secret
		c.Tenant = tenant
		c.Unmatched = "authenticated"
		c.TrustTokenPermissions = "true"
		g := newTestMiddleware(t, c, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		if !g.plainForward {
			t.Fatalf("%s: not plainForward: warmDecision is not the warm path", tenant)
		}
		for _, tc := range []struct {
			what, method, host, scheme string
		}{
			{"a plain request", "GET", "acme.api.test", "Bearer "},
			{"the scheme in lower case", "GET", "acme.api.test", "bearer "},
			{"a method of maxMethodKey bytes", strings.Repeat("M", maxMethodKey), "acme.api.test", "Bearer "},
			{"a method beyond maxMethodKey", strings.Repeat("M", maxMethodKey+1), "acme.api.test", "Bearer "},
			{"a host of maxTenantKey bytes", "GET", long[:maxTenantKey-len(".api.test")] + ".api.test", "Bearer "},
			{"a host beyond maxTenantKey", "GET", long + ".api.test", "Bearer "},
		} {
			org := strings.TrimSuffix(tc.host, ".api.test")
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "org_id": org,
				"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
			if err != nil {
				t.Fatal(err)
			}
			g.decisions.m = map[string]*allowed{}
			g.decisions.bytes = 0
			r := httptest.NewRequest(tc.method, "http://"+tc.host+"/data", nil)
			r.Header.Set("Authorization", tc.scheme+tok)
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, r)
			want := requestKey(g, r)
			if rec.Code != 200 {
				t.Errorf("%s: %s: status %d", tenant, tc.what, rec.Code)
			}
			if want != "" {
				if len(g.decisions.m) != 1 || g.decisions.m[want] == nil {
					t.Errorf("%s: %s: stored %d entries, none under decisionKey's key", tenant, tc.what, len(g.decisions.m))
				}
			} else if len(g.decisions.m) != 0 {
				t.Errorf("%s: %s: no decisionKey, but %d entries stored", tenant, tc.what, len(g.decisions.m))
			}
		}
	}
}

// TestTheInlineReplayKeepsToTheWindowPutDecisionSets: the inline replays compare the clock with
// the window putDecision stores (nbf and exp widened by the leeway, cut at the assertion's remint
// time), not with the token's claims: putDecision must store exactly that window, and an entry
// past its window must not be replayed.
func TestTheInlineReplayKeepsToTheWindowPutDecisionSets(t *testing.T) {
	const secret = "fake-unit-test-secret-0123456789abcdef"
	c := CreateConfig()
	c.Secret = secret
	c.Leeway = "20s"
	c.Tenant = "none"
	c.Unmatched = "authenticated"
	g := newTestMiddleware(t, c, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	now := time.Now().Unix()
	exp, nbf := now+3600, now-60
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "org_id": "acme", "exp": exp, "nbf": nbf}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	req := func() *http.Request {
		r := httptest.NewRequest("GET", "/data", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	}
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, req())
	if rec.Code != 200 || len(g.decisions.m) != 1 {
		t.Fatalf("first request: status %d, %d cached decisions", rec.Code, len(g.decisions.m))
	}
	var a *allowed
	for _, v := range g.decisions.m {
		a = v
	}
	if a.from != nbf-20 || a.until != exp+20 {
		t.Fatalf("window [%d, %d), want [%d, %d)", a.from, a.until, nbf-20, exp+20)
	}
	r := req()
	if !warmDecision(g, httptest.NewRecorder(), r, r.Header, r.Header["Authorization"]) {
		t.Fatal("an entry inside its window was not replayed")
	}
	for _, w := range []struct {
		what        string
		from, until int64
	}{
		{"an entry whose window ended", a.from, now},
		{"an entry whose window has not begun", now + 10, a.until},
	} {
		b := *a
		b.from, b.until = w.from, w.until
		g.decisions.m[requestKey(g, req())] = &b
		r := req()
		if warmDecision(g, httptest.NewRecorder(), r, r.Header, r.Header["Authorization"]) {
			t.Errorf("%s was replayed", w.what)
		}
	}
	b := *a
	b.remintAt = now + 5
	putDecision(g.decisions, requestKey(g, req()), &b, g.leeway)
	if b.until != now+5 {
		t.Errorf("an entry to be reminted at %d: window ends at %d", now+5, b.until)
	}
}

// TestTheDecisionCacheKeepsToItsBounds: putDecision evicts only when an entry would not fit (its
// fast path skips makeRoom), so the bounds must hold whichever way an entry arrives: a full cache
// (entries), a cache out of bytes, and a key stored again (its old cost given back, not counted
// twice).
func TestTheDecisionCacheKeepsToItsBounds(t *testing.T) {
	const secret = "fake-unit-test-secret-0123456789abcdef"
	c := CreateConfig()
	c.Secret = secret
	c.Tenant = "none"
	c.Unmatched = "authenticated"
	g := newTestMiddleware(t, c, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "org_id": "acme", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/data", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	g.ServeHTTP(httptest.NewRecorder(), r)
	var a *allowed
	for _, v := range g.decisions.m {
		a = v
	}
	if a == nil {
		t.Fatal("the allow was not cached")
	}
	key := func(i int) string { return "GET\x00/k" + strconv.Itoa(i) + "\x00\x00" + tok }
	cost := func(i int) int64 {
		b := *a
		putDecision(newDecisionCache(1, 1<<30), key(i), &b, 0)
		return b.cost
	}
	for _, tc := range []struct {
		what       string
		max        int
		maxBytes   int64
		keys       []int
		wantLen    int
		wantLatest bool
	}{
		{"a cache of 3 entries given 10", 3, 1 << 30, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, true},
		{"a cache of two entries' bytes given 10", 100, 2*cost(10) + 1, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 2, true},
		{"one key stored five times", 100, 1 << 30, []int{4, 4, 4, 4, 4}, 1, true},
		{"an entry larger than the whole cache", 100, cost(1) - 1, []int{1}, 0, false},
	} {
		dc := newDecisionCache(tc.max, tc.maxBytes)
		for _, i := range tc.keys {
			b := *a
			putDecision(dc, key(i), &b, 0)
			if len(dc.m) > tc.max || dc.bytes > tc.maxBytes {
				t.Fatalf("%s: %d entries, %d bytes: beyond %d entries, %d bytes", tc.what, len(dc.m), dc.bytes, tc.max, tc.maxBytes)
			}
		}
		var sum int64
		for _, e := range dc.m {
			sum += e.cost
		}
		if len(dc.m) != tc.wantLen || dc.bytes != sum {
			t.Errorf("%s: %d entries (want %d), %d bytes counted for %d held", tc.what, len(dc.m), tc.wantLen, dc.bytes, sum)
		}
		if last := key(tc.keys[len(tc.keys)-1]); (dc.m[last] != nil) != tc.wantLatest {
			t.Errorf("%s: the last entry stored is held: %v, want %v", tc.what, dc.m[last] != nil, tc.wantLatest)
		}
	}
}

// TestAQueryReplayMintsAFreshAssertionWhenDue: a request whose query may hold _method (an escape)
// takes the override rule's path, whose replay (replay, reminted) mints a fresh assertion once the cached one is due, stores
// the fresh allow, and replays that one afterwards.
func TestAQueryReplayMintsAFreshAssertionWhenDue(t *testing.T) {
	const secret = "fake-unit-test-secret-0123456789abcdef"
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := CreateConfig()
	c.Secret = secret
	c.Tenant = "none"
	c.Unmatched = "authenticated"
	c.Assertion.Key = string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	c.Assertion.Issuer = "gateway"
	var seen string
	g := newTestMiddleware(t, c, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.Header.Get("X-Auth-Assertion") }))
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "org_id": "acme",
		"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	get := func() string {
		t.Helper()
		seen = ""
		// An escape in the query: the override rule's path, whose replay is replay's (a query
		// that cannot hold _method takes warmDecision, whose window already ends at remintAt).
		r := httptest.NewRequest("GET", "/data?q=a%20b", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, r)
		if rec.Code != 200 || seen == "" {
			t.Fatalf("status %d, assertion %q", rec.Code, seen)
		}
		return seen
	}
	first := get()
	if len(g.decisions.m) != 1 {
		t.Fatalf("%d cached decisions", len(g.decisions.m))
	}
	if again := get(); again != first {
		t.Fatal("a replay before the remint time minted a fresh assertion")
	}
	for k, a := range g.decisions.m {
		due := *a
		due.remintAt = time.Now().Unix() - 1
		g.decisions.m[k] = &due
	}
	fresh := get()
	if fresh == first {
		t.Fatal("a replay past the remint time replayed the old assertion")
	}
	for _, a := range g.decisions.m {
		if a.remintAt <= time.Now().Unix() {
			t.Fatalf("the fresh allow was not stored (remint at %d)", a.remintAt)
		}
	}
	if again := get(); again != fresh {
		t.Fatal("the fresh assertion was not replayed")
	}
}

// TestEveryCachingConfigurationReplaysItsAllows: the decision cache is read, not only written, in
// every configuration that has one: the inline warm path (plainForward, forwardToken off included)
// and, for the others (a tenant header, allows audited, signed public routes), serve's general warm
// path; a request with a query that cannot hold _method replays the allow of its path. A replay
// forwards what the fresh decision forwarded.
func TestEveryCachingConfigurationReplaysItsAllows(t *testing.T) {
	const secret = "fake-unit-test-secret-0123456789abcdef"
	for _, tc := range []struct {
		name  string
		edit  func(c *Config)
		plain bool
	}{
		{"the default configuration", func(*Config) {}, true},
		{"forwardToken off", func(c *Config) { c.ForwardToken = "false" }, true},
		{"allows audited", func(c *Config) { c.AuditAllowed = "true" }, false},
		{"a tenant header", func(c *Config) { c.Tenant = "header:X-Org" }, false},
	} {
		c := CreateConfig()
		c.Secret = secret
		c.Unmatched = "authenticated"
		tc.edit(c)
		var seen http.Header
		g := newTestMiddleware(t, c, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.Header.Clone() }))
		if g.plainForward != tc.plain || g.replaysInServe == tc.plain {
			t.Fatalf("%s: plainForward %v, replaysInServe %v", tc.name, g.plainForward, g.replaysInServe)
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "org_id": "acme",
			"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		req := func(target string) *http.Request {
			r := httptest.NewRequest("GET", target, nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			r.Header.Set("X-Org", "acme")
			return r
		}
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req("/data"))
		if rec.Code != 200 {
			t.Fatalf("%s: first request: status %d", tc.name, rec.Code)
		}
		fresh := seen
		// Without a verifier a fresh decision panics and is answered 500: only a replay answers 200.
		verifier := g.verifier
		g.verifier = nil
		for _, target := range []string{"/data", "/data?page=2"} {
			seen = nil
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, req(target))
			if rec.Code != 200 {
				t.Errorf("%s: %s was not replayed from the decision cache (status %d)", tc.name, target, rec.Code)
				continue
			}
			for _, name := range []string{"Authorization", "X-Org", "X-Auth-Subject", "X-Auth-Org", "X-Auth-Roles"} {
				if strings.Join(seen[name], ",") != strings.Join(fresh[name], ",") {
					t.Errorf("%s: %s replayed %s %q, the fresh decision forwarded %q", tc.name, target, name, seen[name], fresh[name])
				}
			}
		}
		// A query that may hold _method still takes the override rule's path (and is refused).
		rec = httptest.NewRecorder()
		g.ServeHTTP(rec, req("/data?_METHOD=DELETE"))
		if rec.Code != 400 {
			t.Errorf("%s: a _method query: status %d, want 400", tc.name, rec.Code)
		}
		g.verifier = verifier
	}
}
