package harness

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/demo/loader"
)

// discard is a ResponseWriter that keeps nothing, so benchmarks measure Gatehouse, not the recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func benchServe(b *testing.B, h http.Handler, method, path, token string) {
	req := httptest.NewRequest(method, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	benchRequest(b, h, req)
}

// benchRequest serves req once to warm the caches, then b.N times, each time with a fresh copy of
// the client's headers (as a new request would carry: none of the identity headers Gatehouse set on
// the previous one). The copy is compiled code, the same for every middleware measured.
func benchRequest(b *testing.B, h http.Handler, req *http.Request) {
	w := &discard{h: http.Header{}}
	client := req.Header.Clone()
	h.ServeHTTP(w, req)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req.Header = client.Clone()
		h.ServeHTTP(w, req)
	}
}

func benchLoaders(b *testing.B) []loader.Loader {
	y, err := loader.Shared()
	if err != nil {
		b.Fatal(err)
	}
	return []loader.Loader{loader.Compiled{}, y}
}

// BenchmarkVerify: ServeHTTP (authenticated, no routes) warm (verified-token cache) and cold (cache
// off: full verification every time), next to compiled golang-jwt verifying the same token.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"HS256", "RS256", "ES256", "EdDSA"} {
		tok := mint(b, alg, claims("alice", "acme", []string{"admin"}, nil), nil)
		_, pub := keys().signingKey(alg)
		for _, l := range benchLoaders(b) {
			for _, mode := range []string{"warm", "cold"} {
				size := "10000"
				if mode == "cold" {
					size = "0"
				}
				h, _ := instance(b, l, baseConfig("cacheSize", size))
				b.Run(fmt.Sprintf("%s/%s/%s", alg, l.Name(), mode), func(b *testing.B) { benchServe(b, h, "GET", "/x", tok) })
			}
		}
		b.Run(alg+"/golang-jwt-compiled", func(b *testing.B) {
			key := referenceKey(alg, pub)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := jwt.Parse(tok, func(*jwt.Token) (interface{}, error) { return key, nil }, jwt.WithValidMethods([]string{alg}),
					jwt.WithExpirationRequired(), jwt.WithIssuer(issuer), jwt.WithAudience(audience), jwt.WithLeeway(30*time.Second)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func referenceKey(alg, pemText string) interface{} {
	switch alg {
	case "HS256":
		return []byte(secret)
	case "RS256":
		k, _ := jwt.ParseRSAPublicKeyFromPEM([]byte(pemText))
		return k
	case "ES256":
		k, _ := jwt.ParseECPublicKeyFromPEM([]byte(pemText))
		return k
	}
	k, _ := jwt.ParseEdPublicKeyFromPEM([]byte(pemText))
	return k
}

// BenchmarkColdCached: a cold request with the caches on (the default cacheSize), as cold requests
// are in production: every request carries a token not seen before (a jti of its own), so it is
// verified and decided, and its allow is stored in the decision cache (b.N stays below the cache's
// 10,000 entries with -benchtime 3000x). The tokens are minted before the clock starts.
func BenchmarkColdCached(b *testing.B) {
	for _, l := range benchLoaders(b) {
		h, _ := instance(b, l, baseConfig())
		b.Run("ES256/"+l.Name(), func(b *testing.B) {
			toks := make([]string, b.N)
			for i := range toks {
				toks[i] = "Bearer " + mint(b, "ES256", claims("alice", "acme", []string{"admin"}, map[string]interface{}{"jti": fmt.Sprint(l.Name(), b.N, i)}), nil)
			}
			w := &discard{h: http.Header{}}
			req := httptest.NewRequest("GET", "/x", nil)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req.Header = http.Header{"Authorization": {toks[i]}}
				h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkRoutes: the full pipeline (route match, tenant guard, RBAC, identity headers) warm, with
// 10, 1,000 and 10,000 routes. The matcher is a tree of maps: the cost must not grow with the count.
func BenchmarkRoutes(b *testing.B) {
	tok := mint(b, "ES256", claims("bob", "acme", []string{"developer"}, nil), nil)
	for _, n := range []int{10, 1000, 10000} {
		routes := append([]string{}, workflowRoutes...)
		for i := len(routes); i < n; i++ {
			routes = append(routes, fmt.Sprintf("GET /orgs/{org}/service%d/{id} workflows:read", i))
		}
		for _, l := range benchLoaders(b) {
			h, _ := instance(b, l, baseConfig("routes", routes, "policy", demoPolicy(b)))
			b.Run(fmt.Sprintf("%d/%s", n, l.Name()), func(b *testing.B) {
				benchServe(b, h, "POST", "/orgs/acme/workflows/w1/run", tok)
			})
		}
	}
}

// BenchmarkMatcher isolates route matching under the interpreter: every route is public, so a
// request costs the path check, the tree walk and the header strip, and no token work.
func BenchmarkMatcher(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		var routes []string
		for i := 0; i < n; i++ {
			routes = append(routes, fmt.Sprintf("GET /orgs/{org}/service%d/{id}/items/{item} public", i))
		}
		target := fmt.Sprintf("/orgs/acme/service%d/x/items/y", n/2)
		for _, l := range benchLoaders(b) {
			h, _ := instance(b, l, baseConfig("routes", routes))
			b.Run(fmt.Sprintf("%d/%s", n, l.Name()), func(b *testing.B) { benchServe(b, h, "GET", target, "") })
		}
	}
}

// BenchmarkRealisticHeaders: the warm pipeline with the dozen headers a browser and a proxy add,
// to price the identity-header strip that must look at every header name.
func BenchmarkRealisticHeaders(b *testing.B) {
	tok := mint(b, "ES256", claims("bob", "acme", []string{"developer"}, nil), nil)
	extra := map[string]string{
		"Accept": "application/json", "Accept-Encoding": "gzip, br", "Accept-Language": "en-GB", "User-Agent": "Mozilla/5.0",
		"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com", "X-Real-Ip": "203.0.113.9",
		"X-Request-Id": "4f1c", "Traceparent": "00-4bf9-00f0-01", "Content-Type": "application/json", "Cookie": "theme=dark",
	}
	for _, l := range benchLoaders(b) {
		h, _ := instance(b, l, baseConfig("routes", workflowRoutes, "policy", demoPolicy(b)))
		b.Run(l.Name(), func(b *testing.B) {
			req := httptest.NewRequest("POST", "/orgs/acme/workflows/w1/run", nil)
			for k, v := range extra {
				req.Header.Set(k, v)
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			benchRequest(b, h, req)
		})
	}
}

// emptyMiddleware is the floor every ServeHTTP benchmark is compared with: a middleware that only
// calls next, compiled or interpreted by the same Yaegi as the plugin.
type emptyMiddleware struct{ next http.Handler }

func (e *emptyMiddleware) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	e.next.ServeHTTP(rw, req)
}

func newEmpty(t testing.TB, l loader.Loader) http.Handler {
	t.Helper()
	y, ok := l.(*loader.Yaegi)
	if !ok {
		return &emptyMiddleware{next: &backend{}}
	}
	emptyOnce.Do(func() {
		_, emptyErr = y.Eval(`
import "net/http"
type emptyMiddleware struct{ next http.Handler }
func (e *emptyMiddleware) ServeHTTP(rw http.ResponseWriter, req *http.Request) { e.next.ServeHTTP(rw, req) }
func NewEmptyMiddleware(next http.Handler) http.Handler { return &emptyMiddleware{next: next} }
`)
	})
	if emptyErr != nil {
		t.Fatal(emptyErr)
	}
	v, err := y.Eval("NewEmptyMiddleware")
	if err != nil {
		t.Fatal(err)
	}
	return v.Interface().(func(http.Handler) http.Handler)(&backend{})
}

var (
	emptyOnce sync.Once
	emptyErr  error
)

// BenchmarkWarmPath: the floor (an empty middleware), a public route, and an allowed request whose
// decision is cached (HS256 and ES256 tokens, and a GET with a query string), with a browser's
// dozen headers, compiled and under Yaegi.
func BenchmarkWarmPath(b *testing.B) {
	for _, l := range benchLoaders(b) {
		l := l
		for _, c := range warmCases(b, l) {
			c := c
			b.Run(c.name+"/"+l.Name(), func(b *testing.B) { benchRequest(b, c.h, c.req()) })
		}
	}
}

type warmCase struct {
	name string
	h    http.Handler
	req  func() *http.Request
}

// warmCases are the requests of BenchmarkWarmPath and of the CI guard.
func warmCases(t testing.TB, l loader.Loader) []warmCase {
	hs := mint(t, "HS256", claims("bob", "acme", []string{"developer"}, nil), nil)
	es := mint(t, "ES256", claims("bob", "acme", []string{"developer"}, nil), nil)
	h, _ := instance(t, l, baseConfig("routes", workflowRoutes, "policy", demoPolicy(t)))
	browser := func(method, path, tok string) func() *http.Request {
		return func() *http.Request {
			req := httptest.NewRequest(method, path, nil)
			for k, v := range map[string]string{"Accept": "application/json", "Accept-Encoding": "gzip, br", "User-Agent": "Mozilla/5.0",
				"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Real-Ip": "203.0.113.9", "X-Request-Id": "4f1c", "Traceparent": "00-4bf9-00f0-01"} {
				req.Header.Set(k, v)
			}
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			return req
		}
	}
	return []warmCase{
		{"empty", newEmpty(t, l), browser("GET", "/orgs/acme/workflows", hs)},
		{"public", h, browser("GET", "/healthz", "")},
		{"warm-HS256", h, browser("GET", "/orgs/acme/workflows", hs)},
		{"warm-ES256", h, browser("POST", "/orgs/acme/workflows/w1/run", es)},
		// A query string takes the override rule's path (a query may carry _method), then the
		// decision cache: the warm path of every paginated or filtered read.
		{"warm-query", h, browser("GET", "/orgs/acme/workflows?page=2", hs)},
	}
}

// BenchmarkAssertion: the cost of signing the identity assertion, warm (the decision and its
// assertion replayed) and cold (cacheSize 0: verify, decide and mint on every request), ES256
// tokens, with and without an ES256 assertion.
func BenchmarkAssertion(b *testing.B) {
	key := assertionKeys(b)["ES256"]
	tok := mint(b, "ES256", claims("bob", "acme", []string{"developer"}, nil), nil)
	for _, l := range benchLoaders(b) {
		for _, signed := range []bool{false, true} {
			for _, mode := range []string{"warm", "cold"} {
				size := "10000"
				if mode == "cold" {
					size = "0"
				}
				conf := workflowsConfig(b, "cacheSize", size)
				name := "plain"
				if signed {
					conf = assertionConfig(b, key, "60s", "cacheSize", size)
					name = "signed"
				}
				h, _ := instance(b, l, conf)
				b.Run(name+"/"+mode+"/"+l.Name(), func(b *testing.B) {
					benchServe(b, h, "POST", "/orgs/acme/workflows/w1/run", tok)
				})
			}
		}
	}
}
