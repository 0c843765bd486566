//go:build !yaegi
// +build !yaegi

package tokens

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerifyAgreesWithGolangJWT signs fuzzer-chosen headers and payloads with every algorithm's fake
// key (or not) and checks that Gatehouse and compiled golang-jwt (same keys, issuer, audience,
// leeway, clock) agree on accept or reject. The fuzzer also picks the HMAC secret's length (32 to
// 64 bytes), the PSS salt length, and may respell a segment with non-zero trailing bits or insert a
// line break. The only tolerated differences are where Gatehouse is stricter by design, and only in
// the direction of refusing: a crit header, a NumericDate beyond 1e13 seconds, an HMAC secret shorter
// than the hash (RFC 7518 §3.2), a PSS salt other than the hash size (§3.5), non-canonical
// base64url or a line break (RFC 7515 §2), and a kid or typ header member that is not a string.
func FuzzVerifyAgreesWithGolangJWT(f *testing.F) {
	now := fixedNow
	ok := []byte(`{"iss":"https://issuer.test","aud":"api","exp":1900000000}`)
	f.Add([]byte(`{"alg":"HS256","typ":"JWT"}`), []byte(`{"iss":"https://issuer.test","aud":"api","exp":1800000100}`), uint8(0), true, uint8(0), uint8(0), uint8(0))
	f.Add([]byte(`{"alg":"ES256","kid":"x"}`), []byte(`{"iss":"https://issuer.test","aud":["api"],"exp":1800000000,"nbf":1800000030}`), uint8(9), true, uint8(0), uint8(0), uint8(0))
	f.Add([]byte(`{"alg":"RS256"}`), []byte(`{"iss":"https://issuer.test","aud":"api","exp":1799999970.5}`), uint8(3), true, uint8(0), uint8(0), uint8(0))
	f.Add([]byte(`{"alg":"none"}`), []byte(`{"exp":1900000000}`), uint8(0), false, uint8(0), uint8(0), uint8(0))
	f.Add([]byte(`{"alg":"EdDSA","crit":["b64"]}`), ok, uint8(10), true, uint8(0), uint8(0), uint8(0))
	f.Add([]byte(`{"alg":"HS256"}`), []byte(`{"iss":"https://issuer.test","aud":"api","exp":1900000000,"iat":"x"}`), uint8(0), true, uint8(0), uint8(0), uint8(0))
	f.Add([]byte(`{"alg":"HS512"}`), ok, uint8(2), true, uint8(31), uint8(0), uint8(0))
	f.Add([]byte(`{"alg":"HS384"}`), ok, uint8(1), true, uint8(15), uint8(0), uint8(0))
	f.Add([]byte(`{"alg":"PS256"}`), ok, uint8(6), true, uint8(0), uint8(1), uint8(0))
	f.Add([]byte(`{"alg":"PS512"}`), ok, uint8(8), true, uint8(0), uint8(65), uint8(0))
	f.Add([]byte(`{"alg":"ES256"}`), ok, uint8(9), true, uint8(0), uint8(0), uint8(3))
	f.Add([]byte(`{"alg":"HS256","kid":"a"}`), ok, uint8(0), true, uint8(0), uint8(0), uint8(1))
	f.Add([]byte(`{"alg":"HS256"}`), ok, uint8(0), true, uint8(0), uint8(0), uint8(4))
	f.Add([]byte(`{"alg":"HS256","kid":7}`), ok, uint8(0), true, uint8(0), uint8(0), uint8(0))
	f.Add([]byte(`{"alg":"RS256","typ":null}`), ok, uint8(3), true, uint8(0), uint8(0), uint8(0))
	verifiers := map[int]*Verifier{}
	for n := MinSecretBytes; n <= 64; n++ {
		key, _ := SecretKey(fuzzSecret(n))
		verifiers[n] = testVerifier(f, now, func(o *Options) { o.Static = append([]*Key{key}, o.Static[1:]...) })
	}
	f.Fuzz(func(t *testing.T, header, payload []byte, algIndex uint8, signIt bool, secretLen, saltSel, respellSel uint8) {
		alg := allAlgorithms[int(algIndex)%len(allAlgorithms)]
		secret := fuzzSecret(MinSecretBytes + int(secretLen)%33)
		salt := -1 // golang-jwt's own PSS signing: salt of the hash size
		if saltSel != 0 && strings.HasPrefix(alg, "PS") {
			salt = int(saltSel) - 1
		}
		var tok string
		if signIt {
			tok = fuzzSign(alg, header, payload, secret, salt)
			tok = fuzzRespell(tok, respellSel)
		} else {
			enc := base64.RawURLEncoding
			tok = enc.EncodeToString(header) + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString(payload)
		}
		_, _, ours := verifiers[len(secret)].VerifyClaims(tok, now)
		ref := fuzzReference(tok, now, secret)
		if (ours == nil) == (ref == nil) {
			return
		}
		if ours == nil {
			t.Fatalf("accepted what golang-jwt rejects (%v)\nheader %s\npayload %s", ref, header, payload)
		}
		if stricterByDesign(ours, tok, header, payload, secret, salt) {
			return
		}
		t.Fatalf("disagreement: ours %v, golang-jwt %v\nheader %s\npayload %s", ours, ref, header, payload)
	})
}

// stricterByDesign reports whether ours refused tok for one of the documented stricter rules.
func stricterByDesign(ours error, tok string, header, payload, secret []byte, salt int) bool {
	var h map[string]interface{}
	_ = json.Unmarshal(header, &h)
	alg, _ := h["alg"].(string)
	switch {
	case ours == ErrCritical, ours == ErrTooLarge:
		return true
	case ours == ErrMalformed && (absurdDate(payload) || !canonicalBase64(tok) || !stringOrAbsent(h, "kid") || !stringOrAbsent(h, "typ")):
		return true
	case ours == ErrUnknownKey && len(secret) < MinHMACKeyBytes(alg):
		return true
	case ours == ErrSignature && salt >= 0 && strings.HasPrefix(alg, "PS") && salt != joseAlgorithms[alg].hash.Size():
		return true
	}
	return false
}

func absurdDate(payload []byte) bool {
	var c map[string]interface{}
	if json.Unmarshal(payload, &c) != nil {
		return false
	}
	for _, k := range []string{"exp", "nbf", "iat"} {
		if f, ok := c[k].(float64); ok && math.Abs(f) > maxNumericDate {
			return true
		}
	}
	return false
}

// stringOrAbsent reports whether header member name is absent or a JSON string.
func stringOrAbsent(h map[string]interface{}, name string) bool {
	raw, present := h[name]
	if !present {
		return true
	}
	_, ok := raw.(string)
	return ok
}

// canonicalBase64 reports whether every segment of tok is the one base64url spelling of its octets.
func canonicalBase64(tok string) bool {
	if hasLineBreak(tok) {
		return false
	}
	for _, seg := range strings.Split(tok, ".") {
		raw, err := base64.RawURLEncoding.DecodeString(seg)
		if err == nil && base64.RawURLEncoding.EncodeToString(raw) != seg {
			return false
		}
	}
	return true
}

// fuzzSecret returns the first n bytes of a fixed 76-byte fake secret.
func fuzzSecret(n int) []byte { return []byte(strings.Repeat(testSecret, 2)[:n]) }

// fuzzSign signs header and payload with alg's fake key, secret for HMAC, and for PSS an explicit
// salt length when salt >= 0 (clamped to the largest the key allows).
func fuzzSign(alg string, header, payload, secret []byte, salt int) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	priv, _ := privateFor(alg)
	if strings.HasPrefix(alg, "HS") {
		priv = secret
	}
	var sig []byte
	var err error
	if salt >= 0 {
		a := joseAlgorithms[alg]
		key := fakeKeys().rsa
		if most := (key.N.BitLen()-1+7)/8 - a.hash.Size() - 2; salt > most {
			salt = most
		}
		h := a.hash.New()
		h.Write([]byte(signing))
		sig, err = rsa.SignPSS(rand.Reader, key, a.hash, h.Sum(nil), &rsa.PSSOptions{SaltLength: salt})
	} else {
		sig, err = jwt.GetSigningMethod(alg).Sign(signing, priv)
	}
	if err != nil {
		return signing + "."
	}
	return signing + "." + enc.EncodeToString(sig)
}

// fuzzRespell changes tok as sel says: 1-3 respell the last character of segment sel-1 with its
// sibling (same octets when the character has unused bits), 4 inserts a line feed in the signature.
func fuzzRespell(tok string, sel uint8) string {
	parts := strings.Split(tok, ".")
	switch {
	case sel >= 1 && sel <= 3 && len(parts) == 3 && parts[sel-1] != "":
		return respell(tok, int(sel-1))
	case sel == 4 && len(parts) == 3 && len(parts[2]) > 1:
		return parts[0] + "." + parts[1] + "." + parts[2][:1] + "\n" + parts[2][1:]
	}
	return tok
}

// fuzzReference verifies with compiled golang-jwt like reference, with secret as the HMAC key.
func fuzzReference(tok string, now time.Time, secret []byte) error {
	_, err := jwt.Parse(tok, func(t *jwt.Token) (interface{}, error) {
		if strings.HasPrefix(t.Method.Alg(), "HS") {
			return secret, nil
		}
		_, pub := privateFor(t.Method.Alg())
		return pub, nil
	}, jwt.WithValidMethods(allAlgorithms), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second),
		jwt.WithIssuer(testIssuer), jwt.WithAudience(testAudience), jwt.WithTimeFunc(func() time.Time { return now }))
	return err
}

// FuzzExtractAndVerify feeds arbitrary Authorization, Cookie and query values through extraction and
// verification: it must never panic, and whatever it accepts must carry a signature golang-jwt
// verifies with the trusted keys.
func FuzzExtractAndVerify(f *testing.F) {
	now := fixedNow
	v := testVerifier(f, now, nil)
	good := sign(f, "ES256", validClaims(now), nil)
	f.Add("Bearer "+good, "session="+good, "access_token="+good)
	f.Add("bearer  "+good+" ", "", "")
	f.Add("Basic abc", "session=a; session=b", "access_token=a&access_token=b")
	f.Add("Bearer", "x", "%zz")
	sources := []Source{{Kind: "header", Name: "Authorization"}, {Kind: "cookie", Name: "session"}, {Kind: "query", Name: "access_token"}}
	f.Fuzz(func(t *testing.T, authz, cookie, query string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.RawQuery = query
		if authz != "" {
			req.Header["Authorization"] = []string{authz}
		}
		if cookie != "" {
			req.Header["Cookie"] = []string{cookie}
		}
		tok, err := Extract(req, sources)
		if err != nil {
			return
		}
		if _, err := v.Verify(tok); err == nil && reference(tok, now) != nil {
			t.Fatalf("accepted a token golang-jwt rejects: %q", tok)
		}
		Remove(req, sources)
		if again, err := Extract(req, sources); err == nil {
			t.Fatalf("token %q still present after Remove", again)
		}
	})
}
