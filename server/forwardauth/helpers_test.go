package forwardauth

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testSecret is the HMAC key of the test configuration (32 bytes: HS256, RFC 7518 §3.2).
const testSecret = "forward-auth-test-secret-32bytes"

const testIssuer = "https://issuer.test"

// testConfig is the demo's middleware as a plain Gatehouse YAML file: its routes, its policy
// inline, an HMAC key instead of the demo issuer's JWKS.
const testConfig = `
issuers: [` + testIssuer + `]
audiences: [workflows-api]
secret: ` + testSecret + `
routes:
  - POST /orgs/{org}/workflows workflows:create
  - GET /orgs/{org}/workflows workflows:read
  - POST /orgs/{org}/workflows/{id}/run workflows:run
  - DELETE /orgs/{org}/workflows/{id} workflows:delete
  - POST /orgs/{org}/workflows/{id}/share workflows:share
  - GET /me authenticated
  - GET /healthz public
policy: |
  permissions: [workflows:create, workflows:read, workflows:run, workflows:delete, workflows:share]
  roles:
    admin:     [workflows:create, workflows:read, workflows:run, workflows:delete, workflows:share]
    developer: [workflows:create, workflows:read, workflows:run]
    analyst:   [workflows:read, workflows:run]
    viewer:    [workflows:read]
  assignments:
    - subject: svc-ci
      org: acme
      role: developer
`

// people are the demo's subjects: org and roles in their tokens.
var people = map[string]struct {
	org   string
	roles []string
}{
	"alice":  {"acme", []string{"admin"}},
	"bob":    {"acme", []string{"developer"}},
	"carol":  {"acme", []string{"analyst"}},
	"dave":   {"acme", []string{"viewer"}},
	"erin":   {"globex", []string{"admin"}},
	"svc-ci": {"acme", nil},
	"nobody": {"acme", nil}, // no role anywhere: only authenticated routes
}

// mint signs a token for sub valid for ttl (negative: already expired) with key.
func mint(t testing.TB, sub string, ttl time.Duration, key string) string {
	t.Helper()
	p, ok := people[sub]
	if !ok {
		t.Fatalf("unknown subject %q", sub)
	}
	now := time.Now()
	claims := jwt.MapClaims{"iss": testIssuer, "aud": "workflows-api", "sub": sub, "org_id": p.org,
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(ttl).Unix()}
	if len(p.roles) > 0 {
		claims["roles"] = p.roles
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func token(t testing.TB, sub string) string { return mint(t, sub, 10*time.Minute, testSecret) }

// newTestServer builds a forward-auth Server from a configuration document.
func newTestServer(t testing.TB, doc string) *Server {
	t.Helper()
	cfg, err := DecodeConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := New(ctx, cfg, Options{Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeFile writes a file in dir and returns its path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// identity returns the identity and tenant headers of h, for comparisons.
func identity(h http.Header) map[string]string {
	out := map[string]string{}
	for _, name := range []string{"X-Auth-Subject", "X-Auth-Issuer", "X-Auth-Org", "X-Auth-Roles", "X-Auth-Permissions", "X-Org-Id"} {
		if v := h.Values(name); len(v) > 0 {
			out[name] = v[0]
			if len(v) > 1 {
				out[name] += " (and more lines)"
			}
		}
	}
	return out
}
