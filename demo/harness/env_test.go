package harness

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/demo/loader"
)

const (
	issuer   = "https://issuer.test"
	audience = "workflows-api"
	secret   = "fake-test-secret-0123456789abcdef-long-enough-for-hs512-01234567" // 64 bytes: HS512's minimum
)

// keyring holds one fake key of every supported type, generated per test run.
type keyring struct {
	rsa     *rsa.PrivateKey
	ec      map[string]*ecdsa.PrivateKey // by alg
	ed      ed25519.PrivateKey
	pemByFa map[string]string // alg → PEM public key
}

var (
	ringOnce sync.Once
	ring     *keyring
)

func keys() *keyring {
	ringOnce.Do(func() {
		r := &keyring{ec: map[string]*ecdsa.PrivateKey{}, pemByFa: map[string]string{}}
		r.rsa, _ = rsa.GenerateKey(rand.Reader, 2048)
		curves := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}
		for alg, c := range curves {
			r.ec[alg], _ = ecdsa.GenerateKey(c, rand.Reader)
			r.pemByFa[alg] = pemOf(&r.ec[alg].PublicKey)
		}
		_, r.ed, _ = ed25519.GenerateKey(rand.Reader)
		r.pemByFa["RSA"] = pemOf(&r.rsa.PublicKey)
		r.pemByFa["EdDSA"] = pemOf(r.ed.Public())
		ring = r
	})
	return ring
}

func pemOf(pub interface{}) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// signingKey returns the private key and the public PEM for alg.
func (r *keyring) signingKey(alg string) (interface{}, string) {
	switch {
	case strings.HasPrefix(alg, "HS"):
		return []byte(secret), ""
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		return r.rsa, r.pemByFa["RSA"]
	case strings.HasPrefix(alg, "ES"):
		return r.ec[alg], r.pemByFa[alg]
	}
	return r.ed, r.pemByFa["EdDSA"]
}

// claims returns valid default claims for subject in org with roles; extra entries override.
func claims(sub, org string, roles []string, extra map[string]interface{}) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{"iss": issuer, "aud": audience, "sub": sub, "org_id": org, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	if org == "" {
		delete(c, "org_id") // a token without an org (an empty org claim is refused)
	}
	if roles != nil {
		c["roles"] = roles
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// mint signs claims with alg (and header entries hdr, e.g. kid), using the keyring.
func mint(t testing.TB, alg string, c jwt.MapClaims, hdr map[string]interface{}) string {
	t.Helper()
	key, _ := keys().signingKey(alg)
	return mintWith(t, alg, key, c, hdr)
}

func mintWith(t testing.TB, alg string, key interface{}, c jwt.MapClaims, hdr map[string]interface{}) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), c)
	for k, v := range hdr {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", alg, err)
	}
	return s
}

// rawToken assembles a token from raw JSON header and payload and a signature over them made by sign.
func rawToken(header, payload string, sign func(signingString string) []byte) string {
	enc := base64.RawURLEncoding
	s := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	var sig []byte
	if sign != nil {
		sig = sign(s)
	}
	return s + "." + enc.EncodeToString(sig)
}

// jwksServer serves a mutable JWKS and counts fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    []map[string]string
	down    atomic.Bool
	fetches atomic.Int64
}

func newJWKS(t testing.TB) *jwksServer {
	s := &jwksServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		s.mu.Lock()
		body, _ := json.Marshal(map[string]interface{}{"keys": s.keys})
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(jwks ...map[string]string) {
	s.mu.Lock()
	s.keys = jwks
	s.mu.Unlock()
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkOf renders the public part of a private key as a JWK with kid.
func jwkOf(kid string, priv interface{}) map[string]string {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PrivateKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		x, y := make([]byte, size), make([]byte, size)
		k.X.FillBytes(x)
		k.Y.FillBytes(y)
		return map[string]string{"kty": "EC", "kid": kid, "crv": k.Curve.Params().Name, "x": b64(x), "y": b64(y)}
	case ed25519.PrivateKey:
		return map[string]string{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(k.Public().(ed25519.PublicKey))}
	}
	panic("unsupported key")
}

// backend records what the protected service saw.
type backend struct {
	mu     sync.Mutex
	calls  int
	header http.Header
	url    string
	method string
	body   string
}

func (b *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.calls++
	b.header = r.Header.Clone()
	b.url = r.URL.RequestURI()
	b.method = r.Method
	if r.Body != nil {
		body, _ := io.ReadAll(r.Body)
		b.body = string(body)
	}
	b.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// loaders returns the compiled loader and the Yaegi loader.
func loaders(t testing.TB) []loader.Loader {
	y, err := loader.Shared()
	if err != nil {
		t.Fatalf("yaegi: %v", err)
	}
	return []loader.Loader{loader.Compiled{}, y}
}

// instance builds a middleware with loader l from a raw config map.
func instance(t testing.TB, l loader.Loader, cfg map[string]interface{}) (http.Handler, *backend) {
	t.Helper()
	b := &backend{}
	h, err := l.New(context.Background(), b, cfg, "test")
	if err != nil {
		t.Fatalf("%s: New: %v", l.Name(), err)
	}
	return h, b
}

// request describes one call.
type request struct {
	method  string
	path    string
	host    string
	token   string
	headers [][2]string // added in order; a name may repeat
	body    string
}

func (r request) build() *http.Request {
	m := r.method
	if m == "" {
		m = http.MethodGet
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req := httptest.NewRequest(m, "http://api.test"+r.path, body)
	if r.host != "" {
		req.Host = r.host
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for _, h := range r.headers {
		req.Header[h[0]] = append(req.Header[h[0]], h[1])
	}
	return req
}

func serve(h http.Handler, r request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r.build())
	return rec
}

// cfg builds a raw configuration map as Traefik hands it over: every scalar a string, lists as
// []interface{} of strings.
func cfg(kv ...interface{}) map[string]interface{} {
	m := map[string]interface{}{}
	for i := 0; i+1 < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case []string:
			l := make([]interface{}, len(v))
			for j, s := range v {
				l[j] = s
			}
			m[kv[i].(string)] = l
		default:
			m[kv[i].(string)] = v
		}
	}
	return m
}

// baseConfig verifies tokens of issuer/audience signed by every fake static key.
func baseConfig(kv ...interface{}) map[string]interface{} {
	r := keys()
	base := cfg("issuers", issuer, "audiences", audience, "secret", secret,
		"keys", []string{r.pemByFa["RSA"], r.pemByFa["ES256"], r.pemByFa["ES384"], r.pemByFa["ES512"], r.pemByFa["EdDSA"]})
	for k, v := range cfg(kv...) {
		base[k] = v
	}
	return base
}

func mapClaims(kv ...interface{}) map[string]interface{} {
	m := map[string]interface{}{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func loaderShared(t testing.TB) (*loader.Yaegi, error) {
	t.Helper()
	return loader.Shared()
}
