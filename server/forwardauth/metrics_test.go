package forwardauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksConfig is a middleware whose keys come from a JWKS URL.
func jwksConfig(url string) string {
	return "issuers: [" + testIssuer + "]\naudiences: [workflows-api]\njwksURL: " + url + "\nroutes: [GET /me authenticated]\n"
}

func TestKeySetFetchesAreCountedByResult(t *testing.T) {
	InstrumentKeyFetches()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	jwks := `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","alg":"ES256","use":"sig","x":"` + b64(key.X.FillBytes(make([]byte, 32))) +
		`","y":"` + b64(key.Y.FillBytes(make([]byte, 32))) + `"}]}`
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(jwks)) }))
	defer good.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }))
	defer broken.Close()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"iss": testIssuer, "aud": "workflows-api", "sub": "dave",
		"org_id": "acme", "exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["kid"] = "k1"
	signed, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		url    string
		status int
		result string
	}{
		{"a served key set is one ok fetch, and the token verifies", good.URL, 200, "ok"},
		{"a failing endpoint is one error fetch, and the request is a 503", broken.URL, 503, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, jwksConfig(tt.url))
			before := KeyFetches("jwks", tt.result)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, asAuthRequest(forwarded, clientRequest{"GET", "/me", bearer(signed), ""}))
			if w.Code != tt.status {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tt.status)
			}
			after := KeyFetches("jwks", tt.result)
			if after != before+1 {
				t.Errorf("jwks %s fetches went from %d to %d, want one more", tt.result, before, after)
			}
			m := httptest.NewRecorder()
			s.ServeHTTP(m, httptest.NewRequest("GET", "/metrics", nil))
			line := `gatehouse_jwks_fetches_total{kind="jwks",result="` + tt.result + `"} ` + strconv.FormatUint(after, 10) + "\n"
			if !strings.Contains(m.Body.String(), line) {
				t.Errorf("missing %q in:\n%s", line, m.Body)
			}
		})
	}
}
