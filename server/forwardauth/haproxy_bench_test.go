package forwardauth

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkThroughHAProxy: one real HAProxy (deploy/haproxy/haproxy.cfg and gatehouse-auth.lua, as
// the HAProxy test runs them) in front of a loopback backend that answers 200 at once, with a second
// frontend that proxies straight to the same backend. direct goes through that one; forward-auth
// through the shipped one, whose Lua action asks an in-process forward-auth (ES256, warm). 16
// goroutines share b.N requests over one transport keeping 16 idle connections; every answer must
// be 200, and behind forward-auth the backend must have seen bob.
func BenchmarkThroughHAProxy(b *testing.B) {
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
	directPort := freePort(b)
	authed := startHAProxy(b, portOf(fa.URL), portOf(backend.URL), func(c string) string {
		return c + "\nfrontend direct\n  bind 127.0.0.1:" + directPort + "\n  default_backend workflows\n"
	})
	waitListening(b, directPort)
	direct := "http://127.0.0.1:" + directPort
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 10 * time.Second}
	b.Cleanup(client.CloseIdleConnections)
	for _, c := range []struct{ name, base, subject string }{{"direct", direct, ""}, {"forward-auth", authed, "bob"}} {
		b.Run(c.name, func(b *testing.B) {
			post := func() error {
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
			if err := post(); err != nil {
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
						if err := post(); err != nil {
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

// waitListening waits until something accepts connections on a loopback port.
func waitListening(tb testing.TB, port string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("nothing listens on %s after 10s", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
