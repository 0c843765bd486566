//go:build !yaegi
// +build !yaegi

package gatehouse

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzIdentityHeadersNeverReachTheBackend sends a header of any name on a public route: the
// backend must see it if and only if its name, lowercased with "_" and "." read as "-", does not
// start with the identity prefix.
func FuzzIdentityHeadersNeverReachTheBackend(f *testing.F) {
	for _, s := range []string{"X-Auth-Subject", "X_Auth_Subject", "x.auth.org", "X-AUTH_ROLES", "X-Forwarded-For", "X-Real-Ip", "XAuth-Subject", "X-Auth-", "X-Aut"} {
		f.Add(s)
	}
	c := CreateConfig()
	c.Secret = "fake-unit-test-secret-0123456789abcdef"
	c.Routes = []string{"GET /healthz public"}
	var seen http.Header
	g := newTestMiddleware(f, c, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.Header.Clone() }))
	f.Fuzz(func(t *testing.T, name string) {
		if name == "" || !validHeaderName(name) {
			return
		}
		seen = nil
		req := httptest.NewRequest("GET", "/healthz", nil)
		req.Header[name] = []string{"spoofed"}
		g.ServeHTTP(httptest.NewRecorder(), req)
		identity := strings.HasPrefix(strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(name)), "x-auth-")
		_, present := seen[name]
		if identity && present {
			t.Fatalf("identity header %q reached the backend", name)
		}
		if !identity && !present {
			t.Fatalf("ordinary header %q was stripped", name)
		}
	})
}
