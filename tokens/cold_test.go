package tokens

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The cold path's shortcuts (see docs/yaegi.md, "Cold path measurements"): each test states what a
// shortcut must not change. These are ordinary tests, so that `yaegi test` runs them interpreted.

func TestVisibleASCIICutsetsHoldExactlyTheVisibleBytes(t *testing.T) {
	var all, list strings.Builder
	for b := byte(0x21); b <= 0x7e; b++ {
		all.WriteByte(b)
		if b != ',' && b != '"' {
			list.WriteByte(b)
		}
	}
	cases := []struct{ name, got, want string }{
		{"visibleASCII holds U+0021 to U+007E", visibleASCII, all.String()},
		{"visibleListASCII holds them but comma and double quote", visibleListASCII, list.String()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Fatalf("got %q\nwant %q", c.got, c.want)
			}
		})
	}
}

// TestClaimMappingReadsNoValueOfAnotherClaim maps tokens in which a claim is present and the next
// one looked up is absent, null or of another type: under Yaegi a failed comma-ok assignment keeps
// the variable's previous value, so a mapping that reused one carelessly would hand the absent claim
// the value of the one before (a scope becoming org roles, a role list becoming permissions).
func TestClaimMappingReadsNoValueOfAnotherClaim(t *testing.T) {
	cases := []struct {
		name   string
		names  ClaimNames
		claims string
	}{
		{"a scope does not become the absent org roles", ClaimNames{}, `{"sub":"a","scope":"x y"}`},
		{"roles do not become the absent permissions", ClaimNames{}, `{"sub":"a","roles":["r"]}`},
		{"a present null roles claim does not fall back to role", ClaimNames{}, `{"roles":null,"role":"r"}`},
		{"permissions do not become the absent assignments", ClaimNames{}, `{"permissions":"p,q"}`},
		{"a subject does not become the absent org", ClaimNames{}, `{"sub":"a","iss":"i"}`},
		{"a numeric issuer is refused, not read as the subject", ClaimNames{}, `{"sub":"a","iss":7}`},
		{"an org of another type is refused, not read as the issuer", ClaimNames{}, `{"iss":"i","org_id":["a"]}`},
		{"a dotted org absent from its object is empty", ClaimNames{Org: "tenant.id"}, `{"sub":"a","tenant":{"name":"n"}}`},
		{"a dotted role path beside a scope maps only the roles", ClaimNames{Roles: "realm.roles"}, `{"realm":{"roles":["r"]},"scope":"s"}`},
		{"an exact dotted key that is null wins over its path", ClaimNames{Org: "tenant.id"}, `{"tenant.id":null,"tenant":{"id":"t"}}`},
		{"the same dotted name for two claims reads the path for both", ClaimNames{Subject: "a.b", Org: "a.b"}, `{"a":{"b":"x"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var claims map[string]interface{}
			if err := json.Unmarshal([]byte(c.claims), &claims); err != nil {
				t.Fatal(err)
			}
			n := c.names.withDefaults()
			got, err := n.identity(claims, 2000000000, 0)
			want, wantErr := refIdentity(n, claims, 2000000000, 0)
			if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
				t.Fatalf("error %v, want %v", err, wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("identity %+v, want %+v", got, want)
			}
		})
	}
}

// TestKnownHeadersAreOnlyThoseOfVerifiedTokens: a header segment skips its checks only once a token
// carrying it verified, never more than maxKnownHeaders are kept, and a known header changes no
// answer.
func TestKnownHeadersAreOnlyThoseOfVerifiedTokens(t *testing.T) {
	now := fixedNow
	good := sign(t, "HS256", validClaims(now), map[string]interface{}{"kid": "k"})
	forged := good[:strings.LastIndexByte(good, '.')+1] + base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	expired := validClaims(now)
	expired["exp"] = now.Unix() - 3600
	long := map[string]interface{}{"kid": strings.Repeat("k", maxKnownHeaderLen)}
	cases := []struct {
		name   string
		tokens []string
		want   error // of the last token
		known  int
	}{
		{"a forged token's header is not remembered", []string{forged}, ErrSignature, 0},
		{"a verified token's header is remembered", []string{good}, nil, 1},
		{"a known header does not let a forged signature through", []string{good, forged}, ErrSignature, 1},
		{"an expired token with a known header is still refused", []string{good, sign(t, "HS256", expired, map[string]interface{}{"kid": "k"})}, ErrExpired, 1},
		{"a header too long to remember still verifies", []string{sign(t, "HS256", validClaims(now), long)}, nil, 0},
		{"no more than maxKnownHeaders headers are remembered", distinctHeaders(t, maxKnownHeaders+4), nil, maxKnownHeaders},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := testVerifier(t, now, func(o *Options) { o.CacheSize = 0 })
			var err error
			for _, tok := range c.tokens {
				_, err = v.Verify(tok)
			}
			if err != c.want {
				t.Fatalf("last token: %v, want %v", err, c.want)
			}
			if v.headerCount != c.known {
				t.Fatalf("%d headers remembered, want %d", v.headerCount, c.known)
			}
		})
	}
}

// distinctHeaders signs n valid tokens whose headers all differ (by kid).
func distinctHeaders(t *testing.T, n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, sign(t, "HS256", validClaims(fixedNow), map[string]interface{}{"kid": itoa(i)}))
	}
	return out
}

// TestKeyMatchingAgreesWithAScan: the index publish builds answers every kid and algorithm as the
// scan of the key set it replaced (refMatch), in the key set's order, unknown kids and algorithms
// included.
func TestKeyMatchingAgreesWithAScan(t *testing.T) {
	secret := []byte(strings.Repeat("s", 48))
	keys := []*Key{
		{ID: "a", Family: FamilyEC, Curve: "P-256"},
		{ID: "b", Family: FamilyEC, Curve: "P-384"},
		{ID: "a", Family: FamilyRSA},
		{ID: "c", Family: FamilyRSA, Alg: "PS256"},
		{ID: "", Family: FamilyOKP, Curve: "Ed25519"},
		{ID: "a", Family: FamilyEC, Curve: "P-256", Alg: "ES256"},
		{ID: "h", Family: FamilyHMAC, Public: secret},
	}
	s := &remoteState{all: keys, matches: matchIndex(keys)}
	algs := append([]string{"none", ""}, allAlgorithms...)
	algs = append(algs, "ES384", "ES512")
	for _, kid := range []string{"", "a", "b", "c", "h", "zzz"} {
		for _, alg := range algs {
			kid, alg := kid, alg
			t.Run("kid "+quote(kid)+" and "+quote(alg)+" match as the scan did", func(t *testing.T) {
				if got, want := s.match(kid, alg), refMatch(keys, kid, alg); !reflect.DeepEqual(got, want) {
					t.Fatalf("match = %v, the scan %v", got, want)
				}
			})
		}
	}
}
