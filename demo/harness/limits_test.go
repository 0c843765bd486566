package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/demo/loader"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

var importEngine sync.Once

// sharedCount reads a process-wide registry size (tokens.SharedSetCount() or
// policy.SharedFileCount()) of the loader's copy of the plugin.
func sharedCount(t testing.TB, l loader.Loader, expr string) int {
	t.Helper()
	y, ok := l.(*loader.Yaegi)
	if !ok {
		if expr == "tokens.SharedSetCount()" {
			return tokens.SharedSetCount()
		}
		return policy.SharedFileCount()
	}
	importEngine.Do(func() {
		if _, err := y.Eval(`import ("github.com/gatehouse-dev/gatehouse/tokens"; "github.com/gatehouse-dev/gatehouse/policy")`); err != nil {
			t.Fatal(err)
		}
	})
	v, err := y.Eval(expr)
	if err != nil {
		t.Fatal(err)
	}
	return int(v.Int())
}

// captureStderr runs f with file descriptor 2 redirected to a pipe and returns the lines written
// there. Gatehouse writes audit lines to os.Stderr; under Yaegi that is the *os.File the interpreter
// was given, so only a descriptor-level redirect catches both loaders.
func captureStderr(t *testing.T, f func()) []string {
	t.Helper()
	stderrMu.Lock()
	defer stderrMu.Unlock()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup2(int(w.Fd()), 2); err != nil {
		t.Fatal(err)
	}
	done := make(chan []string)
	go func() {
		var lines []string
		s := bufio.NewScanner(r)
		s.Buffer(make([]byte, 1<<20), 1<<22)
		for s.Scan() {
			lines = append(lines, s.Text())
		}
		done <- lines
	}()
	func() {
		defer func() {
			_ = syscall.Dup2(saved, 2)
			_ = syscall.Close(saved)
		}()
		f()
	}()
	w.Close()
	return <-done
}

var stderrMu sync.Mutex

func TestRequestLimits(t *testing.T) {
	for _, l := range loaders(t) {
		l := l
		t.Run(l.Name()+"/a path above the default 4096 bytes is answered 414 before anything else", func(t *testing.T) {
			h, b := instance(t, l, workflowsConfig(t))
			long := "/orgs/acme/workflows/" + strings.Repeat("a", 5000)
			rec := serve(h, request{method: "DELETE", path: long, token: mint(t, "ES256", claims("alice", "acme", []string{"admin"}, nil), nil)})
			if rec.Code != 414 || b.calls != 0 {
				t.Fatalf("status %d, backend calls %d", rec.Code, b.calls)
			}
		})
		t.Run(l.Name()+"/maxPathLength sets the cap", func(t *testing.T) {
			h, _ := instance(t, l, workflowsConfig(t, "maxPathLength", "64"))
			tok := mint(t, "ES256", claims("alice", "acme", []string{"admin"}, nil), nil)
			if rec := serve(h, request{method: "DELETE", path: "/orgs/acme/workflows/" + strings.Repeat("a", 43), token: tok}); rec.Code != 200 {
				t.Errorf("a 64-byte path: status %d, want 200", rec.Code)
			}
			if rec := serve(h, request{method: "DELETE", path: "/orgs/acme/workflows/" + strings.Repeat("a", 44), token: tok}); rec.Code != 414 {
				t.Errorf("a 65-byte path: status %d, want 414", rec.Code)
			}
		})
		t.Run(l.Name()+"/a 900 KiB token is refused without being copied", func(t *testing.T) {
			h, _ := instance(t, l, workflowsConfig(t))
			huge := strings.Repeat("a", 900<<10)
			req := request{path: "/orgs/acme/workflows", token: huge}.build()
			serveOnce := func() {
				rec := newRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 401 {
					t.Fatalf("status %d", rec.Code)
				}
			}
			serveOnce()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for i := 0; i < 10; i++ {
				serveOnce()
			}
			runtime.ReadMemStats(&after)
			if per := (after.TotalAlloc - before.TotalAlloc) / 10; per > 256<<10 {
				t.Errorf("a refused 900 KiB token allocates %d bytes per request: it is copied", per)
			}
		})
		t.Run(l.Name()+"/every audit field is bounded with a visible truncation marker", func(t *testing.T) {
			h, _ := instance(t, l, workflowsConfig(t))
			sub := strings.Repeat("s", 3000)
			tok := mint(t, "ES256", claims(sub, "acme", []string{"viewer"}, nil), nil)
			path := "/orgs/acme/workflows/" + strings.Repeat("p", 4000)
			lines := captureStderr(t, func() {
				serve(h, request{method: "DELETE", path: path, token: tok})
				serve(h, request{path: "/nowhere/" + strings.Repeat("n", 4000)})
			})
			if len(lines) != 2 {
				t.Fatalf("want 2 audit lines, got %d: %q", len(lines), lines)
			}
			for _, line := range lines {
				if len(line) > 4096 {
					t.Errorf("audit line of %d bytes", len(line))
				}
				var m map[string]interface{}
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("audit line is not JSON: %v", err)
				}
				if !strings.Contains(m["path"].(string), "bytes]") {
					t.Errorf("path not marked as truncated: %.80q", m["path"])
				}
				if strings.Count(line, "pppppppppp")+strings.Count(line, "nnnnnnnnnn") > 200 {
					t.Errorf("the path appears more than once in %s", line[:200])
				}
			}
			if s, _ := lineField(lines[0], "subject"); !strings.HasSuffix(s, "bytes]") || len(s) > 300 {
				t.Errorf("subject not bounded: %d bytes", len(s))
			}
		})
	}
}

func lineField(line, name string) (string, bool) {
	var m map[string]interface{}
	if json.Unmarshal([]byte(line), &m) != nil {
		return "", false
	}
	s, ok := m[name].(string)
	return s, ok
}

// TestMemoryStaysBounded sends a stream of distinct allowed requests with maximal paths and
// near-maximal tokens through a middleware with the default cacheSize and cacheBytes: the heap it
// retains stays under the documented worst case of two caches of 8 MiB each.
func TestMemoryStaysBounded(t *testing.T) {
	for _, l := range loaders(t) {
		l := l
		t.Run(l.Name()+"/maximal requests retain at most two cache budgets", func(t *testing.T) {
			h, _ := instance(t, l, workflowsConfig(t, "routes", []string{"GET /orgs/{org}/files/{path...} workflows:read"}))
			pad := strings.Repeat("x", 5800) // the token stays just under the 8 KiB cap
			base := heapInUse()
			n := 1500
			if l.Name() == "yaegi" {
				n = 600 // the interpreter is slower; 600 maximal entries already exceed one budget
			}
			for i := 0; i < n; i++ {
				tok := mint(t, "HS256", claims("user"+itoa(i), "acme", []string{"viewer"}, jwt.MapClaims{"pad": pad}), nil)
				path := "/orgs/acme/files/" + itoa(i) + "/" + strings.Repeat("f", 4096-len("/orgs/acme/files/")-len(itoa(i))-1)
				if rec := serve(h, request{path: path, token: tok}); rec.Code != 200 {
					t.Fatalf("request %d: status %d", i, rec.Code)
				}
			}
			grown := heapInUse() - base
			const bound = 2*8<<20 + 4<<20 // two cache budgets plus slack for the test's own garbage
			t.Logf("%d maximal requests: heap grew %d KiB (bound %d KiB)", n, grown>>10, bound>>10)
			if grown > bound {
				t.Errorf("heap grew %d bytes, above the documented bound %d", grown, bound)
			}
			runtime.KeepAlive(h)
		})
	}
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// TestSharedSourcesFollowEachMiddlewaresSettings: two middlewares in one interpreter share a JWKS URL
// or a policy file with conflicting settings; each follows its own.
func TestSharedSourcesFollowEachMiddlewaresSettings(t *testing.T) {
	for _, l := range loaders(t) {
		l := l
		for _, order := range []string{"strict first", "lenient first"} {
			order := order
			t.Run(l.Name()+"/a sibling's 1ns jwksTimeout does not break a middleware on the same JWKS URL, "+order, func(t *testing.T) {
				srv := newJWKS(t)
				k := newEC(t)
				srv.set(jwkOf("k1", k))
				var good, bad = jwksConfig(srv.URL, "jwksTimeout", "5s"), jwksConfig(srv.URL, "jwksTimeout", "1ns")
				var hGood http.Handler
				if order == "strict first" {
					instance(t, l, bad)
					hGood, _ = instance(t, l, good)
				} else {
					hGood, _ = instance(t, l, good)
					instance(t, l, bad)
				}
				tok := mintWith(t, "ES256", k, claims("alice", "acme", nil, nil), map[string]interface{}{"kid": "k1"})
				if rec := serve(hGood, bearer(tok)); rec.Code != 200 {
					t.Fatalf("status %d, want 200: the 5s middleware took its sibling's 1ns timeout", rec.Code)
				}
			})
			t.Run(l.Name()+"/a sibling's policyReload 1000h does not keep a removed assignment alive, "+order, func(t *testing.T) {
				dir := t.TempDir()
				file := filepath.Join(dir, "policy.yaml")
				pol := demoPolicy(t)
				if err := os.WriteFile(file, []byte(pol), 0o644); err != nil {
					t.Fatal(err)
				}
				fast := baseConfig("routes", workflowRoutes, "policyFile", file, "policyReload", "1ms")
				slow := baseConfig("routes", workflowRoutes, "policyFile", file, "policyReload", "1000h")
				var hFast http.Handler
				if order == "strict first" {
					hFast, _ = instance(t, l, fast)
					instance(t, l, slow)
				} else {
					instance(t, l, slow)
					hFast, _ = instance(t, l, fast)
				}
				tok := mint(t, "ES256", claims("svc-ci", "acme", nil, nil), nil)
				create := request{method: "POST", path: "/orgs/acme/workflows", token: tok}
				if rec := serve(hFast, create); rec.Code != 200 {
					t.Fatalf("before the edit: status %d", rec.Code)
				}
				revoked := strings.Replace(pol, "svc-ci", "svc-other", -1)
				if err := os.WriteFile(file, []byte(revoked), 0o644); err != nil {
					t.Fatal(err)
				}
				future := time.Now().Add(2 * time.Second)
				_ = os.Chtimes(file, future, future)
				deadline := time.Now().Add(2 * time.Second)
				for {
					time.Sleep(5 * time.Millisecond)
					if serve(hFast, create).Code == 403 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("the removed assignment still works after 2s with policyReload 1ms")
					}
				}
			})
		}

	}
}

// TestCancelledMiddlewaresGiveSharedSourcesBack: Traefik cancels New's context when it builds the next
// configuration generation; the key sets and policy files the old middlewares held leave the
// registries. (Under -race the interpreted variant is skipped: reading the registry size with Eval
// while interpreted release callbacks run trips the detector on Yaegi's own frames. test.sh runs it
// again without -race.)
func TestCancelledMiddlewaresGiveSharedSourcesBack(t *testing.T) {
	for _, l := range loaders(t) {
		l := l
		if raceEnabled && l.Name() == "yaegi" {
			t.Log("yaegi variant skipped under -race")
			continue
		}
		t.Run(l.Name()+"/cancelled middlewares give their key sets and policy files back", func(t *testing.T) {
			srv := newJWKS(t)
			dir := t.TempDir()
			sets, files := sharedCount(t, l, "tokens.SharedSetCount()"), sharedCount(t, l, "policy.SharedFileCount()")
			var cancels []context.CancelFunc
			for i := 0; i < 20; i++ {
				ctx, cancel := context.WithCancel(context.Background())
				cancels = append(cancels, cancel)
				file := filepath.Join(dir, "policy"+itoa(i)+".yaml")
				if err := os.WriteFile(file, []byte(demoPolicy(t)), 0o644); err != nil {
					t.Fatal(err)
				}
				conf := jwksConfig(srv.URL+"/set"+itoa(i), "policyFile", file, "routes", workflowRoutes)
				if _, err := l.New(ctx, &backend{}, conf, "m"+itoa(i)); err != nil {
					t.Fatal(err)
				}
			}
			if n := sharedCount(t, l, "tokens.SharedSetCount()"); n < sets+20 {
				t.Fatalf("%d shared key sets after 20 middlewares (before: %d)", n, sets)
			}
			if n := sharedCount(t, l, "policy.SharedFileCount()"); n < files+20 {
				t.Fatalf("%d shared policy files after 20 middlewares (before: %d)", n, files)
			}
			for _, c := range cancels {
				c()
			}
			deadline := time.Now().Add(2 * time.Second)
			for sharedCount(t, l, "tokens.SharedSetCount()") > sets || sharedCount(t, l, "policy.SharedFileCount()") > files {
				if time.Now().After(deadline) {
					t.Fatalf("%d key sets and %d policy files left after cancelling, want %d and %d",
						sharedCount(t, l, "tokens.SharedSetCount()"), sharedCount(t, l, "policy.SharedFileCount()"), sets, files)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}
