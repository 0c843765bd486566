package harness

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/tokens"
)

// The test's control plane implements docs/control-plane.md: GET /v1/bundle (ETag, If-None-Match,
// 304, signed with Ed25519 when it has a key) and GET /v1/subjects/{subject}/assignments.

const cpCredential = "gw-credential.test-0123456789"

var cpRoutes = []string{
	"GET /orgs/{org}/posts            posts:read",
	"DELETE /orgs/{org}/posts/{id}    posts:delete",
	"GET /healthz                     public",
}

// cpBundle is the policy document with alice assigned role in acme ("" for no assignment).
func cpBundle(role string) string {
	doc := `{"permissions":["posts:delete","posts:read"],"roles":{"moderator":["posts:delete","posts:read"],"user":["posts:read"]},"assignments":[`
	if role != "" {
		doc += `{"subject":"alice","org":"acme","role":"` + role + `"}`
	}
	return doc + `]}`
}

type controlPlane struct {
	*httptest.Server
	priv  ed25519.PrivateKey
	other ed25519.PrivateKey // a key gateways do not trust
	kid   string
	pub   string // PEM

	mu          sync.Mutex
	doc         string
	rev         int
	signed      bool
	mode        string            // how the bundle is spoiled ("" for not at all)
	subjects    map[string]string // subject → its assignments (a JSON list)
	subjectMode string
	inm         []string // If-None-Match of each bundle request
	auth        []string // Authorization of each request

	down       atomic.Bool
	delay      atomic.Int64 // nanoseconds every answer waits
	bundles    atomic.Int64 // bundle requests
	notChanged atomic.Int64 // of which answered 304
	lookups    atomic.Int64 // per-subject requests
}

func newControlPlane(t testing.TB, signed bool) *controlPlane {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	cp := &controlPlane{priv: priv, other: other, pub: pemOf(pub), doc: cpBundle("moderator"), rev: 10, signed: signed, subjects: map[string]string{}}
	k, err := tokens.ParsePEMKeys(cp.pub)
	if err != nil {
		t.Fatal(err)
	}
	cp.kid = tokens.Thumbprint(k[0])
	cp.Server = httptest.NewServer(http.HandlerFunc(cp.serve))
	t.Cleanup(cp.Close)
	return cp
}

func (cp *controlPlane) set(f func(cp *controlPlane)) {
	cp.mu.Lock()
	f(cp)
	cp.mu.Unlock()
}

func (cp *controlPlane) sign(key ed25519.PrivateKey, typ, kid string, rev int, payload string) string {
	h, _ := json.Marshal(map[string]interface{}{"alg": "EdDSA", "kid": kid, "typ": typ, "rev": rev})
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(h) + "." + enc.EncodeToString([]byte(payload))
	return input + "." + enc.EncodeToString(ed25519.Sign(key, []byte(input)))
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]interface{}{"status": status, "detail": detail})
}

func (cp *controlPlane) serve(w http.ResponseWriter, r *http.Request) {
	time.Sleep(time.Duration(cp.delay.Load()))
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.auth = append(cp.auth, r.Header.Get("Authorization"))
	if strings.HasPrefix(r.URL.Path, "/v1/subjects/") {
		cp.lookups.Add(1)
		cp.serveSubject(w, r)
		return
	}
	cp.bundles.Add(1)
	cp.inm = append(cp.inm, r.Header.Get("If-None-Match"))
	if cp.down.Load() {
		problem(w, 503, "the store is unreachable")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+cpCredential {
		problem(w, 401, "bad credential")
		return
	}
	doc := cp.doc
	if cp.mode == "policy rules" {
		doc = `{"permissions":["posts:*"]}`
	}
	if cp.mode == "not JSON" {
		doc = `{"permissions": [`
	}
	sum := sha256.Sum256([]byte(doc + cp.mode))
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Gatehouse-Revision", strconv.Itoa(cp.rev))
	w.Header().Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == etag {
		cp.notChanged.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body, ct := doc, "application/json"
	if cp.signed {
		key, typ, kid, rev := cp.priv, "gatehouse-bundle+jws", cp.kid, cp.rev
		switch cp.mode {
		case "bad signature":
			key = cp.other
		case "wrong typ":
			typ = "gatehouse-assignments+jws"
		case "unknown kid":
			kid = "not-a-configured-key"
		case "rollback":
			rev = 3
		}
		body, ct = cp.sign(key, typ, kid, rev, doc), "application/jose"
		if cp.mode == "unsigned" {
			body, ct = doc, "application/json"
		}
	}
	w.Header().Set("Content-Type", ct)
	w.Write([]byte(body))
}

func (cp *controlPlane) serveSubject(w http.ResponseWriter, r *http.Request) {
	if cp.down.Load() {
		problem(w, 503, "the store is unreachable")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+cpCredential {
		problem(w, 401, "bad credential")
		return
	}
	subject := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/subjects/"), "/assignments")
	list := cp.subjects[subject]
	if list == "" {
		list = "[]"
	}
	named := subject
	if cp.subjectMode == "another subject" {
		named = "mallory"
	}
	body := `{"subject":` + strconv.Quote(named) + `,"issuer":` + strconv.Quote(r.URL.Query().Get("issuer")) + `,"rev":` + strconv.Itoa(cp.rev) + `,"assignments":` + list + `}`
	ct := "application/json"
	if cp.signed {
		body, ct = cp.sign(cp.priv, "gatehouse-assignments+jws", cp.kid, cp.rev, body), "application/jose"
	}
	w.Header().Set("Content-Type", ct)
	w.Write([]byte(body))
}

// skipInterpretedUnderRace skips a concurrent scenario of the interpreted plugin under -race: the
// detector reports Yaegi's own lazy type cache (see concurrency_test.go); test.sh runs the harness
// without -race too.
func skipInterpretedUnderRace(t *testing.T, l interface{ Name() string }) {
	if raceEnabled && l.Name() == "yaegi" {
		t.Skip("yaegi variant skipped under -race")
	}
}

// bundleConfig is a middleware whose policy is the control plane's bundle.
func bundleConfig(cp *controlPlane, kv ...interface{}) map[string]interface{} {
	c := baseConfig("routes", cpRoutes, "policyURL", cp.URL+"/v1/bundle", "policyCredential", cpCredential, "policyReload", "100ms")
	if cp.signed {
		c["policyKey"] = cp.pub
	}
	for k, v := range cfg(kv...) {
		c[k] = v
	}
	return c
}

// lookupConfig is a middleware with an inline policy (roles, no assignments) and per-subject assignments.
func lookupConfig(cp *controlPlane, kv ...interface{}) map[string]interface{} {
	c := baseConfig("routes", cpRoutes, "policy", cpBundle(""), "policyCredential", cpCredential,
		"assignmentsURL", cp.URL+"/v1/subjects/{subject}/assignments?issuer={issuer}", "assignmentsTTL", "1m", "assignmentsStale", "400ms")
	if cp.signed {
		c["policyKey"] = cp.pub
	}
	for k, v := range cfg(kv...) {
		c[k] = v
	}
	return c
}

func aliceToken(t testing.TB) string { return mint(t, "ES256", claims("alice", "acme", nil, nil), nil) }

var deletePost = request{method: "DELETE", path: "/orgs/acme/posts/p1"}

func (r request) with(token string) request { r.token = token; return r }

// errorLines returns the lines of stderr that report an error about url.
func errorLines(lines []string, url string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, `"error"`) && strings.Contains(l, url) {
			out = append(out, l)
		}
	}
	return out
}

func TestPolicyFromTheControlPlane(t *testing.T) {
	for _, l := range loaders(t) {
		l := l
		t.Run(l.Name()+"/New makes no request; concurrent first requests wait for one fetch of the first bundle", func(t *testing.T) {
			skipInterpretedUnderRace(t, l)
			cp := newControlPlane(t, true)
			cp.delay.Store(int64(200 * time.Millisecond))
			h, b := instance(t, l, bundleConfig(cp))
			if n := cp.bundles.Load(); n != 0 {
				t.Fatalf("New fetched %d times", n)
			}
			tok := aliceToken(t)
			var wg sync.WaitGroup
			codes := make([]int, 5)
			for i := 0; i < 5; i++ {
				i := i
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i] = serve(h, deletePost.with(tok)).Code
				}()
			}
			wg.Wait()
			for i, c := range codes {
				if c != 200 {
					t.Errorf("request %d: status %d", i, c)
				}
			}
			if n := cp.bundles.Load(); n != 1 || b.calls != 5 {
				t.Errorf("bundle fetches %d (want 1), backend calls %d (want 5)", n, b.calls)
			}
		})
		t.Run(l.Name()+"/with the control plane down and no bundle yet, protected routes answer 503 and public ones pass", func(t *testing.T) {
			cp := newControlPlane(t, true)
			cp.down.Store(true)
			h, b := instance(t, l, bundleConfig(cp))
			tok := aliceToken(t)
			var rec *httptest.ResponseRecorder
			lines := captureStderr(t, func() { rec = serve(h, deletePost.with(tok)) })
			if rec.Code != 503 || b.calls != 0 || rec.Header().Get("Retry-After") == "" {
				t.Fatalf("status %d, backend calls %d, Retry-After %q", rec.Code, b.calls, rec.Header().Get("Retry-After"))
			}
			if !strings.Contains(rec.Body.String(), "policy not yet available from the control plane") {
				t.Errorf("body %s", rec.Body.String())
			}
			audited := false
			for _, line := range lines {
				if s, _ := lineField(line, "decision"); s == "deny" && strings.Contains(line, `"status":503`) {
					audited = true
				}
			}
			if !audited || len(errorLines(lines, cp.URL)) != 1 {
				t.Errorf("want an audit line and one error line, got %q", lines)
			}
			if rec := serve(h, request{path: "/healthz"}); rec.Code != 200 {
				t.Errorf("public route: %d", rec.Code)
			}
			cp.down.Store(false)
			time.Sleep(120 * time.Millisecond)
			if rec := serve(h, deletePost.with(tok)); rec.Code != 200 {
				t.Errorf("after the control plane came back: %d", rec.Code)
			}
		})
		t.Run(l.Name()+"/an unchanged bundle is re-checked with If-None-Match and answered 304", func(t *testing.T) {
			cp := newControlPlane(t, true)
			h, _ := instance(t, l, bundleConfig(cp, "cacheSize", "0"))
			tok := aliceToken(t)
			for i := 0; i < 3; i++ {
				if rec := serve(h, deletePost.with(tok)); rec.Code != 200 {
					t.Fatalf("request %d: %d", i, rec.Code)
				}
				time.Sleep(120 * time.Millisecond)
			}
			cp.mu.Lock()
			inm := append([]string(nil), cp.inm...)
			cp.mu.Unlock()
			if len(inm) != 3 || inm[0] != "" || inm[1] == "" || inm[2] != inm[1] || cp.notChanged.Load() != 2 {
				t.Fatalf("If-None-Match per request %q, 304s %d", inm, cp.notChanged.Load())
			}
		})
		t.Run(l.Name()+"/a changed bundle revokes a cached allow within policyReload, with the same token", func(t *testing.T) {
			cp := newControlPlane(t, true)
			h, b := instance(t, l, bundleConfig(cp))
			tok := aliceToken(t)
			for i := 0; i < 3; i++ {
				if rec := serve(h, deletePost.with(tok)); rec.Code != 200 {
					t.Fatalf("moderator: %d", rec.Code)
				}
			}
			fetches := cp.bundles.Load()
			cp.set(func(cp *controlPlane) { cp.doc = cpBundle("user"); cp.rev = 11 })
			time.Sleep(120 * time.Millisecond)
			if rec := serve(h, deletePost.with(tok)); rec.Code != 403 || b.calls != 3 {
				t.Fatalf("after the demotion: %d (backend calls %d)", rec.Code, b.calls)
			}
			if cp.bundles.Load() != fetches+1 {
				t.Errorf("bundle fetches %d, want %d", cp.bundles.Load(), fetches+1)
			}
			if rec := serve(h, request{path: "/orgs/acme/posts"}.with(tok)); rec.Code != 200 {
				t.Errorf("the user role still reads: %d", rec.Code)
			}
		})
		for _, mode := range []string{"not JSON", "policy rules", "bad signature", "wrong typ", "unknown kid", "unsigned", "rollback"} {
			mode := mode
			t.Run(l.Name()+"/a bad bundle ("+mode+") keeps the last good one and is reported once", func(t *testing.T) {
				cp := newControlPlane(t, true)
				h, _ := instance(t, l, bundleConfig(cp))
				tok := aliceToken(t)
				if rec := serve(h, deletePost.with(tok)); rec.Code != 200 {
					t.Fatalf("first bundle: %d", rec.Code)
				}
				// The spoiled bundle would demote alice: a 403 would mean it was taken.
				cp.set(func(cp *controlPlane) { cp.doc = cpBundle("user"); cp.rev = 11; cp.mode = mode })
				lines := captureStderr(t, func() {
					for i := 0; i < 3; i++ {
						time.Sleep(120 * time.Millisecond)
						if rec := serve(h, deletePost.with(tok)); rec.Code != 200 {
							t.Errorf("with the bad bundle served: %d", rec.Code)
						}
					}
				})
				if n := cp.bundles.Load(); n < 4 {
					t.Errorf("bundle fetches %d, want 4", n)
				}
				if errs := errorLines(lines, cp.URL); len(errs) != 1 || !strings.Contains(errs[0], "keeping the last good bundle") {
					t.Errorf("want one error line, got %q", errs)
				}
				cp.set(func(cp *controlPlane) { cp.mode = "" })
				time.Sleep(120 * time.Millisecond)
				if rec := serve(h, deletePost.with(tok)); rec.Code != 403 {
					t.Errorf("the good bundle that follows is taken: %d", rec.Code)
				}
			})
		}
		t.Run(l.Name()+"/a forged first bundle is refused: protected routes stay 503", func(t *testing.T) {
			cp := newControlPlane(t, true)
			cp.set(func(cp *controlPlane) { cp.mode = "bad signature" })
			h, b := instance(t, l, bundleConfig(cp))
			if rec := serve(h, deletePost.with(aliceToken(t))); rec.Code != 503 || b.calls != 0 {
				t.Fatalf("status %d, backend calls %d", rec.Code, b.calls)
			}
		})
		t.Run(l.Name()+"/an outage keeps the last good bundle and is reported once", func(t *testing.T) {
			cp := newControlPlane(t, false)
			h, _ := instance(t, l, bundleConfig(cp, "cacheSize", "0"))
			tok := aliceToken(t)
			if rec := serve(h, deletePost.with(tok)); rec.Code != 200 {
				t.Fatalf("first bundle: %d", rec.Code)
			}
			cp.down.Store(true)
			lines := captureStderr(t, func() {
				for i := 0; i < 3; i++ {
					time.Sleep(120 * time.Millisecond)
					if rec := serve(h, deletePost.with(tok)); rec.Code != 200 {
						t.Errorf("during the outage: %d", rec.Code)
					}
				}
			})
			if errs := errorLines(lines, cp.URL); len(errs) != 1 || !strings.Contains(errs[0], "status 503: the store is unreachable") {
				t.Errorf("want one error line naming the answer, got %q", errs)
			}
		})
		t.Run(l.Name()+"/ten middleware instances with the same settings share one fetch", func(t *testing.T) {
			cp := newControlPlane(t, true)
			tok := aliceToken(t)
			for i := 0; i < 10; i++ {
				h, _ := instance(t, l, bundleConfig(cp, "policyReload", "1m"))
				if rec := serve(h, deletePost.with(tok)); rec.Code != 200 {
					t.Fatalf("instance %d: %d", i, rec.Code)
				}
			}
			if n := cp.bundles.Load(); n != 1 {
				t.Errorf("bundle fetches %d across 10 instances, want 1", n)
			}
		})
		t.Run(l.Name()+"/the credential is sent as a Bearer token, and a refused one leaves 503", func(t *testing.T) {
			cp := newControlPlane(t, false)
			h, _ := instance(t, l, bundleConfig(cp))
			if rec := serve(h, deletePost.with(aliceToken(t))); rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			cp.mu.Lock()
			auth := cp.auth[0]
			cp.mu.Unlock()
			if auth != "Bearer "+cpCredential {
				t.Errorf("Authorization %q", auth)
			}
			cp2 := newControlPlane(t, false)
			h2, _ := instance(t, l, bundleConfig(cp2, "policyCredential", "another-credential"))
			var rec *httptest.ResponseRecorder
			lines := captureStderr(t, func() { rec = serve(h2, deletePost.with(aliceToken(t))) })
			if rec.Code != 503 {
				t.Errorf("with a refused credential: %d", rec.Code)
			}
			if errs := errorLines(lines, cp2.URL); len(errs) != 1 || !strings.Contains(errs[0], "status 401") {
				t.Errorf("error lines %q", errs)
			}
		})
		t.Run(l.Name()+"/policyCredentialFile is read at every fetch: a rotated token is used without a restart", func(t *testing.T) {
			cp := newControlPlane(t, false)
			file := filepath.Join(t.TempDir(), "credential")
			if err := os.WriteFile(file, []byte("expired-token\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			c := bundleConfig(cp, "policyCredentialFile", file)
			delete(c, "policyCredential")
			h, _ := instance(t, l, c)
			tok := aliceToken(t)
			if rec := serve(h, deletePost.with(tok)); rec.Code != 503 {
				t.Fatalf("with a token the control plane refuses: %d", rec.Code)
			}
			if err := os.WriteFile(file, []byte(cpCredential+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			time.Sleep(120 * time.Millisecond)
			if rec := serve(h, deletePost.with(tok)); rec.Code != 200 {
				t.Fatalf("after the rotation: %d", rec.Code)
			}
		})
		t.Run(l.Name()+"/a bundle lacking a route's permission is reported once, naming the route, and the route denies", func(t *testing.T) {
			cp := newControlPlane(t, false)
			cp.set(func(cp *controlPlane) {
				cp.doc = `{"permissions":["posts:read"],"roles":{"user":["posts:read"]},"assignments":[{"subject":"alice","org":"acme","role":"user"}]}`
			})
			h, _ := instance(t, l, bundleConfig(cp))
			tok := aliceToken(t)
			lines := captureStderr(t, func() {
				for i := 0; i < 3; i++ {
					if rec := serve(h, deletePost.with(tok)); rec.Code != 403 {
						t.Errorf("a route whose permission the bundle lacks: %d", rec.Code)
					}
				}
			})
			var found []string
			for _, line := range lines {
				if strings.Contains(line, `"policyURL"`) {
					found = append(found, line)
				}
			}
			if len(found) != 1 || !strings.Contains(found[0], `routes[1] \"DELETE /orgs/{org}/posts/{id} posts:delete\"`) {
				t.Errorf("want one line naming routes[1], got %q", found)
			}
		})
	}
}

func TestAssignmentsFromTheControlPlane(t *testing.T) {
	moderator := `[{"subject":"alice","org":"acme","role":"moderator"}]`
	for _, l := range loaders(t) {
		l := l
		t.Run(l.Name()+"/a subject's assignments are fetched once and cached within the TTL", func(t *testing.T) {
			cp := newControlPlane(t, true)
			cp.set(func(cp *controlPlane) { cp.subjects["alice"] = moderator })
			h, _ := instance(t, l, lookupConfig(cp, "assignmentsTTL", "1m"))
			tok := aliceToken(t)
			for i := 0; i < 4; i++ {
				if rec := serve(h, request{method: "DELETE", path: "/orgs/acme/posts/p" + strconv.Itoa(i)}.with(tok)); rec.Code != 200 {
					t.Fatalf("request %d: %d", i, rec.Code)
				}
			}
			if n := cp.lookups.Load(); n != 1 {
				t.Errorf("lookups %d, want 1", n)
			}
			if rec := serve(h, deletePost.with(mint(t, "ES256", claims("bob", "acme", nil, nil), nil))); rec.Code != 403 {
				t.Errorf("bob, whom the control plane does not know: %d", rec.Code)
			}
		})
		t.Run(l.Name()+"/after the TTL the lookup is refreshed, and a removed assignment revokes the cached allow", func(t *testing.T) {
			cp := newControlPlane(t, false)
			cp.set(func(cp *controlPlane) { cp.subjects["alice"] = moderator })
			h, b := instance(t, l, lookupConfig(cp, "assignmentsTTL", "300ms"))
			tok := aliceToken(t)
			if rec := serve(h, deletePost.with(tok)); rec.Code != 200 {
				t.Fatalf("moderator: %d", rec.Code)
			}
			cp.set(func(cp *controlPlane) { delete(cp.subjects, "alice") })
			if rec := serve(h, deletePost.with(tok)); rec.Code != 200 {
				t.Fatalf("within the TTL: %d", rec.Code)
			}
			time.Sleep(350 * time.Millisecond)
			if rec := serve(h, deletePost.with(tok)); rec.Code != 403 || b.calls != 2 {
				t.Fatalf("after the TTL: %d (backend calls %d)", rec.Code, b.calls)
			}
			if n := cp.lookups.Load(); n != 2 {
				t.Errorf("lookups %d, want 2", n)
			}
		})
		t.Run(l.Name()+"/with the control plane down a stale entry serves up to assignmentsStale, then 503", func(t *testing.T) {
			cp := newControlPlane(t, true)
			cp.set(func(cp *controlPlane) { cp.subjects["alice"] = moderator })
			h, _ := instance(t, l, lookupConfig(cp, "cacheSize", "0", "assignmentsTTL", "300ms", "assignmentsStale", "600ms"))
			tok := aliceToken(t)
			if rec := serve(h, deletePost.with(tok)); rec.Code != 200 {
				t.Fatalf("first: %d", rec.Code)
			}
			// The entry was fetched before the first answer returned: timed from then, the waits
			// below are at least what they say however slow that first request was (under -race on
			// a loaded machine it can take tens of milliseconds).
			start := time.Now()
			cp.down.Store(true)
			time.Sleep(400*time.Millisecond - time.Since(start))
			if rec := serve(h, deletePost.with(tok)); rec.Code != 200 {
				t.Errorf("stale within TTL + assignmentsStale: %d", rec.Code)
			}
			time.Sleep(1000*time.Millisecond - time.Since(start))
			rec := serve(h, deletePost.with(tok))
			if rec.Code != 503 || !strings.Contains(rec.Body.String(), "assignments not available from the control plane") {
				t.Errorf("past TTL + assignmentsStale: %d %s", rec.Code, rec.Body.String())
			}
		})
		t.Run(l.Name()+"/a subject nothing is known of answers 503 while the control plane is down", func(t *testing.T) {
			cp := newControlPlane(t, false)
			cp.down.Store(true)
			h, b := instance(t, l, lookupConfig(cp))
			if rec := serve(h, deletePost.with(aliceToken(t))); rec.Code != 503 || b.calls != 0 {
				t.Fatalf("status %d, backend calls %d", rec.Code, b.calls)
			}
		})
		t.Run(l.Name()+"/concurrent requests of one subject make one lookup", func(t *testing.T) {
			skipInterpretedUnderRace(t, l)
			cp := newControlPlane(t, false)
			cp.set(func(cp *controlPlane) { cp.subjects["alice"] = moderator })
			cp.delay.Store(int64(200 * time.Millisecond))
			h, _ := instance(t, l, lookupConfig(cp, "assignmentsTTL", "1m"))
			tok := aliceToken(t)
			var wg sync.WaitGroup
			var ok atomic.Int64
			for i := 0; i < 10; i++ {
				i := i
				wg.Add(1)
				go func() {
					defer wg.Done()
					if serve(h, request{method: "DELETE", path: "/orgs/acme/posts/c" + strconv.Itoa(i)}.with(tok)).Code == 200 {
						ok.Add(1)
					}
				}()
			}
			wg.Wait()
			if n := cp.lookups.Load(); n != 1 || ok.Load() != 10 {
				t.Errorf("lookups %d (want 1), allowed %d of 10", n, ok.Load())
			}
		})
		t.Run(l.Name()+"/an answer naming another subject is refused", func(t *testing.T) {
			cp := newControlPlane(t, true)
			cp.set(func(cp *controlPlane) { cp.subjects["alice"] = moderator; cp.subjectMode = "another subject" })
			h, b := instance(t, l, lookupConfig(cp))
			var rec *httptest.ResponseRecorder
			lines := captureStderr(t, func() { rec = serve(h, deletePost.with(aliceToken(t))) })
			if rec.Code != 503 || b.calls != 0 {
				t.Fatalf("status %d, backend calls %d", rec.Code, b.calls)
			}
			if errs := errorLines(lines, cp.URL); len(errs) != 1 || !strings.Contains(errs[0], `for subject \"mallory\"`) {
				t.Errorf("error lines %q", errs)
			}
		})
		t.Run(l.Name()+"/an assignment of another subject inside the answer is refused", func(t *testing.T) {
			cp := newControlPlane(t, false)
			cp.set(func(cp *controlPlane) { cp.subjects["alice"] = `[{"subject":"bob","org":"acme","role":"moderator"}]` })
			h, _ := instance(t, l, lookupConfig(cp))
			if rec := serve(h, deletePost.with(aliceToken(t))); rec.Code != 503 {
				t.Fatalf("status %d", rec.Code)
			}
		})
		t.Run(l.Name()+"/with two issuers trusted, a looked-up assignment counts only when it names the token's issuer", func(t *testing.T) {
			cp := newControlPlane(t, false)
			h, _ := instance(t, l, lookupConfig(cp, "issuers", []string{issuer, "https://other.test"}, "assignmentsTTL", "1m"))
			tok := aliceToken(t)
			cp.set(func(cp *controlPlane) { cp.subjects["alice"] = moderator })
			if rec := serve(h, deletePost.with(tok)); rec.Code != 403 {
				t.Fatalf("an assignment naming no issuer: %d, want 403", rec.Code)
			}
			h2, _ := instance(t, l, lookupConfig(cp, "issuers", []string{issuer, "https://other.test"}, "assignmentsTTL", "2m"))
			cp.set(func(cp *controlPlane) {
				cp.subjects["alice"] = `[{"subject":"alice","issuer":"` + issuer + `","org":"acme","role":"moderator"}]`
			})
			if rec := serve(h2, deletePost.with(tok)); rec.Code != 200 {
				t.Fatalf("an assignment naming the token's issuer: %d, want 200", rec.Code)
			}
		})
		for _, size := range []int{2, 3} {
			size := size
			t.Run(l.Name()+"/assignmentsCacheSize "+strconv.Itoa(size)+" bounds the subjects cached", func(t *testing.T) {
				cp := newControlPlane(t, false)
				h, _ := instance(t, l, lookupConfig(cp, "assignmentsTTL", "1m", "assignmentsCacheSize", strconv.Itoa(size)))
				var toks []string
				for _, sub := range []string{"s1", "s2", "s3"} {
					toks = append(toks, mint(t, "ES256", claims(sub, "acme", []string{"user"}, nil), nil))
				}
				for round := 0; round < 2; round++ {
					for _, tok := range toks {
						if rec := serve(h, request{path: "/orgs/acme/posts"}.with(tok)); rec.Code != 200 {
							t.Fatalf("status %d", rec.Code)
						}
					}
				}
				n := cp.lookups.Load()
				if size == 3 && n != 3 || size == 2 && n < 4 {
					t.Errorf("lookups %d for 3 subjects twice with room for %d", n, size)
				}
			})
		}
		t.Run(l.Name()+"/with policyURL, the bundle's roles and the looked-up assignments decide together", func(t *testing.T) {
			cp := newControlPlane(t, true)
			cp.set(func(cp *controlPlane) { cp.doc = cpBundle(""); cp.subjects["alice"] = moderator })
			c := bundleConfig(cp, "policyURL", cp.URL+"/v1/bundle?assignments=none",
				"assignmentsURL", cp.URL+"/v1/subjects/{subject}/assignments?issuer={issuer}")
			h, _ := instance(t, l, c)
			if rec := serve(h, deletePost.with(aliceToken(t))); rec.Code != 200 {
				t.Fatalf("status %d", rec.Code)
			}
			// A new bundle that drops the moderator's delete permission revokes the cached allow.
			cp.set(func(cp *controlPlane) {
				cp.doc = `{"permissions":["posts:delete","posts:read"],"roles":{"moderator":["posts:read"],"user":["posts:read"]},"assignments":[]}`
				cp.rev = 11
			})
			time.Sleep(120 * time.Millisecond)
			if rec := serve(h, deletePost.with(aliceToken(t))); rec.Code != 403 {
				t.Fatalf("after the bundle changed the role: %d", rec.Code)
			}
		})
	}
}

// The configuration rules of policyURL and assignmentsURL.
func TestControlPlaneConfiguration(t *testing.T) {
	cp := newControlPlane(t, true)
	bundle := cp.URL + "/v1/bundle"
	lookup := cp.URL + "/v1/subjects/{subject}/assignments?issuer={issuer}"
	credFile := filepath.Join(t.TempDir(), "credential")
	badCredFile := filepath.Join(t.TempDir(), "bad-credential")
	if os.WriteFile(credFile, []byte(cpCredential), 0o600) != nil || os.WriteFile(badCredFile, []byte("Bearer x"), 0o600) != nil {
		t.Fatal("cannot write the credential files")
	}
	p384key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384 := pemOf(&p384key.PublicKey)
	refused := []struct {
		name   string
		config map[string]interface{}
		want   string
	}{
		{"policyURL with an inline policy is refused", baseConfig("policyURL", bundle, "policy", cpBundle("")), "policyURL: set one of policy, policyFile and policyURL"},
		{"policyURL with a policy file is refused", baseConfig("policyURL", bundle, "policyFile", "/tmp/p.yaml"), "policyURL: set one of policy, policyFile and policyURL"},
		{"a policyURL that is not http(s) is refused", baseConfig("policyURL", "file:///etc/bundle.json"), "policyURL: must be an absolute http(s) URL"},
		{"a relative policyURL is refused", baseConfig("policyURL", "/v1/bundle"), "policyURL: must be an absolute http(s) URL"},
		{"a policyURL with user information is refused", baseConfig("policyURL", "https://gw:pw@cp.example/v1/bundle"), "policyURL: must not carry user information"},
		{"an unsigned policyURL over plain http to another host is refused", baseConfig("policyURL", "http://gatehouse:8081/v1/bundle"), "policyURL: plain http to gatehouse, which is not loopback"},
		{"a policyKey that does not parse is refused", baseConfig("policyURL", bundle, "policyKey", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), "policyKey:"},
		{"a P-384 policyKey is refused", baseConfig("policyURL", bundle, "policyKey", p384), "policyKey: a EC P-384 key"},
		{"a policyKey naming a missing file is refused", baseConfig("policyURL", bundle, "policyKey", "/nonexistent/bundle.pub"), "policyKey: not a PEM key, a JWK or a JWKS, and not a readable file"},
		{"a credential with a line break is refused", baseConfig("policyURL", bundle, "policyCredential", "abc\r\nX-Injected: 1"), "policyCredential: must be a bearer token"},
		{"a credential with a space is refused", baseConfig("policyURL", bundle, "policyCredential", "Bearer abc"), "policyCredential: must be a bearer token"},
		{"policyKey without policyURL or assignmentsURL is refused", baseConfig("policyKey", cp.pub), "policyKey: needs policyURL or assignmentsURL"},
		{"policyCredential without policyURL or assignmentsURL is refused", baseConfig("policyCredential", cpCredential), "policyCredential: needs policyURL or assignmentsURL"},
		{"assignmentsURL without {subject} is refused", baseConfig("policyURL", bundle, "assignmentsURL", cp.URL+"/v1/subjects/alice/assignments"), "assignmentsURL: must contain {subject}"},
		{"assignmentsURL without {issuer} while two issuers are trusted is refused", baseConfig("issuers", []string{issuer, "https://other.test"}, "policyURL", bundle, "assignmentsURL", cp.URL+"/v1/subjects/{subject}/assignments"), "assignmentsURL: must contain {issuer}"},
		{"assignmentsURL without any policy is refused", baseConfig("assignmentsURL", lookup), "assignmentsURL: needs policy, policyFile or policyURL"},
		{"assignmentsTTL without assignmentsURL is refused", baseConfig("policyURL", bundle, "assignmentsTTL", "10s"), "assignmentsTTL: needs assignmentsURL"},
		{"assignmentsTTL 0 is refused", baseConfig("policyURL", bundle, "assignmentsURL", lookup, "assignmentsTTL", "0s"), "assignmentsTTL: must be more than 0"},
		{"assignmentsCacheSize 0 is refused", baseConfig("policyURL", bundle, "assignmentsURL", lookup, "assignmentsCacheSize", "0"), "assignmentsCacheSize: must be at least 1"},
		{"an unsigned assignmentsURL over plain http to another host is refused", baseConfig("policy", cpBundle(""), "assignmentsURL", "http://gatehouse:8081/v1/subjects/{subject}/assignments"), "assignmentsURL: plain http to gatehouse"},
		{"policyCredential and policyCredentialFile together are refused", baseConfig("policyURL", bundle, "policyCredential", cpCredential, "policyCredentialFile", credFile), "policyCredentialFile: set policyCredential or policyCredentialFile, not both"},
		{"a missing policyCredentialFile is refused", baseConfig("policyURL", bundle, "policyCredentialFile", credFile+".missing"), "policyCredentialFile:"},
		{"a policyCredentialFile holding two words is refused", baseConfig("policyURL", bundle, "policyCredentialFile", badCredFile), "not a bearer token"},
		{"policyReload 0 with policyURL is refused", baseConfig("policyURL", bundle, "policyReload", "0s"), "policyReload: must be more than 0 with policyURL"},
		{"a misspelled option suggests policyURL", baseConfig("policyUrl_", bundle), "did you mean policyurl"},
	}
	for _, l := range loaders(t) {
		for _, c := range refused {
			l, c := l, c
			t.Run(l.Name()+"/"+c.name, func(t *testing.T) {
				_, err := l.New(context.Background(), http.NotFoundHandler(), c.config, "test")
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("err = %v, want %q", err, c.want)
				}
			})
		}
		t.Run(l.Name()+"/routes may name permissions only the bundle declares", func(t *testing.T) {
			instance(t, l, bundleConfig(cp))
		})
		t.Run(l.Name()+"/a signed policyURL over plain http to another host is accepted with a warning about the credential", func(t *testing.T) {
			var err error
			lines := captureStderr(t, func() {
				_, err = l.New(context.Background(), http.NotFoundHandler(), baseConfig("routes", cpRoutes, "policyURL", "http://gatehouse:8081/v1/bundle", "policyKey", cp.pub, "policyCredential", cpCredential), "test")
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) != 1 || !strings.Contains(lines[0], "policyCredential crosses the network in clear") {
				t.Fatalf("lines %q", lines)
			}
		})
	}
}

// TestABundleThatDropsARoutesPermissionIsReported: a bundle that does not declare a permission a
// route requires is served (its requests are denied) and reported once, on the request that first
// meets it: one error line naming policyURL, the route and the permission.
func TestABundleThatDropsARoutesPermissionIsReported(t *testing.T) {
	for _, l := range loaders(t) {
		t.Run(l.Name(), func(t *testing.T) {
			skipInterpretedUnderRace(t, l)
			cp := newControlPlane(t, true)
			cp.set(func(cp *controlPlane) {
				cp.doc = `{"permissions":["posts:read"],"roles":{"user":["posts:read"]},"assignments":[{"subject":"alice","org":"acme","role":"user"}]}`
			})
			h, _ := instance(t, l, bundleConfig(cp))
			tok := aliceToken(t)
			lines := captureStderr(t, func() {
				if rec := serve(h, deletePost.with(tok)); rec.Code != 403 {
					t.Errorf("a route whose permission the bundle does not declare: %d, want 403", rec.Code)
				}
				if rec := serve(h, request{path: "/orgs/acme/posts"}.with(tok)); rec.Code != 200 {
					t.Errorf("a declared permission: %d, want 200", rec.Code)
				}
			})
			reports := errorLines(lines, cp.URL)
			if len(reports) != 1 || !strings.Contains(reports[0], `"policyURL":`) ||
				!strings.Contains(reports[0], `requires \"posts:delete\", which the bundle does not declare`) {
				t.Fatalf("want one report naming the bundle, the route and the permission; stderr: %q", lines)
			}
		})
	}
}
