package assertion

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// t0 is the fixed clock of the tests.
var t0 = time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z

var issuerSeq int64

// uniqueIssuer returns an issuer name no other test uses: the key registry is process-wide.
func uniqueIssuer(t testing.TB) string {
	return "https://gateway-" + strconv.FormatInt(atomic.AddInt64(&issuerSeq, 1), 10) + ".test"
}

func testdata(name string) string { return filepath.Join("testdata", name) }

func readTestdata(t testing.TB, name string) string {
	b, err := os.ReadFile(testdata(name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newECPEM(t testing.TB) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func newEdPEM(t testing.TB) string {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// settings returns valid settings for key under a fresh issuer.
func settings(t testing.TB, key string) Settings {
	return Settings{Key: key, Issuer: uniqueIssuer(t), Audience: "workflows-api"}
}

func mustSigner(t testing.TB, s Settings, now time.Time) *Signer {
	sg, err := newSigner(s, now)
	if err != nil {
		t.Fatal(err)
	}
	return sg
}

// publicKeys parses a JWK Set by hand into golang-jwt verification keys by kid. It is written
// from RFC 7518 §6.2.1 and RFC 8037 §2 independently of the package's own encoding.
func publicKeys(t testing.TB, set []byte) map[string]interface{} {
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(set, &doc); err != nil {
		t.Fatalf("JWKS is not JSON: %v: %s", err, set)
	}
	out := map[string]interface{}{}
	for _, k := range doc.Keys {
		if k["use"] != "sig" || k["kid"] == "" {
			t.Fatalf("JWK without use sig or kid: %v", k)
		}
		if _, dup := out[k["kid"]]; dup {
			t.Fatalf("kid %q twice in %s", k["kid"], set)
		}
		x := decodeB64(t, k["x"])
		switch {
		case k["kty"] == "EC" && k["crv"] == "P-256" && k["alg"] == "ES256":
			y := decodeB64(t, k["y"])
			if len(x) != 32 || len(y) != 32 {
				t.Fatalf("EC coordinates of %d and %d bytes", len(x), len(y))
			}
			out[k["kid"]] = &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
		case k["kty"] == "OKP" && k["crv"] == "Ed25519" && k["alg"] == "EdDSA":
			if len(x) != ed25519.PublicKeySize {
				t.Fatalf("Ed25519 x of %d bytes", len(x))
			}
			out[k["kid"]] = ed25519.PublicKey(x)
		default:
			t.Fatalf("unexpected JWK %v", k)
		}
	}
	return out
}

func decodeB64(t testing.TB, s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("not base64url without padding: %q", s)
	}
	return b
}

// verify checks tok with golang-jwt against the keys of a JWK Set, as a backend would, at now.
func verify(t testing.TB, tok string, set []byte, issuer, audience string, now time.Time) (jwt.MapClaims, error) {
	keys := publicKeys(t, set)
	lookup := func(tk *jwt.Token) (interface{}, error) {
		kid, _ := tk.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, jwt.ErrTokenUnverifiable
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, lookup,
		jwt.WithValidMethods([]string{"ES256", "EdDSA"}),
		jwt.WithIssuer(issuer), jwt.WithAudience(audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }))
	return claims, err
}
