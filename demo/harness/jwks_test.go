package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksConfig trusts the JWKS at url, with a short cooldown so rotation tests need not wait 10 s.
func jwksConfig(url string, kv ...interface{}) map[string]interface{} {
	c := cfg("issuers", issuer, "audiences", audience, "jwksURL", url, "jwksCooldown", "50ms")
	for k, v := range cfg(kv...) {
		c[k] = v
	}
	return c
}

func newEC(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestJWKSScenarios(t *testing.T) {
	for _, l := range loaders(t) {
		l := l
		t.Run(l.Name()+"/New makes no fetch; the first request fetches once", func(t *testing.T) {
			srv := newJWKS(t)
			k1 := newEC(t)
			srv.set(jwkOf("k1", k1))
			h, _ := instance(t, l, jwksConfig(srv.URL))
			if n := srv.fetches.Load(); n != 0 {
				t.Fatalf("New fetched the JWKS %d times", n)
			}
			tok := mintWith(t, "ES256", k1, claims("alice", "acme", nil, nil), map[string]interface{}{"kid": "k1"})
			for i := 0; i < 5; i++ {
				if rec := serve(h, bearer(tok)); rec.Code != 200 {
					t.Fatalf("status %d", rec.Code)
				}
			}
			if n := srv.fetches.Load(); n != 1 {
				t.Errorf("fetches = %d, want 1", n)
			}
		})
		t.Run(l.Name()+"/an unknown kid triggers a refetch that picks up a rotated key", func(t *testing.T) {
			srv := newJWKS(t)
			k1, k2 := newEC(t), newEC(t)
			srv.set(jwkOf("k1", k1))
			h, _ := instance(t, l, jwksConfig(srv.URL))
			old := mintWith(t, "ES256", k1, claims("alice", "acme", nil, nil), map[string]interface{}{"kid": "k1"})
			if rec := serve(h, bearer(old)); rec.Code != 200 {
				t.Fatalf("old key: %d", rec.Code)
			}
			srv.set(jwkOf("k1", k1), jwkOf("k2", k2))
			time.Sleep(60 * time.Millisecond) // past the 50ms cooldown
			tok := mintWith(t, "ES256", k2, claims("alice", "acme", nil, nil), map[string]interface{}{"kid": "k2"})
			if rec := serve(h, bearer(tok)); rec.Code != 200 {
				t.Fatalf("new key after rotation: %d %s", rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
			if rec := serve(h, bearer(old)); rec.Code != 200 {
				t.Fatalf("old key still published: %d", rec.Code)
			}
		})
		t.Run(l.Name()+"/a cached token is re-verified after its key leaves the set", func(t *testing.T) {
			srv := newJWKS(t)
			k1, k2 := newEC(t), newEC(t)
			srv.set(jwkOf("k1", k1))
			h, _ := instance(t, l, jwksConfig(srv.URL))
			old := mintWith(t, "ES256", k1, claims("alice", "acme", nil, nil), map[string]interface{}{"kid": "k1"})
			if rec := serve(h, bearer(old)); rec.Code != 200 {
				t.Fatalf("old key: %d", rec.Code)
			}
			srv.set(jwkOf("k2", k2))
			time.Sleep(60 * time.Millisecond)
			tok := mintWith(t, "ES256", k2, claims("alice", "acme", nil, nil), map[string]interface{}{"kid": "k2"})
			if rec := serve(h, bearer(tok)); rec.Code != 200 {
				t.Fatalf("new key: %d", rec.Code)
			}
			if rec := serve(h, bearer(old)); rec.Code != 401 {
				t.Fatalf("token of a removed key: %d, want 401", rec.Code)
			}
		})
		t.Run(l.Name()+"/JWKS down keeps serving with the cached keys", func(t *testing.T) {
			srv := newJWKS(t)
			k1 := newEC(t)
			srv.set(jwkOf("k1", k1))
			h, _ := instance(t, l, jwksConfig(srv.URL, "jwksRefresh", "1ms", "cacheSize", "0"))
			tok := mintWith(t, "ES256", k1, claims("alice", "acme", nil, nil), map[string]interface{}{"kid": "k1"})
			if rec := serve(h, bearer(tok)); rec.Code != 200 {
				t.Fatalf("warm-up: %d", rec.Code)
			}
			srv.down.Store(true)
			for i := 0; i < 5; i++ {
				time.Sleep(60 * time.Millisecond)
				if rec := serve(h, bearer(tok)); rec.Code != 200 {
					t.Fatalf("with the JWKS down: %d", rec.Code)
				}
			}
			if srv.fetches.Load() < 2 {
				t.Errorf("no background refresh was attempted")
			}
		})
		t.Run(l.Name()+"/JWKS down with nothing cached answers 503", func(t *testing.T) {
			srv := newJWKS(t)
			srv.down.Store(true)
			h, b := instance(t, l, jwksConfig(srv.URL))
			tok := mintWith(t, "ES256", newEC(t), claims("alice", "acme", nil, nil), map[string]interface{}{"kid": "k1"})
			rec := serve(h, bearer(tok))
			if rec.Code != 503 || b.calls != 0 {
				t.Fatalf("status %d (backend calls %d), want 503", rec.Code, b.calls)
			}
		})
		t.Run(l.Name()+"/a storm of unknown kids is bounded to one fetch per cooldown", func(t *testing.T) {
			srv := newJWKS(t)
			k1 := newEC(t)
			srv.set(jwkOf("k1", k1))
			conf := jwksConfig(srv.URL)
			delete(conf, "jwksCooldown") // the default: 10 s
			h, _ := instance(t, l, conf)
			for i := 0; i < 200; i++ {
				tok := mintWith(t, "ES256", k1, claims("alice", "acme", nil, nil), map[string]interface{}{"kid": fmt.Sprintf("storm-%d", i)})
				if rec := serve(h, bearer(tok)); rec.Code != 401 {
					t.Fatalf("unknown kid: %d", rec.Code)
				}
			}
			if n := srv.fetches.Load(); n > 1 {
				t.Errorf("fetches = %d for 200 unknown kids, want at most 1", n)
			}
		})
		t.Run(l.Name()+"/OIDC discovery finds the JWKS of the issuer", func(t *testing.T) {
			srv := newJWKS(t)
			k1 := newEC(t)
			srv.set(jwkOf("k1", k1))
			var iss string
			disc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/.well-known/openid-configuration" {
					http.NotFound(w, r)
					return
				}
				json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": srv.URL})
			}))
			defer disc.Close()
			iss = disc.URL
			h, _ := instance(t, l, cfg("issuers", iss, "audiences", audience))
			tok := mintWith(t, "ES256", k1, claims("alice", "acme", nil, jwt.MapClaims{"iss": iss}), map[string]interface{}{"kid": "k1"})
			if rec := serve(h, bearer(tok)); rec.Code != 200 {
				t.Fatalf("status %d %s", rec.Code, rec.Header().Get("WWW-Authenticate"))
			}
			other := mintWith(t, "ES256", k1, claims("alice", "acme", nil, jwt.MapClaims{"iss": "https://other.test"}), map[string]interface{}{"kid": "k1"})
			if rec := serve(h, bearer(other)); rec.Code != 401 {
				t.Fatalf("untrusted issuer: %d", rec.Code)
			}
		})
		t.Run(l.Name()+"/middleware instances share one key set per URL", func(t *testing.T) {
			srv := newJWKS(t)
			k1 := newEC(t)
			srv.set(jwkOf("k1", k1))
			tok := mintWith(t, "ES256", k1, claims("alice", "acme", nil, nil), map[string]interface{}{"kid": "k1"})
			for i := 0; i < 10; i++ {
				h, _ := instance(t, l, jwksConfig(srv.URL))
				if rec := serve(h, bearer(tok)); rec.Code != 200 {
					t.Fatalf("instance %d: %d", i, rec.Code)
				}
			}
			if n := srv.fetches.Load(); n != 1 {
				t.Errorf("fetches = %d across 10 instances, want 1", n)
			}
		})
	}
}
