package tokens

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// claimsSegment is the base64url of valid claims at fixedNow.
func claimsSegment(t *testing.T) string {
	t.Helper()
	raw, err := json.Marshal(validClaims(fixedNow))
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// signPSS signs a token with the fake RSA key and an explicit PSS salt length.
func signPSS(t *testing.T, alg string, hash crypto.Hash, salt int) string {
	t.Helper()
	input := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"`+alg+`"}`)) + "." + claimsSegment(t)
	h := hash.New()
	h.Write([]byte(input))
	sig, err := rsa.SignPSS(rand.Reader, fakeKeys().rsa, hash, h.Sum(nil), &rsa.PSSOptions{SaltLength: salt})
	if err != nil {
		t.Fatalf("salt %d: %v", salt, err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// validPSSWithAnySalt checks tok's signature as golang-jwt does (rsa.PSSSaltLengthAuto), with the
// standard library directly so that the check also runs interpreted.
func validPSSWithAnySalt(t *testing.T, tok string, hash crypto.Hash) bool {
	t.Helper()
	dot := strings.LastIndexByte(tok, '.')
	sig, _ := b64url.DecodeString(tok[dot+1:])
	h := hash.New()
	h.Write([]byte(tok[:dot]))
	return rsa.VerifyPSS(&fakeKeys().rsa.PublicKey, hash, h.Sum(nil), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
}

func TestPSSSaltMustEqualTheHashSize(t *testing.T) {
	v := testVerifier(t, fixedNow, nil)
	emLen := (fakeKeys().rsa.N.BitLen() - 1 + 7) / 8
	for _, c := range []struct {
		alg  string
		hash crypto.Hash
	}{{"PS256", crypto.SHA256}, {"PS384", crypto.SHA384}, {"PS512", crypto.SHA512}} {
		size := c.hash.Size()
		salts := []struct {
			name string
			salt int
			want error
		}{
			{"a salt of the hash size verifies", size, nil},
			{"an empty salt is refused", 0, ErrSignature},
			{"a one-byte salt is refused", 1, ErrSignature},
			{"a salt one byte short of the hash size is refused", size - 1, ErrSignature},
			{"a salt one byte over the hash size is refused", size + 1, ErrSignature},
			{"the longest possible salt is refused", emLen - size - 2, ErrSignature},
		}
		for _, s := range salts {
			t.Run(c.alg+": "+s.name, func(t *testing.T) {
				tok := signPSS(t, c.alg, c.hash, s.salt)
				if _, _, err := v.VerifyClaims(tok, fixedNow); err != s.want {
					t.Fatalf("got %v, want %v", err, s.want)
				}
				if !validPSSWithAnySalt(t, tok, c.hash) {
					t.Fatal("not a PSS signature even with a free salt length: the case proves nothing")
				}
			})
		}
	}
}

func TestHMACKeysOneByteShortAreRefused(t *testing.T) {
	for _, c := range []struct {
		alg  string
		size int
	}{{"HS256", 32}, {"HS384", 48}, {"HS512", 64}} {
		for _, n := range []int{c.size - 1, c.size} {
			want := ErrUnknownKey
			name := c.alg + " with a key one byte short is refused"
			if n == c.size {
				want = nil
				name = c.alg + " with a key of the hash size verifies"
			}
			t.Run(name, func(t *testing.T) {
				secret := []byte(strings.Repeat("k", n))
				key := &Key{Family: FamilyHMAC, Public: secret}
				tok := jwt.NewWithClaims(jwt.GetSigningMethod(c.alg), validClaims(fixedNow))
				s, err := tok.SignedString(secret)
				if err != nil {
					t.Fatal(err)
				}
				v := NewVerifier(Options{Algorithms: []string{c.alg}, Static: []*Key{key}})
				if _, _, err := v.VerifyClaims(s, fixedNow); err != want {
					t.Fatalf("got %v, want %v", err, want)
				}
				dot := strings.LastIndexByte(s, '.')
				sig, _ := b64url.DecodeString(s[dot+1:])
				if got := verifyJWS(joseAlgorithms[c.alg], key, []byte(s[:dot]), sig); got != (want == nil) {
					t.Fatalf("verifyJWS = %v", got)
				}
			})
		}
	}
}

// sibling returns the base64url character that differs from c only in its lowest bit: in a final
// character with unused trailing bits, the same octets spelled differently.
func sibling(c byte) byte {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return alphabet[strings.IndexByte(alphabet, c)^1]
}

// respell replaces the last character of segment i (0 header, 1 payload, 2 signature) by its sibling.
func respell(tok string, i int) string {
	parts := strings.Split(tok, ".")
	s := parts[i]
	parts[i] = s[:len(s)-1] + string(sibling(s[len(s)-1]))
	return strings.Join(parts, ".")
}

func TestBase64urlIsStrict(t *testing.T) {
	hs := sign(t, "HS256", validClaims(fixedNow), nil)                                 // 32-byte MAC: 43 characters, 2 unused bits
	es := sign(t, "ES256", validClaims(fixedNow), nil)                                 // 64-byte signature: 86 characters, 4 unused bits
	kid := sign(t, "HS256", validClaims(fixedNow), map[string]interface{}{"kid": "a"}) // 25-byte header: 4 unused bits
	cases := []struct {
		name    string
		from    string // the canonical token
		segment int    // the segment whose last character is respelled; -1: token used as it is
		token   string // when segment is -1
		want    error
		oracle  bool // golang-jwt accepts the token (a difference by design): the case is meaningful
	}{
		{"the canonical HS256 token verifies", hs, -1, hs, nil, true},
		{"the HS256 signature with non-zero trailing bits is malformed", hs, 2, "", ErrMalformed, true},
		{"the canonical ES256 token verifies", es, -1, es, nil, true},
		{"the ES256 signature with non-zero trailing bits is malformed", es, 2, "", ErrMalformed, true},
		{"the canonical token with a kid verifies", kid, -1, kid, nil, true},
		{"a header with non-zero trailing bits is malformed", kid, 0, "", ErrMalformed, false},
		{"a line feed inside the signature is malformed", hs, -1, hs[:len(hs)-5] + "\n" + hs[len(hs)-5:], ErrMalformed, true},
		{"a carriage return and line feed ending the signature are malformed", hs, -1, hs + "\r\n", ErrMalformed, true},
		{"padding on the signature is malformed", hs, -1, hs + "=", ErrMalformed, false},
	}
	v := testVerifier(t, fixedNow, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := c.token
			if c.segment >= 0 {
				tok = respell(c.from, c.segment)
				lax := base64.RawURLEncoding
				orig, err1 := lax.DecodeString(strings.Split(c.from, ".")[c.segment])
				got, err2 := lax.DecodeString(strings.Split(tok, ".")[c.segment])
				if tok == c.from || err1 != nil || err2 != nil || string(orig) != string(got) {
					t.Fatal("the respelled segment does not spell the same octets differently")
				}
			}
			if _, err := v.Verify(tok); err != c.want {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if c.oracle && reference(tok, fixedNow) != nil {
				t.Fatal("golang-jwt refuses it too: the case proves nothing")
			}
		})
	}
}

func mustJSON(t *testing.T, v interface{}) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHeaderMembersOfTheWrongTypeAreMalformed(t *testing.T) {
	claims := mustJSON(t, validClaims(fixedNow))
	cases := []struct {
		name   string
		header string
		want   error
	}{
		{"string alg, kid and typ verify", `{"alg":"HS256","kid":"k1","typ":"JWT"}`, nil},
		{"an alg array is malformed", `{"alg":["HS256"]}`, ErrMalformed},
		{"a numeric kid is malformed", `{"alg":"HS256","kid":7}`, ErrMalformed},
		{"a null kid is malformed", `{"alg":"HS256","kid":null}`, ErrMalformed},
		{"an object typ is malformed", `{"alg":"HS256","typ":{"v":"JWT"}}`, ErrMalformed},
		{"a missing alg is not allowed", `{"typ":"JWT"}`, ErrAlgorithm},
	}
	v := testVerifier(t, fixedNow, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, _, err := v.VerifyClaims(signRaw("HS256", []byte(c.header), claims), fixedNow); err != c.want {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

// TestES256VerifiesOnlyWithAP256Key: the ES256 path (verifyES256) uses a key's P-256 public key only
// when publicKey found it on P-256; a Key built as a struct literal (no p256) is checked as
// verifyECDSA checks it, and keys of another curve or type never verify ES256.
func TestES256VerifiesOnlyWithAP256Key(t *testing.T) {
	tok := sign(t, "ES256", validClaims(fixedNow), nil)
	dot := strings.LastIndexByte(tok, '.')
	input := []byte(tok[:dot])
	sig, _ := b64url.DecodeString(tok[dot+1:])
	pub := &fakeKeys().ec.PublicKey
	built, err := publicKey(pub)
	if err != nil || built.p256 != pub {
		t.Fatalf("publicKey of a P-256 key: p256 = %v, %v", built.p256, err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	other, _ := publicKey(&p384.PublicKey)
	if other.p256 != nil {
		t.Fatal("a P-384 key has a P-256 key")
	}
	ed, _ := publicKey(fakeKeys().ed.Public())
	rsaKey, _ := publicKey(&fakeKeys().rsa.PublicKey)
	a := joseAlgorithms["ES256"]
	for _, c := range []struct {
		name string
		key  *Key
		sig  []byte
		want bool
	}{
		{"a key built by publicKey verifies", built, sig, true},
		{"a struct literal key verifies through verifyECDSA", &Key{Family: FamilyEC, Curve: "P-256", Public: pub}, sig, true},
		{"a struct literal with a P-384 key does not verify", &Key{Family: FamilyEC, Curve: "P-256", Public: &p384.PublicKey}, sig, false},
		{"a P-384 key does not verify", other, sig, false},
		{"an Ed25519 key does not verify", ed, sig, false},
		{"an RSA key does not verify", rsaKey, sig, false},
		{"an HMAC secret does not verify", &Key{Family: FamilyHMAC, Public: []byte(testSecret)}, sig, false},
		{"a short signature does not verify", built, sig[:63], false},
		{"a long signature does not verify", built, append(append([]byte{}, sig...), 0), false},
		{"a short signature does not verify through verifyECDSA", &Key{Family: FamilyEC, Curve: "P-256", Public: pub}, sig[:63], false},
	} {
		if got := verifyJWS(a, c.key, input, c.sig); got != c.want {
			t.Errorf("%s: verifyJWS = %v", c.name, got)
		}
		if got := refVerifyJWS(a, c.key, input, c.sig); got != c.want {
			t.Errorf("%s: the reference says %v", c.name, got)
		}
	}
}
