package forwardauth

import (
	"net"
	"net/http"
	"net/http/httptest"
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
	benchThroughProxy(b, f, direct, authed)
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
