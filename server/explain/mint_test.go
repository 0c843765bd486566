package explain

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestMintSignsWithTheKeysAlgorithmAndAddsExp(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	cases := []struct {
		name string
		key  crypto.Signer
		alg  string
	}{
		{"an EC P-256 key signs ES256", ec, "ES256"},
		{"an Ed25519 key signs EdDSA", ed, "EdDSA"},
		{"an RSA key signs RS256", rs, "RS256"},
	}
	now := time.Now()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			der, err := x509.MarshalPKCS8PrivateKey(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := Mint(`{"sub":"a"}`, "", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), now)
			if err != nil {
				t.Fatal(err)
			}
			c := jwt.MapClaims{}
			parsed, err := jwt.ParseWithClaims(tok, c, func(*jwt.Token) (interface{}, error) { return tc.key.Public(), nil })
			if err != nil || parsed.Method.Alg() != tc.alg {
				t.Fatalf("alg %v, err %v; want %s", parsed.Method.Alg(), err, tc.alg)
			}
			if exp, _ := c.GetExpirationTime(); exp == nil || exp.Unix() != now.Add(5*time.Minute).Unix() {
				t.Errorf("exp %v, want five minutes ahead", exp)
			}
		})
	}
	t.Run("claims that are not a JSON object are refused", func(t *testing.T) {
		if _, err := Mint(`[1]`, "s", nil, now); !errors.Is(err, ErrMint) {
			t.Errorf("err %v, want ErrMint", err)
		}
	})
}
