package harness

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	gatewayName = "https://gateway.test"
	jwksPath    = "/.well-known/gatehouse/jwks.json"
)

// assertionConfig is the workflows configuration with a signed assertion (key: PEM, lifetime).
func assertionConfig(t testing.TB, key, lifetime string, kv ...interface{}) map[string]interface{} {
	a := map[string]interface{}{"key": key, "issuer": gatewayName, "audience": "workflows-api", "lifetime": lifetime}
	return workflowsConfig(t, append([]interface{}{"assertion", a, "assertionJWKSPath", jwksPath}, kv...)...)
}

// jwksOf serves the JWK Set a middleware publishes at assertionJWKSPath, for keyfunc.
func jwksOf(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := serve(h, request{path: jwksPath})
		w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestTheGatewaySignsWhatItDecided: through the plugin, compiled and interpreted, an allowed request
// carries an assertion that a backend verifies with keyfunc/v3 and golang-jwt against the published
// key set, holding the decision.
func TestTheGatewaySignsWhatItDecided(t *testing.T) {
	keysByAlg := assertionKeys(t)
	for _, l := range loaders(t) {
		for _, alg := range []string{"ES256", "EdDSA"} {
			l, alg := l, alg
			t.Run(l.Name()+"/"+alg+" assertion verifies with the published key and carries the decision", func(t *testing.T) {
				h, b := instance(t, l, assertionConfig(t, keysByAlg[alg], "60s"))
				k := keyfuncFor(t, jwksOf(t, h).URL)
				tok := mint(t, "ES256", claims("bob", "acme", []string{"developer"}, nil), nil)
				rec := serve(h, request{method: "POST", path: "/orgs/acme/workflows/w1/run", token: tok,
					headers: [][2]string{{"X-Auth-Assertion", "forged.by.client"}}})
				if rec.Code != 200 {
					t.Fatalf("status %d", rec.Code)
				}
				got := b.header.Values("X-Auth-Assertion")
				if len(got) != 1 || got[0] == "forged.by.client" {
					t.Fatalf("backend saw X-Auth-Assertion %q", got)
				}
				c, err := backendVerify(k, got[0], gatewayName, "workflows-api")
				if err != nil {
					t.Fatalf("a backend cannot verify the assertion: %v", err)
				}
				want := map[string]interface{}{"sub": "bob", "idp": issuer, "org": "acme", "permission": "workflows:run",
					"route": "POST /orgs/{org}/workflows/{id}/run workflows:run", "method": "POST", "path": "/orgs/acme/workflows/w1/run"}
				for name, v := range want {
					if c[name] != v {
						t.Errorf("claim %s = %v, want %v", name, c[name], v)
					}
				}
				if roles, _ := c["roles"].([]interface{}); len(roles) != 1 || roles[0] != "developer" {
					t.Errorf("roles %v", c["roles"])
				}
				if c["jti"] == nil || c["exp"] == nil || c["iat"] == nil {
					t.Errorf("claims lack jti, iat or exp: %v", c)
				}
			})
		}
		l := l
		t.Run(l.Name()+"/a client-sent assertion never reaches the backend, on a public route or a denial", func(t *testing.T) {
			h, b := instance(t, l, assertionConfig(t, keysByAlg["ES256"], "60s"))
			forged := [][2]string{{"X-Auth-Assertion", "forged"}, {"X_Auth_Assertion", "forged"}}
			if rec := serve(h, request{path: "/healthz", headers: forged}); rec.Code != 200 || len(b.header.Values("X-Auth-Assertion")) != 0 || len(b.header.Values("X_Auth_Assertion")) != 0 {
				t.Fatalf("public route: status %d, backend saw %v", rec.Code, b.header)
			}
			b.calls = 0
			tok := mint(t, "ES256", claims("dave", "acme", []string{"viewer"}, nil), nil)
			if rec := serve(h, request{method: "DELETE", path: "/orgs/acme/workflows/w1", token: tok, headers: forged}); rec.Code != 403 || b.calls != 0 {
				t.Fatalf("denial: status %d, backend calls %d", rec.Code, b.calls)
			}
		})
		t.Run(l.Name()+"/the key set is Gatehouse's own answer, never forwarded, GET and HEAD only", func(t *testing.T) {
			h, b := instance(t, l, assertionConfig(t, keysByAlg["EdDSA"], "60s"))
			rec := serve(h, request{path: jwksPath})
			if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/jwk-set+json" || !strings.Contains(rec.Body.String(), `"OKP"`) || b.calls != 0 {
				t.Fatalf("status %d type %q body %s calls %d", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String(), b.calls)
			}
			if rec := serve(h, request{method: "POST", path: jwksPath}); rec.Code != 405 || b.calls != 0 {
				t.Fatalf("POST: status %d", rec.Code)
			}
		})
		// The plain request replays through the inline warm path; one whose query may hold
		// _method (an escape) through the override rule's path (replay, reminted).
		for _, path := range []string{"/orgs/acme/workflows", "/orgs/acme/workflows?q=a%20b"} {
			path := path
			t.Run(l.Name()+"/a replayed decision replays its assertion, and mints a fresh one before it expires: "+path, func(t *testing.T) {
				t.Parallel()
				h, b := instance(t, l, assertionConfig(t, keysByAlg["ES256"], "5s"))
				k := keyfuncFor(t, jwksOf(t, h).URL)
				r := request{path: path, token: mint(t, "ES256", claims("dave", "acme", []string{"viewer"}, nil), nil)}
				jti := func() (string, float64) {
					t.Helper()
					if rec := serve(h, r); rec.Code != 200 {
						t.Fatalf("status %d", rec.Code)
					}
					c, err := backendVerify(k, b.header.Get("X-Auth-Assertion"), gatewayName, "workflows-api", jwt.WithLeeway(0))
					if err != nil {
						t.Fatalf("replayed assertion does not verify: %v", err)
					}
					return c["jti"].(string), c["exp"].(float64)
				}
				first, exp := jti()
				if again, _ := jti(); again != first {
					t.Fatalf("a replay minted anew (%s, then %s)", first, again)
				}
				// The fresh one comes once less than a quarter of the lifetime is left (5 s: in the last second).
				time.Sleep(time.Until(time.Unix(int64(exp)-1, 0)) + 50*time.Millisecond)
				fresh, freshExp := jti()
				if fresh == first || freshExp <= exp {
					t.Fatalf("no fresh assertion near expiry: jti %s exp %v (first %s exp %v)", fresh, freshExp, first, exp)
				}
				if again, _ := jti(); again != fresh {
					t.Fatalf("the fresh assertion was not replayed (%s, then %s)", fresh, again)
				}
			})
		}
		t.Run(l.Name()+"/after a key rotation the previous key stays published: old assertions keep verifying", func(t *testing.T) {
			keys1, keys2 := assertionKeys(t), assertionKeys(t)
			ctx1, cancel1 := context.WithCancel(context.Background())
			b1 := &backend{}
			h1, err := l.New(ctx1, b1, assertionConfig(t, keys1["ES256"], "60s"), "gen1")
			if err != nil {
				t.Fatal(err)
			}
			tok := mint(t, "ES256", claims("dave", "acme", []string{"viewer"}, nil), nil)
			serve(h1, request{path: "/orgs/acme/workflows", token: tok})
			old := b1.header.Get("X-Auth-Assertion")
			h2, b2 := instance(t, l, assertionConfig(t, keys2["ES256"], "60s"))
			cancel1()
			serve(h2, request{path: "/orgs/acme/workflows", token: tok})
			k := keyfuncFor(t, jwksOf(t, h2).URL)
			for name, a := range map[string]string{"the old assertion": old, "the new assertion": b2.header.Get("X-Auth-Assertion")} {
				if _, err := backendVerify(k, a, gatewayName, "workflows-api"); err != nil {
					t.Errorf("%s does not verify against the new generation's key set: %v", name, err)
				}
			}
		})
	}
}

// TestAssertionConfigurationErrors: a bad assertion configuration fails New with the field named.
func TestAssertionConfigurationErrors(t *testing.T) {
	good := assertionKeys(t)["ES256"]
	cases := []struct {
		name   string
		config map[string]interface{}
		want   string
	}{
		{"a key that is neither PEM nor a file", assertionConfig(t, "not-a-key", "60s"), "assertion.key"},
		{"an RSA key", assertionConfig(t, "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n", "60s"), "assertion.key"},
		{"a lifetime under 5s", assertionConfig(t, good, "1s"), "assertion.lifetime"},
		{"a lifetime that is not a duration", assertionConfig(t, good, "soon"), "assertion.lifetime"},
		{"no issuer", workflowsConfig(t, "assertion", map[string]interface{}{"key": good}), "assertion.issuer"},
		{"a misspelled assertion option", workflowsConfig(t, "assertion", map[string]interface{}{"key": good, "issuer": gatewayName, "lifetme": "60s"}), "assertion.lifetme: unknown option"},
		{"a JWKS path without a key", workflowsConfig(t, "assertionJWKSPath", jwksPath), "assertion.key"},
		{"a JWKS path that is also a route", assertionConfig(t, good, "60s", "assertionJWKSPath", "/healthz"), "assertionJWKSPath"},
	}
	for _, l := range loaders(t) {
		for _, c := range cases {
			l, c := l, c
			t.Run(l.Name()+"/"+c.name+" fails New naming "+c.want, func(t *testing.T) {
				_, err := l.New(context.Background(), &backend{}, c.config, "test")
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("New: %v", err)
				}
			})
		}
	}
}
