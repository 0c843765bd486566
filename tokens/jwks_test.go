package tokens

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// jwkMembers returns the base64url x and y of the fake P-256 key and n of the fake RSA key.
func jwkMembers() (string, string, string) {
	k := fakeKeys()
	enc := base64.RawURLEncoding
	x := enc.EncodeToString(k.ec.X.FillBytes(make([]byte, 32)))
	y := enc.EncodeToString(k.ec.Y.FillBytes(make([]byte, 32)))
	return x, y, enc.EncodeToString(k.rsa.N.Bytes())
}

func ecJWK(kid, extra string) string {
	x, y, _ := jwkMembers()
	return `{"kty":"EC","kid":"` + kid + `","crv":"P-256","x":"` + x + `","y":"` + y + `"` + extra + `}`
}

func rsaJWK(kid, extra string) string {
	_, _, n := jwkMembers()
	return `{"kty":"RSA","kid":"` + kid + `","n":"` + n + `","e":"AQAB"` + extra + `}`
}

func jwks(keys ...string) []byte { return []byte(`{"keys":[` + strings.Join(keys, ",") + `]}`) }

func byID(keys []*Key, kid string) *Key {
	for _, k := range keys {
		if k.ID == kid {
			return k
		}
	}
	return nil
}

func TestJWKSRefetchJudgesChangedKeysAfresh(t *testing.T) {
	first, prints, err := ParseJWKS(jwks(ecJWK("a", `,"use":"sig"`), rsaJWK("b", `,"alg":"RS256"`)), nil)
	if err != nil {
		t.Fatal(err)
	}
	previous := map[string]*Key{}
	for i, k := range first {
		previous[prints[i]] = k
	}
	oldA := byID(first, "a")
	cases := []struct {
		name  string
		a     string // the JWK of kid a in the refetched set
		keeps bool   // the key object of kid a is the one from the first fetch
		gone  bool   // no key with kid a is left
	}{
		{"an unchanged key keeps its identity", ecJWK("a", `,"use":"sig"`), true, false},
		{"a key whose members are only reordered keeps its identity", strings.Replace(ecJWK("a", ""), `{"kty":"EC",`, `{"use" : "sig", "kty":"EC",`, 1), true, false},
		{"a key whose use changes to enc stops verifying", ecJWK("a", `,"use":"enc"`), false, true},
		{"a key whose key_ops no longer allow verify stops verifying", ecJWK("a", `,"use":"sig","key_ops":["encrypt"]`), false, true},
		{"a key that gains an alg is a new key", ecJWK("a", `,"use":"sig","alg":"ES256"`), false, false},
		{"a key with an unknown new member is a new key", ecJWK("a", `,"use":"sig","x5t":"AAAA"`), false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keys, _, err := ParseJWKS(jwks(c.a, rsaJWK("b", `,"alg":"RS256"`)), previous)
			if err != nil {
				t.Fatal(err)
			}
			a := byID(keys, "a")
			if (a == nil) != c.gone || (a == oldA) != c.keeps {
				t.Fatalf("kid a: %p (first fetch %p)", a, oldA)
			}
			if byID(keys, "b") != byID(first, "b") {
				t.Fatal("the unchanged RSA key lost its identity")
			}
		})
	}
	t.Run("a key whose alg changes verifies only its new alg", func(t *testing.T) {
		keys, _, _ := ParseJWKS(jwks(ecJWK("a", `,"use":"sig"`), rsaJWK("b", `,"alg":"RS384"`)), previous)
		b := byID(keys, "b")
		if b == byID(first, "b") || b.Accepts("RS256") || !b.Accepts("RS384") {
			t.Fatalf("kid b: %+v", b)
		}
	})
}

func TestAKeyTurnedToEncryptionStopsVerifyingAfterARefetch(t *testing.T) {
	var mu sync.Mutex
	body := jwks(ecJWK("a", `,"use":"sig"`), rsaJWK("b", ""))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Write(body)
	}))
	defer srv.Close()
	set := SharedJWKS(srv.URL, RemoteSettings{Refresh: time.Hour, Timeout: 5 * time.Second, MaxBody: 1 << 20})
	v := NewVerifier(Options{Algorithms: []string{"ES256", "RS256"}, Remote: []*RemoteSet{set}})
	claims := validClaims(fixedNow)
	tok := sign(t, "ES256", claims, map[string]interface{}{"kid": "a"})
	unknown := sign(t, "RS256", claims, map[string]interface{}{"kid": "rotated"})
	_, first, err := v.VerifyClaims(tok, fixedNow)
	if err != nil {
		t.Fatalf("before the change: %v", err)
	}
	mu.Lock()
	body = jwks(ecJWK("a", `,"use":"enc"`), rsaJWK("b", ""))
	mu.Unlock()
	if _, _, err := v.VerifyClaims(unknown, fixedNow.Add(time.Minute)); err != ErrUnknownKey {
		t.Fatalf("the unknown kid (which triggers the refetch): %v", err)
	}
	if !first.Retired() {
		t.Fatal("the signature key was not retired")
	}
	if _, _, err := v.VerifyClaims(tok, fixedNow.Add(time.Minute)); err != ErrUnknownKey {
		t.Fatalf("after use became enc: %v, want ErrUnknownKey", err)
	}
}

func TestJWKMembersAreStrictBase64url(t *testing.T) {
	x, y, n := jwkMembers()
	last := func(s string) string { return s[:len(s)-1] + string(sibling(s[len(s)-1])) }
	ec := func(x, y string) string {
		return `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"}`
	}
	rsa := func(n, e string) string { return `{"kty":"RSA","n":"` + n + `","e":"` + e + `"}` }
	cases := []struct {
		name string
		jwk  string
		ok   bool
	}{
		{"a canonical EC key is taken", ec(x, y), true},
		{"an x with non-zero trailing bits is skipped", ec(last(x), y), false},
		{"a y with non-zero trailing bits is skipped", ec(x, last(y)), false},
		{"an x with an escaped line feed is skipped", ec(x[:10]+`\n`+x[10:], y), false},
		{"a padded y is skipped", ec(x, y+"="), false},
		{"a canonical RSA key is taken", rsa(n, "AQAB"), true},
		{"an n with non-zero trailing bits is skipped", rsa(last(n), "AQAB"), false},
		{"an n with an escaped carriage return is skipped", rsa(n[:7]+`\r`+n[7:], "AQAB"), false},
		{"an e of the wrong JSON type is skipped", `{"kty":"RSA","n":"` + n + `","e":65537}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			keys, _, err := ParseJWKS(jwks(c.jwk), nil)
			if (err == nil && len(keys) == 1) != c.ok {
				t.Fatalf("keys %v, err %v", keys, err)
			}
		})
	}
}
