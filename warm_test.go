package gatehouse

import (
	"net/http"
	"net/http/httptest"
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
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req(path, tok))
		if rec.Code != 200 {
			t.Fatalf("%s: first request: status %d", tenant, rec.Code)
		}
		for _, tc := range []struct {
			what string
			r    *http.Request
			hit  bool
		}{
			{"the same request", req(path, tok), true},
			{"another path", req(path+"x", tok), false},
			{"another token", req(path, tok+"x"), false},
		} {
			got := warmDecision(g, httptest.NewRecorder(), tc.r, tc.r.Header, tc.r.Header["Authorization"])
			if got != tc.hit {
				t.Errorf("%s: %s: warm hit %v, want %v", tenant, tc.what, got, tc.hit)
			}
		}
	}
}
