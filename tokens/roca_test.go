package tokens

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	mrand "math/rand"
	"strings"
	"testing"
)

// smallPrimes returns the primes from 3 to 167, computed here rather than copied from roca.go.
func smallPrimes() []*big.Int {
	var out []*big.Int
	for i := int64(3); i <= 167; i += 2 {
		if p := big.NewInt(i); p.ProbablyPrime(0) {
			out = append(out, p)
		}
	}
	return out
}

// rocaPrime returns a 1024-bit prime of the form k*M + (65537^a mod M), M the product of the small
// primes: the structure of Infineon's flawed key generation.
func rocaPrime(t *testing.T, rng *mrand.Rand) *big.Int {
	t.Helper()
	m := big.NewInt(1)
	for _, p := range smallPrimes() {
		m.Mul(m, p)
	}
	top := new(big.Int).Lsh(big.NewInt(1), 1024)
	floor := new(big.Int).Rsh(new(big.Int).Mul(top, big.NewInt(3)), 2) // 0.75 * 2^1024: the top two bits set
	kMin := new(big.Int).Div(floor, m)
	kSpan := new(big.Int).Sub(new(big.Int).Div(top, m), kMin)
	for i := 0; i < 100000; i++ {
		a := new(big.Int).Rand(rng, m)
		p := new(big.Int).Exp(big.NewInt(65537), a, m)
		k := new(big.Int).Add(kMin, new(big.Int).Rand(rng, kSpan))
		p.Add(p, k.Mul(k, m))
		if p.Bit(0) == 1 && p.Cmp(floor) >= 0 && p.BitLen() == 1024 && p.ProbablyPrime(20) {
			return p
		}
	}
	t.Fatal("no ROCA-form prime found")
	return nil
}

func TestROCAKeysAreRefused(t *testing.T) {
	rng := mrand.New(mrand.NewSource(15361))
	n := new(big.Int).Mul(rocaPrime(t, rng), rocaPrime(t, rng))
	if n.BitLen() != 2048 {
		t.Fatalf("constructed modulus has %d bits", n.BitLen())
	}
	roca := &rsa.PublicKey{N: n, E: 65537}
	t.Run("the detector uses the primes 3 to 167", func(t *testing.T) {
		want := smallPrimes()
		if len(rocaPrimes) != len(want) {
			t.Fatalf("%d primes, want %d", len(rocaPrimes), len(want))
		}
		for i, p := range want {
			if rocaPrimes[i] != p.Int64() {
				t.Fatalf("prime %d is %d, want %d", i, rocaPrimes[i], p.Int64())
			}
		}
	})
	t.Run("a modulus built from ROCA-form primes has the fingerprint", func(t *testing.T) {
		if !hasROCAFingerprint(n) {
			t.Fatal("fingerprint not detected")
		}
	})
	t.Run("a ROCA key is refused as a PEM key", func(t *testing.T) {
		der, _ := x509.MarshalPKIXPublicKey(roca)
		if _, err := ParsePEMKeys(pemBlock("PUBLIC KEY", der)); err == nil || !strings.Contains(err.Error(), "ROCA") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a ROCA key is skipped in a JWKS", func(t *testing.T) {
		enc := base64.RawURLEncoding
		body := `{"keys":[{"kty":"RSA","kid":"roca","n":"` + enc.EncodeToString(n.Bytes()) + `","e":"AQAB"}]}`
		if keys, _, err := ParseJWKS([]byte(body), nil); err != nil || len(keys) != 0 {
			t.Fatalf("took %d keys (err %v), want the ROCA key skipped", len(keys), err)
		}
	})
	t.Run("the same modulus plus two has no fingerprint", func(t *testing.T) {
		if hasROCAFingerprint(new(big.Int).Add(n, big.NewInt(2))) {
			t.Fatal("fingerprint detected")
		}
	})
	t.Run("ordinary generated RSA keys are accepted", func(t *testing.T) {
		fresh, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		for _, pub := range []*rsa.PublicKey{&fakeKeys().rsa.PublicKey, &fresh.PublicKey} {
			if _, err := publicKey(pub); err != nil {
				t.Fatal(err)
			}
		}
	})
}
