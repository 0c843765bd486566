package workflows

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/assertion"
)

const (
	gatewayName = "https://gateway.workflows.test"
	apiAudience = "workflows-api"
	idpName     = "https://issuer.test"
)

func fakeKey(t *testing.T) (*ecdsa.PrivateKey, string) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// gateway stands in for Gatehouse: it signs with package assertion and serves the JWK Set.
type gateway struct {
	signer  *assertion.Signer
	srv     *httptest.Server
	down    atomic.Bool
	fetches atomic.Int32
}

func newGateway(t *testing.T) *gateway {
	_, pemKey := fakeKey(t)
	s, err := assertion.New(assertion.Settings{Key: pemKey, Issuer: gatewayName, Audience: apiAudience})
	if err != nil {
		t.Fatal(err)
	}
	g := &gateway{signer: s}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.fetches.Add(1)
		if g.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		w.Write(g.signer.JWKS(time.Now()))
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) mint(method, path string) string {
	tok, _ := g.signer.Mint(assertion.Claims{Subject: "alice", Vouched: idpName, Org: "acme", Roles: []string{"admin"},
		Permission: "workflows:read", Route: "GET /orgs/{org}/workflows", Method: method, Path: path}, time.Now())
	return tok
}

func verifyingAPI(t *testing.T, g *gateway) http.Handler {
	h, _ := verifyingService(t, g)
	return h
}

func verifyingService(t *testing.T, g *gateway) (http.Handler, *Service) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := New()
	if err := s.RequireAssertion(ctx, AssertionConfig{JWKSURL: g.srv.URL, Issuer: gatewayName, Audience: apiAudience}); err != nil {
		t.Fatal(err)
	}
	return s.Handler(), s
}

// call sends method path with the identity headers Gatehouse sets for alice, plus extra headers.
func call(h http.Handler, method, path string, extra map[string][]string) (int, map[string]interface{}) {
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("X-Auth-Subject", "alice")
	req.Header.Set("X-Auth-Issuer", idpName)
	req.Header.Set("X-Auth-Org", "acme")
	for k, v := range extra {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]interface{}
	json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

func forged(t *testing.T, kid string, now time.Time) string {
	k, _ := fakeKey(t)
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": gatewayName, "aud": apiAudience, "sub": "alice",
		"idp": idpName, "org": "acme", "method": "GET", "path": "/orgs/acme/workflows", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTheAPIRefusesRequestsTheGatewayDidNotVouchFor(t *testing.T) {
	g := newGateway(t)
	h := verifyingAPI(t, g)
	valid := g.mint("GET", "/orgs/acme/workflows")
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		headers map[string][]string
		want    int
	}{
		{"a request with the gateway's assertion is served", "GET", "/orgs/acme/workflows", map[string][]string{"X-Auth-Assertion": {valid}}, 200},
		{"forged identity headers without an assertion are refused", "GET", "/orgs/acme/workflows", nil, 401},
		{"an assertion signed with another key under the gateway's kid is refused", "GET", "/orgs/acme/workflows", map[string][]string{"X-Auth-Assertion": {forged(t, g.signer.KeyID(), time.Now())}}, 401},
		{"the assertion of a GET replayed on a DELETE is refused", "DELETE", "/orgs/acme/workflows/wf-1", map[string][]string{"X-Auth-Assertion": {valid}}, 401},
		{"the assertion replayed on another path is refused", "GET", "/orgs/globex/workflows", map[string][]string{"X-Auth-Assertion": {valid}}, 401},
		{"an assertion whose subject differs from X-Auth-Subject is refused", "GET", "/orgs/acme/workflows", map[string][]string{"X-Auth-Assertion": {valid}, "X-Auth-Subject": {"mallory"}}, 401},
		{"an assertion whose org differs from X-Auth-Org is refused", "GET", "/orgs/acme/workflows", map[string][]string{"X-Auth-Assertion": {valid}, "X-Auth-Org": {"globex"}}, 401},
		{"an assertion whose idp differs from X-Auth-Issuer is refused", "GET", "/orgs/acme/workflows", map[string][]string{"X-Auth-Assertion": {valid}, "X-Auth-Issuer": {"https://evil.test"}}, 401},
		{"two assertion headers are refused", "GET", "/orgs/acme/workflows", map[string][]string{"X-Auth-Assertion": {valid, valid}}, 401},
		{"the public health check needs no assertion", "GET", "/healthz", nil, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := call(h, tc.method, tc.path, tc.headers)
			if code != tc.want {
				t.Errorf("status %d, want %d: %v", code, tc.want, out)
			}
			if code == 401 && out["who"] != "anonymous" {
				t.Errorf("a refusal names %v", out["who"])
			}
		})
	}
}

func TestTheAPIRefusesExpiredAndMisaddressedAssertions(t *testing.T) {
	g := newGateway(t)
	h := verifyingAPI(t, g)
	_, pemKey := fakeKey(t)
	other, err := assertion.New(assertion.Settings{Key: pemKey, Issuer: gatewayName, Audience: "billing-api"})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := g.signer.Mint(assertion.Claims{Subject: "alice", Vouched: idpName, Org: "acme", Method: "GET", Path: "/orgs/acme/workflows"}, time.Now().Add(-2*time.Minute))
	billing, _ := other.Mint(assertion.Claims{Subject: "alice", Vouched: idpName, Org: "acme", Method: "GET", Path: "/orgs/acme/workflows"}, time.Now())
	for _, tc := range []struct{ name, tok string }{
		{"an assertion that expired a minute ago is refused", old},
		{"an assertion for another audience is refused", billing},
		{"a token that is not a JWS is refused", "not-a-jwt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code, out := call(h, "GET", "/orgs/acme/workflows", map[string][]string{"X-Auth-Assertion": {tc.tok}}); code != 401 {
				t.Errorf("status %d: %v", code, out)
			}
		})
	}
}

func TestTheAPIWaitsForTheGatewaysJWKS(t *testing.T) {
	g := newGateway(t)
	g.down.Store(true)
	h, s := verifyingService(t, g)
	clock := time.Now()
	s.verifier.now = func() time.Time { return clock }
	tok := g.mint("GET", "/orgs/acme/workflows")
	t.Run("while the JWK Set cannot be fetched a valid assertion is refused", func(t *testing.T) {
		if code, _ := call(h, "GET", "/orgs/acme/workflows", map[string][]string{"X-Auth-Assertion": {tok}}); code != 401 {
			t.Errorf("status %d", code)
		}
	})
	t.Run("a retry within the second makes no fetch", func(t *testing.T) {
		before := g.fetches.Load()
		g.down.Store(false)
		clock = clock.Add(999 * time.Millisecond)
		if code, _ := call(h, "GET", "/orgs/acme/workflows", map[string][]string{"X-Auth-Assertion": {tok}}); code != 401 {
			t.Errorf("status %d", code)
		}
		if n := g.fetches.Load(); n != before {
			t.Errorf("%d fetches within the second", n-before)
		}
	})
	t.Run("once the gateway answers the same assertion is served", func(t *testing.T) {
		clock = clock.Add(time.Millisecond)
		if code, out := call(h, "GET", "/orgs/acme/workflows", map[string][]string{"X-Auth-Assertion": {tok}}); code != 200 {
			t.Errorf("status %d: %v", code, out)
		}
	})
}

func TestWithoutRequireAssertionTheAPITrustsTheHeaders(t *testing.T) {
	code, out := call(New().Handler(), "GET", "/orgs/acme/workflows", nil)
	if code != 200 || out["who"] != "alice" {
		t.Errorf("status %d: %v", code, out)
	}
}
