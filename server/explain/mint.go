package explain

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrMint marks claims or a key a test token cannot be minted from.
var ErrMint = errors.New("cannot mint a test token")

// Mint signs claims (a JSON object) into a test token: HS256 with secret, or with the PEM private
// key pemKey (EC P-256: ES256, Ed25519: EdDSA, RSA: RS256). It adds iat and exp (five minutes
// ahead of now) when the claims lack them.
func Mint(claims string, secret string, pemKey []byte, now time.Time) (string, error) {
	var c jwt.MapClaims
	if err := json.Unmarshal([]byte(claims), &c); err != nil || c == nil {
		return "", fmt.Errorf("%w: --claims must be a JSON object", ErrMint)
	}
	if _, ok := c["iat"]; !ok {
		c["iat"] = now.Unix()
	}
	if _, ok := c["exp"]; !ok {
		c["exp"] = now.Add(5 * time.Minute).Unix()
	}
	if secret != "" {
		return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
	}
	block, _ := pem.Decode(pemKey)
	if block == nil {
		return "", fmt.Errorf("%w: the key is not PEM", ErrMint)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if k, err2 := x509.ParseECPrivateKey(block.Bytes); err2 == nil {
			key = k
		} else if k, err3 := x509.ParsePKCS1PrivateKey(block.Bytes); err3 == nil {
			key = k
		} else {
			return "", fmt.Errorf("%w: %v", ErrMint, err)
		}
	}
	var method jwt.SigningMethod
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k.Curve.Params().Name != "P-256" {
			return "", fmt.Errorf("%w: an EC key must be P-256 (ES256)", ErrMint)
		}
		method = jwt.SigningMethodES256
	case ed25519.PrivateKey:
		method = jwt.SigningMethodEdDSA
	case *rsa.PrivateKey:
		method = jwt.SigningMethodRS256
	default:
		return "", fmt.Errorf("%w: unsupported key type %T", ErrMint, key)
	}
	return jwt.NewWithClaims(method, c).SignedString(key)
}
