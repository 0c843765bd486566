//go:build !yaegi
// +build !yaegi

package tokens

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"
)

// referenceVerifiers are the configurations the differential fuzzers run through the rewritten
// verifier and through the original (reference_test.go): the test verifier, one that requires a
// typ and checks no issuer, one with several audiences (the empty one among them) and dotted claim
// names, and one with a verified-token cache.
func referenceVerifiers(tb testing.TB, now time.Time) []*Verifier {
	return []*Verifier{
		testVerifier(tb, now, func(o *Options) { o.CacheSize = 0 }),
		testVerifier(tb, now, func(o *Options) { o.CacheSize = 0; o.RequireTyp = "at+jwt"; o.Issuers = nil }),
		testVerifier(tb, now, func(o *Options) {
			o.CacheSize = 0
			o.Audiences = []string{testAudience, "other", ""}
			o.Claims = ClaimNames{Subject: "email", Org: "tenant.id", Roles: "realm_access.roles", Permissions: "perms"}
		}),
		testVerifier(tb, now, func(o *Options) { o.CacheSize = 5 }),
	}
}

// referenceNames are the claim-name configurations FuzzIdentityAgreesWithTheOriginal maps with.
var referenceNames = []ClaimNames{
	{},
	{Subject: "email", Org: "tenant.id"},
	{Roles: "realm_access.roles", Permissions: "perms"},
	{Roles: "https://x.test/roles", Permissions: "scope"},
	{OrgRoles: "orgs", Assignments: "grants.list"},
	{Subject: "a.b", Org: "a.b", Roles: "a.c"},
}

// FuzzVerifierAgreesWithTheOriginal signs fuzzer-chosen headers and payloads (or not) and checks that
// VerifyClaims and Verify answer exactly as the code before the rewrite did: the same error value,
// or the same claims, key, exp and not-before and the same identity (or the same claim error). Each
// token is verified twice, so that the second pass takes the remembered-header path (and, for the
// caching verifier, the cache).
func FuzzVerifierAgreesWithTheOriginal(f *testing.F) {
	now := fixedNow
	f.Add([]byte(`{"alg":"HS256","typ":"JWT"}`), []byte(`{"iss":"https://issuer.test","aud":"api","sub":"alice","org_id":"acme","exp":1800000100,"roles":["b","a"]}`), uint8(0), true, uint8(0))
	f.Add([]byte(`{"alg":"ES256","kid":"x","typ":"at+jwt"}`), []byte(`{"iss":"https://issuer.test","aud":["api","x"],"exp":1800000000,"nbf":1800000030,"scope":"a b","org_roles":{"g":"r"}}`), uint8(9), true, uint8(0))
	f.Add([]byte(`{"alg":"RS256","typ":"application/AT+JWT"}`), []byte(`{"aud":"api","exp":1799999970.5,"iat":-0.5,"email":"a@b","tenant":{"id":"t"},"realm_access":{"roles":["x"]},"perms":"p q"}`), uint8(3), true, uint8(0))
	f.Add([]byte(`{"alg":"HS256"}`), []byte(`{"iss":"https://issuer.test","aud":"","exp":1900000000,"sub":" x","assignments":[{"role":"r","org":"o","scope":["/a"]}]}`), uint8(0), true, uint8(0))
	f.Add([]byte(`{"alg":"HS256","kid":7}`), []byte(`{"exp":1900000000}`), uint8(0), true, uint8(0))
	f.Add([]byte(`{"alg":"EdDSA","crit":["b64"]}`), []byte(`{"exp":1900000000}`), uint8(10), true, uint8(0))
	f.Add([]byte(`{"alg":"HS256"}`), []byte(`{"iss":"https://issuer.test","aud":"api","exp":1900000000,"iat":"x"}`), uint8(0), true, uint8(2))
	f.Add([]byte(`{"alg":"none"}`), []byte(`{"exp":1900000000}`), uint8(0), false, uint8(0))
	f.Add([]byte(`{"alg":"PS256","typ":null}`), []byte(`{"iss":"https://issuer.test","aud":"api","exp":1e14}`), uint8(6), true, uint8(4))
	verifiers := referenceVerifiers(f, now)
	f.Fuzz(func(t *testing.T, header, payload []byte, algIndex uint8, signIt bool, respellSel uint8) {
		alg := allAlgorithms[int(algIndex)%len(allAlgorithms)]
		tok := signRaw(alg, header, payload)
		if signIt {
			tok = fuzzRespell(tok, respellSel)
		} else {
			tok = tok[:len(tok)-1]
		}
		for i, v := range verifiers {
			for pass := 0; pass < 2; pass++ {
				agreeWithTheOriginal(t, i, v, tok, now)
			}
		}
	})
}

// agreeWithTheOriginal fails t unless v answers for tok as the original code does.
func agreeWithTheOriginal(t *testing.T, i int, v *Verifier, tok string, now time.Time) {
	t.Helper()
	claims, key, err := v.VerifyClaims(tok, now)
	ref, refErr := refVerify(v, tok, now)
	if err != refErr {
		t.Fatalf("verifier %d: VerifyClaims error %v, the original %v\ntoken %s", i, err, refErr, tok)
	}
	id, idErr := v.Verify(tok)
	if refErr != nil {
		if idErr != refErr {
			t.Fatalf("verifier %d: Verify error %v, the original %v", i, idErr, refErr)
		}
		return
	}
	if !reflect.DeepEqual(claims, ref.claims) || key != ref.key {
		t.Fatalf("verifier %d: claims %v key %p, the original %v key %p", i, claims, key, ref.claims, ref.key)
	}
	want, wantErr := refIdentity(v.opts.Claims.withDefaults(), ref.claims, ref.exp, ref.notBefore)
	if (idErr == nil) != (wantErr == nil) || (idErr != nil && idErr.Error() != wantErr.Error()) {
		t.Fatalf("verifier %d: Verify error %v, the original %v", i, idErr, wantErr)
	}
	if wantErr == nil {
		want.key = ref.key
		if id.bytes != 0 && id.bytes != refBytes(want) {
			t.Fatalf("verifier %d: the stored byte estimate %d, the original %d", i, id.bytes, refBytes(want))
		}
		want.bytes = id.bytes // stored by the verified-token cache
		if !reflect.DeepEqual(id, want) {
			t.Fatalf("verifier %d: identity %+v, the original %+v", i, id, want)
		}
	}
}

// FuzzIdentityAgreesWithTheOriginal maps fuzzer-chosen claims under several claim-name
// configurations and checks that the identity (or the claim error, word for word) and its byte
// estimate are the original mapping's.
func FuzzIdentityAgreesWithTheOriginal(f *testing.F) {
	f.Add([]byte(`{"sub":"alice","iss":"i","org_id":"acme","roles":["b","a","b"],"scope":"x y"}`), uint8(0))
	f.Add([]byte(`{"sub":"alice","roles":null,"role":"r","permissions":"a,b","scope":"c"}`), uint8(0))
	f.Add([]byte(`{"email":"a@b","tenant":{"id":"t"},"tenant.id":null,"org_roles":{"g":["r"],"h":"s,t"}}`), uint8(1))
	f.Add([]byte(`{"realm_access":{"roles":"x,y"},"perms":"p q","assignments":[{"role":"r","org":"o"},{"role":"r","org":"o","scope":"/a"}]}`), uint8(2))
	f.Add([]byte(`{"https://x.test/roles":["r"],"scope":"a  b","scp":["c"]}`), uint8(3))
	f.Add([]byte(`{"orgs":{"o":[]},"grants":{"list":[{"role":"r","org":"o","scope":[]}]}}`), uint8(4))
	f.Add([]byte(`{"a":{"b":"x","c":["y"]},"sub":"\u00a0x","iss":7,"org_id":"a\u3000"}`), uint8(5))
	f.Add([]byte(`{"sub":"Jane Doe","roles":"a,,b","permissions":["p",1]}`), uint8(0))
	f.Fuzz(func(t *testing.T, payload []byte, namesSel uint8) {
		var c map[string]interface{}
		if json.Unmarshal(payload, &c) != nil || c == nil {
			return
		}
		n := referenceNames[int(namesSel)%len(referenceNames)].withDefaults()
		id, err := n.identity(c, 1800000000, 1700000000)
		want, wantErr := refIdentity(n, c, 1800000000, 1700000000)
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Fatalf("error %v, the original %v\nclaims %s", err, wantErr, payload)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(id, want) {
			t.Fatalf("identity %+v, the original %+v\nclaims %s", id, want, payload)
		}
		if id.Bytes() != refBytes(want) {
			t.Fatalf("Bytes %d, the original %d", id.Bytes(), refBytes(want))
		}
	})
}

// FuzzValueRulesAgreeWithTheOriginal checks ValidValue and ValidListElement, whose common case is
// now one strings.Trim call, against the rules as they were written.
func FuzzValueRulesAgreeWithTheOriginal(f *testing.F) {
	for _, s := range []string{"", "a", " a", "a ", "a b", "a\tb", "a,b", `a"b`, "é", "a\u00a0", "\ufeffa", "\x7f", "~", "!", "a\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidValue(s), refValidValue(s); got != want {
			t.Fatalf("ValidValue(%q) = %v, the original %v", s, got, want)
		}
		if got, want := ValidListElement(s), refValidListElement(s); got != want {
			t.Fatalf("ValidListElement(%q) = %v, the original %v", s, got, want)
		}
	})
}

// FuzzExtractAgreesWithTheOriginal feeds arbitrary header, cookie and query values to Extract, whose
// header case is now read inline, and to the original, with the sources in two orders and each
// source alone (a single header source is read by HeaderToken, with its own Bearer shortcut).
func FuzzExtractAgreesWithTheOriginal(f *testing.F) {
	f.Add("Bearer abc", "", "session=abc", "access_token=abc")
	f.Add("Basic abc", "abc", "session=a; session=b", "access_token=a&access_token=b")
	f.Add("bearer  abc ", "Bearer", "", "%zz")
	f.Add("Bearer", " Bearer x ", "session=\"x\"", "")
	f.Add("BEARER \t x", "bearer\tx", "", "")
	f.Add("Bearerx abc", "Bearer ", "", "")
	orders := [][]Source{
		{{Kind: "header", Name: "Authorization"}, {Kind: "header", Name: "X-Token"}, {Kind: "cookie", Name: "session"}, {Kind: "query", Name: "access_token"}},
		{{Kind: "query", Name: "access_token"}, {Kind: "cookie", Name: "session"}, {Kind: "header", Name: "X-Token"}, {Kind: "header", Name: "Authorization"}},
		{{Kind: "header", Name: "Authorization"}},
		{{Kind: "header", Name: "X-Token"}},
		{{Kind: "cookie", Name: "session"}},
		{{Kind: "query", Name: "access_token"}},
	}
	f.Fuzz(func(t *testing.T, authz, other, cookie, query string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.RawQuery = query
		for name, value := range map[string]string{"Authorization": authz, "X-Token": other, "Cookie": cookie} {
			if value != "" {
				req.Header[name] = []string{value}
			}
		}
		for _, sources := range orders {
			tok, err := Extract(req, sources)
			want, wantErr := refExtract(req, sources)
			if tok != want || err != wantErr {
				t.Fatalf("Extract = %q, %v; the original %q, %v", tok, err, want, wantErr)
			}
		}
	})
}
