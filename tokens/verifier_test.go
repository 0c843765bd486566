package tokens

import (
	"crypto"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var fixedNow = time.Unix(1_800_000_000, 0)

func TestVerifyOutcomes(t *testing.T) {
	now := fixedNow
	with := func(kv ...interface{}) jwt.MapClaims {
		c := validClaims(now)
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"a valid HS256 token verifies", sign(t, "HS256", with(), nil), nil},
		{"a valid PS512 token verifies", signPSS(t, "PS512", crypto.SHA512, 64), nil},
		{"a valid EdDSA token verifies", sign(t, "EdDSA", with(), nil), nil},
		{"exp exactly now is expired only after the leeway", sign(t, "ES256", with("exp", now.Unix()), nil), nil},
		{"exp 30s ago is expired (now >= exp + leeway)", sign(t, "ES256", with("exp", now.Unix()-30), nil), ErrExpired},
		{"exp 29s ago is still valid", sign(t, "ES256", with("exp", now.Unix()-29), nil), nil},
		{"nbf 30s ahead is valid (now >= nbf - leeway)", sign(t, "ES256", with("nbf", now.Unix()+30), nil), nil},
		{"nbf 31s ahead is not yet valid", sign(t, "ES256", with("nbf", now.Unix()+31), nil), ErrNotYetValid},
		{"iat 31s ahead is not yet valid", sign(t, "ES256", with("iat", now.Unix()+31), nil), ErrNotYetValid},
		{"a missing exp is refused", sign(t, "ES256", with("exp", nil), nil), ErrMissingExp},
		{"exp 0 counts as missing", sign(t, "ES256", with("exp", 0), nil), ErrMissingExp},
		{"a fractional exp is floored", sign(t, "ES256", with("exp", float64(now.Unix())-29.5), nil), ErrExpired},
		{"an absurd exp is malformed, not eternal", sign(t, "ES256", with("exp", 1e300), nil), ErrMalformed},
		{"a wrong issuer is refused", sign(t, "ES256", with("iss", "https://evil.test"), nil), ErrIssuer},
		{"a numeric issuer is refused", sign(t, "ES256", with("iss", 7), nil), ErrIssuer},
		{"a wrong audience is refused", sign(t, "ES256", with("aud", "other"), nil), ErrAudience},
		{"an empty audience is refused", sign(t, "ES256", with("aud", ""), nil), ErrAudience},
		{"an audience array with ours verifies", sign(t, "ES256", with("aud", []string{"x", testAudience}), nil), nil},
		{"a crit header is refused", sign(t, "ES256", with(), map[string]interface{}{"crit": []string{"x"}}), ErrCritical},
		{"alg none is refused", "eyJhbGciOiJub25lIn0.eyJleHAiOjE5MDAwMDAwMDB9.", ErrAlgorithm},
		{"an unknown alg is refused", signRaw("HS256", []byte(`{"alg":"HS257"}`), []byte(`{}`)), ErrAlgorithm},
		{"HS256 keyed with the RSA public key is refused", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodHS256, with())
			s, _ := tok.SignedString([]byte("-----BEGIN PUBLIC KEY-----"))
			return s
		}(), ErrSignature},
		{"four segments are malformed", sign(t, "HS256", with(), nil) + ".x", ErrMalformed},
		{"a token over 8 KiB is refused unparsed", strings.Repeat("a", MaxTokenSize+1), ErrTooLarge},
		{"a header that is not JSON is malformed", "bm90anNvbg.e30.", ErrMalformed},
	}
	v := testVerifier(t, now, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(c.token)
			if err != c.want {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestCacheRechecksTimeOnEveryHit(t *testing.T) {
	now := fixedNow
	v := testVerifier(t, now, func(o *Options) { o.Now = func() time.Time { return now } })
	tok := sign(t, "ES256", jwt.MapClaims{"iss": testIssuer, "aud": testAudience, "exp": now.Unix() + 60}, nil)
	if _, err := v.Verify(tok); err != nil {
		t.Fatal(err)
	}
	if v.cache.Len() != 1 {
		t.Fatalf("cache holds %d entries", v.cache.Len())
	}
	now = now.Add(91 * time.Second)
	if _, err := v.Verify(tok); err != ErrExpired {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestCacheIsBounded(t *testing.T) {
	now := fixedNow
	v := testVerifier(t, now, func(o *Options) { o.CacheSize = 10 })
	for i := 0; i < 50; i++ {
		c := validClaims(now)
		c["n"] = i
		if _, err := v.Verify(sign(t, "HS256", c, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.cache.Len(); n != 10 {
		t.Fatalf("cache holds %d entries, want 10", n)
	}
}

func TestIdentityMapping(t *testing.T) {
	cases := []struct {
		name   string
		names  ClaimNames
		claims map[string]interface{}
		check  func(*Identity) bool
		ok     bool
	}{
		{"roles fall back to role", ClaimNames{}, map[string]interface{}{"role": "viewer"}, func(i *Identity) bool { return len(i.Roles) == 1 && i.Roles[0] == "viewer" }, true},
		{"scp arrays become permissions", ClaimNames{}, map[string]interface{}{"scp": []interface{}{"b", "a", "b"}}, func(i *Identity) bool { return strings.Join(i.Permissions, ",") == "a,b" }, true},
		{"a dotted path reaches a nested claim", ClaimNames{Org: "tenant.id"}, map[string]interface{}{"tenant": map[string]interface{}{"id": "acme"}}, func(i *Identity) bool { return i.Org == "acme" }, true},
		{"an exact key with dots wins over the path", ClaimNames{Roles: "https://x.test/roles"}, map[string]interface{}{"https://x.test/roles": []interface{}{"r"}}, func(i *Identity) bool { return len(i.Roles) == 1 }, true},
		{"a numeric subject is invalid", ClaimNames{}, map[string]interface{}{"sub": 5.0}, nil, false},
		{"a DEL in a role is invalid", ClaimNames{}, map[string]interface{}{"roles": []interface{}{"a\x7f"}}, nil, false},
		{"a newline in the org is invalid", ClaimNames{}, map[string]interface{}{"org_id": "a\nb"}, nil, false},
		{"an org_roles object maps orgs to roles", ClaimNames{}, map[string]interface{}{"org_roles": map[string]interface{}{"globex": []interface{}{"viewer"}}}, func(i *Identity) bool { return i.OrgRoles["globex"][0] == "viewer" }, true},
		{"an assignment without org is invalid", ClaimNames{}, map[string]interface{}{"assignments": []interface{}{map[string]interface{}{"role": "r"}}}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := c.names.withDefaults().identity(c.claims, 0, 0)
			if (err == nil) != c.ok {
				t.Fatalf("err = %v", err)
			}
			if c.ok && !c.check(id) {
				t.Fatalf("unexpected identity %+v", id)
			}
		})
	}
}
