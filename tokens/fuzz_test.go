//go:build !yaegi
// +build !yaegi

package tokens

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzVerifyAgreesWithGolangJWT signs fuzzer-chosen headers and payloads with every algorithm's fake
// key (or not) and checks that Gatehouse and compiled golang-jwt (same keys, issuer, audience,
// leeway, clock) agree on accept or reject. The only tolerated difference is where Gatehouse is
// stricter by design: a crit header, or a NumericDate beyond 1e13 seconds.
func FuzzVerifyAgreesWithGolangJWT(f *testing.F) {
	now := fixedNow
	f.Add([]byte(`{"alg":"HS256","typ":"JWT"}`), []byte(`{"iss":"https://issuer.test","aud":"api","exp":1800000100}`), uint8(0), true)
	f.Add([]byte(`{"alg":"ES256","kid":"x"}`), []byte(`{"iss":"https://issuer.test","aud":["api"],"exp":1800000000,"nbf":1800000030}`), uint8(9), true)
	f.Add([]byte(`{"alg":"RS256"}`), []byte(`{"iss":"https://issuer.test","aud":"api","exp":1799999970.5}`), uint8(3), true)
	f.Add([]byte(`{"alg":"none"}`), []byte(`{"exp":1900000000}`), uint8(0), false)
	f.Add([]byte(`{"alg":"EdDSA","crit":["b64"]}`), []byte(`{"iss":"https://issuer.test","aud":"api","exp":1900000000}`), uint8(10), true)
	f.Add([]byte(`{"alg":"HS256"}`), []byte(`{"iss":"https://issuer.test","aud":"api","exp":1900000000,"iat":"x"}`), uint8(0), true)
	v := testVerifier(f, now, nil)
	f.Fuzz(func(t *testing.T, header, payload []byte, algIndex uint8, signIt bool) {
		alg := allAlgorithms[int(algIndex)%len(allAlgorithms)]
		var tok string
		if signIt {
			tok = signRaw(alg, header, payload)
		} else {
			enc := base64.RawURLEncoding
			tok = enc.EncodeToString(header) + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString(payload)
		}
		_, _, ours := v.VerifyClaims(tok, now)
		ref := reference(tok, now)
		if (ours == nil) == (ref == nil) {
			return
		}
		if ours == ErrCritical || (ours == ErrMalformed && absurdDate(payload)) || ours == ErrTooLarge {
			return
		}
		t.Fatalf("disagreement: ours %v, golang-jwt %v\nheader %s\npayload %s", ours, ref, header, payload)
	})
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
