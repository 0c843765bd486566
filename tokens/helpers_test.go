package tokens

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	testIssuer   = "https://issuer.test"
	testAudience = "api"
	testSecret   = "fake-unit-test-secret-0123456789abcdef"
)

// testKeys are fake keys generated once per test binary.
type testKeys struct {
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
	ed  ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	tk       testKeys
)

func fakeKeys() testKeys {
	keysOnce.Do(func() {
		tk.rsa, _ = rsa.GenerateKey(rand.Reader, 2048)
		tk.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		_, tk.ed, _ = ed25519.GenerateKey(rand.Reader)
	})
	return tk
}

var allAlgorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA"}

// privateFor returns the signing key for alg and the public key a reference verifier uses.
func privateFor(alg string) (interface{}, interface{}) {
	k := fakeKeys()
	switch {
	case strings.HasPrefix(alg, "HS"):
		return []byte(testSecret), []byte(testSecret)
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		return k.rsa, &k.rsa.PublicKey
	case strings.HasPrefix(alg, "ES"):
		return k.ec, &k.ec.PublicKey
	}
	return k.ed, k.ed.Public()
}

// testVerifier trusts the fake keys, issuer and audience, with a fixed clock.
func testVerifier(t testing.TB, now time.Time, extra func(*Options)) *Verifier {
	k := fakeKeys()
	secret, _ := SecretKey([]byte(testSecret))
	rsaKey, _ := publicKey(&k.rsa.PublicKey)
	ecKey, _ := publicKey(&k.ec.PublicKey)
	edKey, _ := publicKey(k.ed.Public())
	opts := Options{
		Issuers: []string{testIssuer}, Audiences: []string{testAudience}, Algorithms: allAlgorithms,
		Leeway: 30 * time.Second, Static: []*Key{secret, rsaKey, ecKey, edKey}, CacheSize: 100,
		Now: func() time.Time { return now },
	}
	if extra != nil {
		extra(&opts)
	}
	return NewVerifier(opts)
}

func sign(t testing.TB, alg string, claims jwt.MapClaims, header map[string]interface{}) string {
	t.Helper()
	priv, _ := privateFor(alg)
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// signRaw signs arbitrary header and payload bytes with alg's fake key.
func signRaw(alg string, header, payload []byte) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	priv, _ := privateFor(alg)
	sig, err := jwt.GetSigningMethod(alg).Sign(signing, priv)
	if err != nil {
		return signing + "."
	}
	return signing + "." + enc.EncodeToString(sig)
}

func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{"iss": testIssuer, "aud": testAudience, "sub": "alice", "org_id": "acme", "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
}

// reference verifies with compiled golang-jwt and the same options as testVerifier.
func reference(tok string, now time.Time) error {
	_, err := jwt.Parse(tok, func(t *jwt.Token) (interface{}, error) {
		_, pub := privateFor(t.Method.Alg())
		return pub, nil
	}, jwt.WithValidMethods(allAlgorithms), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second),
		jwt.WithIssuer(testIssuer), jwt.WithAudience(testAudience), jwt.WithTimeFunc(func() time.Time { return now }))
	return err
}
