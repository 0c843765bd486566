package gatehouse

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestThePlainAllowForwardsWhatGrantAndForwardDo: plainAllow writes the identity headers of an
// allow that is neither signed, cached nor audited without building the allow; the backend must
// see exactly what grant and forward give it (the general path), for every kind of identity.
func TestThePlainAllowForwardsWhatGrantAndForwardDo(t *testing.T) {
	const secret = "fake-unit-test-secret-0123456789abcdef"
	const pol = `
permissions: [data:read, data:write, admin:all]
roles:
  reader: [data:read]
  writer: [data:read, data:write]
  admin:  [data:read, data:write, admin:all]
assignments:
  - subject: carol
    org: acme
    role: writer
`
	type tokenCase struct {
		claims jwt.MapClaims
		path   string
	}
	exp := time.Now().Add(time.Hour).Unix()
	cases := []tokenCase{
		{jwt.MapClaims{"sub": "alice", "org_id": "acme", "roles": []string{"reader"}, "exp": exp}, "/orgs/acme/data"},
		{jwt.MapClaims{"sub": "bob", "org_id": "acme", "roles": []string{"admin", "reader"}, "exp": exp}, "/orgs/acme/data"},
		{jwt.MapClaims{"sub": "carol", "org_id": "acme", "exp": exp}, "/orgs/acme/data"},
		{jwt.MapClaims{"sub": "dave", "exp": exp}, "/me"},
		{jwt.MapClaims{"sub": "erin", "org_id": "acme", "permissions": []string{"data:read"}, "exp": exp}, "/orgs/acme/data"},
		{jwt.MapClaims{"org_id": "acme", "roles": []string{"writer"}, "exp": exp}, "/orgs/acme/data"},
		{jwt.MapClaims{"sub": "frank", "iss": "https://issuer.test", "org_id": "acme", "roles": []string{"writer"}, "exp": exp}, "/orgs/acme/data/x"},
		{jwt.MapClaims{"sub": "gina", "org_id": "other", "roles": []string{"admin"}, "exp": exp}, "/me"},
	}
	for _, tenant := range []string{"path:org", "none"} {
		for _, trust := range []string{"true", "false"} {
			c := CreateConfig()
			c.Secret = secret
			c.CacheSize = "0"
			c.Tenant = tenant
			c.TrustTokenPermissions = trust
			c.Policy = pol
			c.Routes = []string{"GET /orgs/{org}/data data:read", "GET /orgs/{org}/data/{id} data:write", "GET /me authenticated"}
			var seen http.Header
			g := newTestMiddleware(t, c, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r.Header.Clone() }))
			if !g.plainAllow {
				t.Fatalf("%s: the configuration does not take plainAllow", tenant)
			}
			allowed := 0
			for i, tc := range cases {
				tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, tc.claims).SignedString([]byte(secret))
				if err != nil {
					t.Fatal(err)
				}
				var got [2]http.Header
				var codes [2]int
				for j, plain := range []bool{true, false} {
					g.plainAllow = plain
					seen = nil
					req := httptest.NewRequest("GET", tc.path, nil)
					req.Header.Set("Authorization", "Bearer "+tok)
					req.Header.Set("X-Auth-Roles", "forged")
					rec := httptest.NewRecorder()
					g.ServeHTTP(rec, req)
					got[j], codes[j] = seen, rec.Code
				}
				g.plainAllow = true
				if codes[0] != codes[1] || !reflect.DeepEqual(got[0], got[1]) {
					t.Errorf("%s, trust %s, case %d: plainAllow %d %v, grant and forward %d %v", tenant, trust, i, codes[0], got[0], codes[1], got[1])
				}
				if codes[0] == 200 {
					allowed++
				}
			}
			if allowed < 4 {
				t.Errorf("%s, trust %s: only %d cases allowed: the test compares too little", tenant, trust, allowed)
			}
		}
	}
}
