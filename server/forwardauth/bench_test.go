package forwardauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Benchmarks of issue 8: forward-auth decisions in process, and requests per second through real
// nginx with and without auth_request to forward-auth. BENCHMARKS.md gives the command and a run.

// benchTarget is an allowed request of a developer (bob) under the demo policy: workflows:run.
const benchTarget = "/orgs/acme/workflows/wf-1/run"

// esFixture is a P-256 key and bob's ES256 token signed with it.
type esFixture struct {
	pem   string // the public key, PEM, as a keys entry
	token string
}

func newESFixture(tb testing.TB) esFixture {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	claims := jwt.MapClaims{"iss": testIssuer, "aud": "workflows-api", "sub": "bob", "org_id": "acme", "roles": []string{"developer"},
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return esFixture{pem: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), token: tok}
}

// newESServer is the test configuration (the demo's routes and policy) with the ES256 key instead
// of the HMAC secret, and cacheSize as given ("0": every decision from scratch).
func newESServer(tb testing.TB, f esFixture, cacheSize string) *Server {
	tb.Helper()
	cfg, err := DecodeConfig([]byte(testConfig))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Secret = ""
	cfg.Keys = []string{f.pem}
	cfg.CacheSize = cacheSize
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	s, err := New(ctx, cfg, Options{Name: "bench"})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// statusWriter keeps the status and the headers of one answer, nothing of the body.
type statusWriter struct {
	h      http.Header
	status int
}

func (w *statusWriter) Header() http.Header         { return w.h }
func (w *statusWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *statusWriter) WriteHeader(status int)      { w.status = status }

// BenchmarkDecisions: Server.ServeHTTP on /auth/forwarded for bob's allowed POST, ES256. warm is the
// same token again (the decision cache answers); cold has cacheSize 0 (verify and decide each time).
// Each iteration gets a fresh copy of the proxy's headers and a fresh answer; the first and the last
// answers must be 200 with bob's identity, so a denial cannot pass for a fast decision.
func BenchmarkDecisions(b *testing.B) {
	f := newESFixture(b)
	for _, c := range []struct{ name, cacheSize string }{{"ES256/warm", "10000"}, {"ES256/cold", "0"}} {
		s := newESServer(b, f, c.cacheSize)
		b.Run(c.name, func(b *testing.B) {
			req := httptest.NewRequest("GET", ForwardedPath, nil)
			req.RemoteAddr = "127.0.0.1:40000"
			req.Header.Set("X-Forwarded-Method", "POST")
			req.Header.Set("X-Forwarded-Uri", benchTarget)
			req.Header.Set("X-Forwarded-Host", clientHost)
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("Authorization", "Bearer "+f.token)
			proxy := req.Header.Clone()
			w := &statusWriter{h: http.Header{}}
			s.ServeHTTP(w, req)
			checkAllowed(b, w)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req.Header = proxy.Clone()
				w.h, w.status = http.Header{}, 0
				s.ServeHTTP(w, req)
			}
			b.StopTimer()
			checkAllowed(b, w)
		})
	}
}

func checkAllowed(b *testing.B, w *statusWriter) {
	b.Helper()
	if w.status != http.StatusOK || w.h.Get("X-Auth-Subject") != "bob" {
		b.Fatalf("forward-auth answered %d with subject %q, want 200 for bob", w.status, w.h.Get("X-Auth-Subject"))
	}
}

// BenchmarkThroughNginx: one real nginx (the configuration of docs/forward-auth.md, as the proxies
// test runs it) in front of a loopback backend that answers 200 at once, with a second server block
// that proxies straight to the same backend. direct goes through that one; forward-auth through the
// documented one, which asks an in-process forward-auth (ES256, warm) with auth_request. 16
// goroutines share b.N requests over one transport keeping 16 idle connections; every answer must be
// 200.
func BenchmarkThroughNginx(b *testing.B) {
	requireTool(b, "nginx")
	f := newESFixture(b)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-Subject") != "" {
			w.Header().Set("Bench-Subject", r.Header.Get("X-Auth-Subject"))
		}
		w.WriteHeader(http.StatusOK)
	}))
	b.Cleanup(backend.Close)
	fa := httptest.NewServer(newESServer(b, f, "10000"))
	b.Cleanup(fa.Close)
	direct, authed := startBenchNginx(b, portOf(fa.URL), portOf(backend.URL))
	benchThroughProxy(b, f, direct, authed)
}

// benchThroughProxy measures the request rate through a proxy twice: direct (straight to the
// backend) and authed (through forward-auth, which must let bob through). 16 goroutines share b.N
// POSTs over one transport keeping 16 idle connections; every answer must be 200, and behind
// forward-auth the backend must have seen bob.
func benchThroughProxy(b *testing.B, f esFixture, direct, authed string) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}
	b.Cleanup(client.CloseIdleConnections)
	for _, c := range []struct{ name, base, subject string }{{"direct", direct, ""}, {"forward-auth", authed, "bob"}} {
		b.Run(c.name, func(b *testing.B) {
			get := func() error {
				req, _ := http.NewRequest("POST", c.base+benchTarget, nil)
				req.Header.Set("Authorization", "Bearer "+f.token)
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Bench-Subject") != c.subject {
					return errors.New("status " + strconv.Itoa(resp.StatusCode) + ", the backend saw subject " + strconv.Quote(resp.Header.Get("Bench-Subject")))
				}
				return nil
			}
			if err := get(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			left := int64(b.N)
			var failures atomic.Int64
			var first atomic.Value
			var wg sync.WaitGroup
			for g := 0; g < 16; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for atomic.AddInt64(&left, -1) >= 0 {
						if err := get(); err != nil {
							failures.Add(1)
							first.CompareAndSwap(nil, err.Error())
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			if n := failures.Load(); n > 0 {
				b.Fatalf("%d of %d requests failed, the first: %v", n, b.N, first.Load())
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
}

// startBenchNginx runs nginx with the proxies test's configuration plus a second server block
// proxying straight to the backend, until the benchmark ends. It returns the direct and the
// forward-auth base URLs.
func startBenchNginx(b *testing.B, gatehousePort, backendPort string) (string, string) {
	dir := b.TempDir()
	port, directPort := freePort(b), freePort(b)
	conf := strings.NewReplacer("{{DIR}}", dir, "{{PORT}}", port, "{{GATEHOUSE}}", gatehousePort, "{{BACKEND}}", backendPort,
		"{{MODULE}}", headersMoreModule).Replace(nginxConf)
	end := strings.LastIndex(conf, "}")
	conf = conf[:end] + "  server {\n    listen 127.0.0.1:" + directPort + ";\n    location / { proxy_pass http://workflows; }\n  }\n" + conf[end:]
	conf = strings.Replace(conf, "worker_connections 64;", "worker_connections 1024;", 1)
	writeFile(b, dir, "nginx.conf", conf)
	start(b, dir, port, "nginx", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+directPort, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("nginx did not listen on %s within 10s", directPort)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "http://127.0.0.1:" + directPort, "http://127.0.0.1:" + port
}
