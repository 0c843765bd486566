package harness

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/demo/loader"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// BenchmarkColdStages times the pieces of a cold request's token work inside the interpreter:
// extraction, verification with and without claim mapping (HS256, whose MAC is negligible, and
// ES256), and the floor: the same compiled calls (base64, two JSON decodes, the digest and the
// signature check) made from a minimal interpreted function, which no design can go below.
//
// With GATEHOUSE_BASELINE_ROOT set to another checkout of the plugin, every stage also runs against
// that checkout in a second interpreter of the same process, so that a change is measured before and
// after in one run (sub-benchmarks named .../current and .../baseline).
func BenchmarkColdStages(b *testing.B) {
	y, err := coldInterpreter()
	if err != nil {
		b.Fatal(err)
	}
	interps := []*loader.Yaegi{y}
	names := []string{"current"}
	if root := os.Getenv("GATEHOUSE_BASELINE_ROOT"); root != "" {
		base, err := loader.NewYaegi(root, os.Stdout, os.Stderr)
		if err != nil {
			b.Fatal(err)
		}
		interps = append(interps, base)
		names = append(names, "baseline")
	}
	plain := claims("alice", "acme", []string{"admin"}, nil)
	rich := claims("alice", "acme", []string{"admin", "developer", "viewer"}, map[string]interface{}{"scope": "workflows:read workflows:run"})
	hs := mint(b, "HS256", plain, nil)
	es := mint(b, "ES256", plain, nil)
	esRich := mint(b, "ES256", rich, nil)
	esKid := mint(b, "ES256", plain, map[string]interface{}{"kid": "k1"})
	jwks := newJWKS(b)
	ec, _ := keys().signingKey("ES256")
	jwks.set(jwkOf("k1", ec))
	// Distinct tokens, for a verifier whose verified-token cache is on (the default): every request
	// misses the cache and stores its identity, as a gateway's first request per token does.
	fresh := make([]string, 6000)
	for i := range fresh {
		fresh[i] = mint(b, "HS256", claims(fmt.Sprintf("user%d", i), "acme", []string{"admin"}, nil), nil)
	}
	stages := []struct {
		name, fn, arg string
		args          []string // when set, iteration n uses args[n] (b.N must stay below len(args)), after fn("")
	}{
		{"Nothing", "ColdNothing", hs, nil},
		{"Split", "ColdSplit", "/orgs/acme/workflows/w1/run", nil},
		{"Split/short", "ColdSplit", "/x", nil},
		{"Match", "ColdMatch", "/orgs/acme/workflows/w1/run", nil},
		{"Match/no-routes", "ColdMatchNone", "/x", nil},
		{"Extract", "ColdExtract", hs, nil},
		{"ValidValue", "ColdValidValue", "alice@example.com", nil},
		{"VerifyClaims/HS256", "ColdVerifyClaimsHS", hs, nil},
		{"Verify/HS256", "ColdVerifyHS", hs, nil},
		{"Verify/HS256-cache-on-new-tokens", "ColdVerifyHSCached", "", fresh},
		{"Verify/ES256", "ColdVerifyES", es, nil},
		{"Verify/ES256-rich", "ColdVerifyES", esRich, nil},
		{"Verify/ES256-jwks", "ColdVerifyJWKS", esKid, nil},
		{"Identity.KeyRetired", "ColdKeyRetired", hs, nil},
		{"Floor/HS256", "ColdFloorHS", hs, nil},
		{"Floor/ES256", "ColdFloorES", es, nil},
	}
	fns := make([]map[string]func(string), len(interps))
	for i, in := range interps {
		fns[i] = coldStageFuncs(b, in, jwks.URL)
	}
	for _, st := range stages {
		for i := range interps {
			fn := fns[i][st.fn]
			arg, args := st.arg, st.args
			b.Run(st.name+"/"+names[i], func(b *testing.B) {
				if args != nil {
					if b.N >= len(args) {
						b.Skipf("b.N %d: at most %d distinct tokens", b.N, len(args)-1)
					}
					fn("")                // a new verifier: every token below is new to its cache
					fn(args[len(args)-1]) // a stage that fails panics here, before timing
					b.ReportAllocs()
					b.ResetTimer()
					for n := 0; n < b.N; n++ {
						fn(args[n])
					}
					return
				}
				fn(arg) // a stage that fails panics here, before timing
				b.ReportAllocs()
				b.ResetTimer()
				for n := 0; n < b.N; n++ {
					fn(arg)
				}
			})
		}
	}
}

// coldDefined records the interpreters in which defineColdStages ran (the benchmark and the test
// share coldInterpreter's).
var coldDefined = map[*loader.Yaegi]bool{}

var (
	coldOnce   sync.Once
	coldInterp *loader.Yaegi
	coldErr    error
)

// coldInterpreter returns an interpreter of its own for the cold stages, so that their top-level
// imports meet no other test's (Yaegi refuses a package imported twice at the top level).
func coldInterpreter() (*loader.Yaegi, error) {
	coldOnce.Do(func() { coldInterp, coldErr = loader.NewYaegi(loader.RepoRoot(), os.Stdout, os.Stderr) })
	return coldInterp, coldErr
}

// coldStageFuncs defines the stage functions in interpreter y, points its JWKS verifier at jwksURL
// and returns the functions by name. Each panics when its stage fails, so that a benchmark cannot
// time an error path.
func coldStageFuncs(b *testing.B, y *loader.Yaegi, jwksURL string) map[string]func(string) {
	b.Helper()
	defineColdStages(b, y)
	if _, err := y.Eval(`ColdSetJWKS("` + jwksURL + `")`); err != nil {
		b.Fatal(err)
	}
	out := map[string]func(string){}
	for _, name := range []string{"ColdNothing", "ColdSplit", "ColdMatch", "ColdMatchNone", "ColdExtract", "ColdValidValue", "ColdVerifyClaimsHS", "ColdVerifyHS", "ColdVerifyHSCached", "ColdVerifyES", "ColdVerifyJWKS", "ColdKeyRetired", "ColdFloorHS", "ColdFloorES"} {
		v, err := y.Eval(name)
		if err != nil {
			b.Fatal(err)
		}
		fn, ok := v.Interface().(func(string))
		if !ok {
			b.Fatalf("%s: %T", name, v.Interface())
		}
		out[name] = fn
	}
	return out
}

// defineColdStages evaluates the stage functions and ColdDescribe in y, once per interpreter.
func defineColdStages(tb testing.TB, y *loader.Yaegi) {
	tb.Helper()
	if coldDefined[y] {
		return
	}
	if _, err := y.Eval(`import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"fmt"
	"net/http"
	"strings"
	"time"
	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/tokens"
)`); err != nil {
		tb.Fatal(err)
	}
	src := `
var coldSecret = []byte("` + secret + `")
var coldHSKey, _ = tokens.SecretKey(coldSecret)
var coldESKeys, _ = tokens.ParsePEMKeys(` + "`" + keys().pemByFa["ES256"] + "`" + `)
var coldESPublic = coldESKeys[0].Public.(*ecdsa.PublicKey)
var coldHS = tokens.NewVerifier(tokens.Options{Issuers: []string{"` + issuer + `"}, Audiences: []string{"` + audience + `"}, Algorithms: []string{"HS256"}, Leeway: 30 * time.Second, Static: []*tokens.Key{coldHSKey}})
var coldHSCached = tokens.NewVerifier(tokens.Options{Issuers: []string{"` + issuer + `"}, Audiences: []string{"` + audience + `"}, Algorithms: []string{"HS256"}, Leeway: 30 * time.Second, Static: []*tokens.Key{coldHSKey}, CacheSize: 10000})
var coldES = tokens.NewVerifier(tokens.Options{Issuers: []string{"` + issuer + `"}, Audiences: []string{"` + audience + `"}, Algorithms: []string{"ES256"}, Leeway: 30 * time.Second, Static: coldESKeys})
var coldJWKS *tokens.Verifier

// ColdSetJWKS points the JWKS stage at a key set URL.
func ColdSetJWKS(url string) {
	coldJWKS = tokens.NewVerifier(tokens.Options{Issuers: []string{"` + issuer + `"}, Audiences: []string{"` + audience + `"}, Algorithms: []string{"ES256"}, Leeway: 30 * time.Second, Remote: []*tokens.RemoteSet{tokens.SharedJWKS(url, tokens.DefaultRemoteSettings)}})
}
var coldSources = []tokens.Source{{Kind: "header", Name: "Authorization"}}
var coldIdentity *tokens.Identity
var coldRequest, _ = http.NewRequest("GET", "http://gateway.test/x", nil)

var coldRoutes, _ = matcher.Compile([]string{"POST /orgs/{org}/workflows workflows:create", "POST /orgs/{org}/workflows/{id}/run workflows:run", "GET /orgs/{org}/workflows workflows:read"})
var coldNoRoutes, _ = matcher.Compile(nil)

// ColdNothing is what calling a stage costs: subtract it from the others.
func ColdNothing(string) {}

func ColdSplit(path string) {
	if _, err := matcher.Split(path); err != nil {
		panic(err.Error())
	}
}

// ColdMatch splits and matches a path that one of three POST routes matches.
func ColdMatch(path string) {
	segs, _ := matcher.Split(path)
	if r, _ := coldRoutes.Match("POST", segs); r == nil {
		panic(path)
	}
}

// ColdMatchNone splits and matches a path against no routes, as BenchmarkVerify's configuration does.
func ColdMatchNone(path string) {
	segs, _ := matcher.Split(path)
	if r, _ := coldNoRoutes.Match("GET", segs); r != nil {
		panic(path)
	}
}

func ColdExtract(tok string) {
	coldRequest.Header["Authorization"] = []string{"Bearer " + tok}
	if _, err := tokens.Extract(coldRequest, coldSources); err != nil {
		panic(err.Error())
	}
}

func ColdValidValue(s string) {
	if !tokens.ValidValue(s) {
		panic(s)
	}
}

func ColdVerifyClaimsHS(tok string) {
	if _, _, err := coldHS.VerifyClaims(tok, time.Now()); err != nil {
		panic(err.Error())
	}
}

func ColdVerifyHS(tok string) {
	if _, err := coldHS.Verify(tok); err != nil {
		panic(err.Error())
	}
}

// ColdVerifyHSCached verifies with a cache-on verifier; "" starts a new one (an empty cache).
func ColdVerifyHSCached(tok string) {
	if tok == "" {
		coldHSCached = tokens.NewVerifier(tokens.Options{Issuers: []string{"` + issuer + `"}, Audiences: []string{"` + audience + `"}, Algorithms: []string{"HS256"}, Leeway: 30 * time.Second, Static: []*tokens.Key{coldHSKey}, CacheSize: 10000})
		return
	}
	if _, err := coldHSCached.Verify(tok); err != nil {
		panic(err.Error())
	}
}

func ColdVerifyES(tok string) {
	if _, err := coldES.Verify(tok); err != nil {
		panic(err.Error())
	}
}

func ColdVerifyJWKS(tok string) {
	if _, err := coldJWKS.Verify(tok); err != nil {
		panic(err.Error())
	}
}

func ColdKeyRetired(tok string) {
	if coldIdentity == nil {
		id, err := coldHS.Verify(tok)
		if err != nil {
			panic(err.Error())
		}
		coldIdentity = id
	}
	if coldIdentity.KeyRetired() {
		panic("retired")
	}
}

func coldDecode(tok string) (int, int) {
	i := strings.IndexByte(tok, '.')
	j := strings.LastIndexByte(tok, '.')
	h, _ := base64.RawURLEncoding.DecodeString(tok[:i])
	var hm map[string]interface{}
	if json.Unmarshal(h, &hm) != nil {
		panic("header")
	}
	p, _ := base64.RawURLEncoding.DecodeString(tok[i+1 : j])
	var pm map[string]interface{}
	if json.Unmarshal(p, &pm) != nil {
		panic("payload")
	}
	return i, j
}

func ColdFloorHS(tok string) {
	_, j := coldDecode(tok)
	sig, _ := base64.RawURLEncoding.DecodeString(tok[j+1:])
	mac := hmac.New(sha256.New, coldSecret)
	mac.Write([]byte(tok[:j]))
	if !hmac.Equal(mac.Sum(nil), sig) {
		panic("signature")
	}
}

func ColdFloorES(tok string) {
	_, j := coldDecode(tok)
	sig, _ := base64.RawURLEncoding.DecodeString(tok[j+1:])
	d := sha256.Sum256([]byte(tok[:j]))
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(coldESPublic, d[:], r, s) {
		panic("signature")
	}
}
`
	if _, err := y.Eval(src + coldDescribe); err != nil {
		tb.Fatal(err)
	}
	coldDefined[y] = true
}

// coldCase is one token for TestTheColdPathAnswersAlikeInsideYaegi, with the verifier settings it
// is verified under.
type coldCase struct {
	name   string
	names  [6]string // ClaimNames: Subject, Org, Roles, Permissions, OrgRoles, Assignments
	typ    string    // RequireTyp
	remote bool      // ES256 keys from a JWKS instead of configuration
	token  string
}

func coldCases(b testing.TB) []coldCase {
	base := func(extra map[string]interface{}) map[string]interface{} {
		return claims("alice", "acme", []string{"admin"}, extra)
	}
	hs := func(c map[string]interface{}, hdr map[string]interface{}) string { return mint(b, "HS256", c, hdr) }
	es := func(c map[string]interface{}, hdr map[string]interface{}) string { return mint(b, "ES256", c, hdr) }
	now := time.Now().Unix()
	dotted := [6]string{"email", "tenant.id", "realm_access.roles", "perms", "", ""}
	return []coldCase{
		{name: "a plain token maps its identity", token: hs(base(nil), nil)},
		{name: "an ES256 token maps its identity", token: es(base(nil), nil)},
		{name: "an ES256 token from a JWKS maps its identity", remote: true, token: es(base(nil), map[string]interface{}{"kid": "k1"})},
		{name: "an unknown kid in a JWKS is refused", remote: true, token: es(base(nil), map[string]interface{}{"kid": "k9"})},
		{name: "a scope and three roles map without leaking into org roles", token: es(base(map[string]interface{}{"roles": []string{"b", "a", "b"}, "scope": "x y"}), nil)},
		{name: "a permissions list maps split on commas", token: hs(base(map[string]interface{}{"permissions": "p,q"}), nil)},
		{name: "scp maps when scope is absent", token: hs(base(map[string]interface{}{"scp": []string{"s"}}), nil)},
		{name: "role is read when roles is absent", token: hs(base(map[string]interface{}{"roles": nil, "role": "viewer"}), nil)},
		{name: "org roles and assignments map", token: hs(base(map[string]interface{}{"org_roles": map[string]interface{}{"globex": []string{"viewer"}}, "assignments": []interface{}{map[string]interface{}{"role": "dev", "org": "acme", "scope": []string{"/w/1"}}}}), nil)},
		{name: "dotted claim names follow their paths", names: dotted, token: hs(base(map[string]interface{}{"email": "a@b.test", "tenant": map[string]interface{}{"id": "t1"}, "realm_access": map[string]interface{}{"roles": []string{"r"}}, "perms": "p q"}), nil)},
		{name: "an exact dotted key wins over its path", names: dotted, token: hs(base(map[string]interface{}{"tenant.id": "exact", "tenant": map[string]interface{}{"id": "path"}}), nil)},
		{name: "a missing dotted path reads as absent", names: dotted, token: hs(base(map[string]interface{}{"tenant": "flat"}), nil)},
		{name: "a numeric issuer is refused", token: hs(base(map[string]interface{}{"iss": 7}), nil)},
		{name: "a padded subject is refused", token: hs(base(map[string]interface{}{"sub": "alice "}), nil)},
		{name: "a subject with inner space maps", token: hs(base(map[string]interface{}{"sub": "Jane Doe"}), nil)},
		{name: "a non-ASCII subject maps", token: hs(base(map[string]interface{}{"sub": "zoë"}), nil)},
		{name: "a role with a comma inside an array is refused", token: hs(base(map[string]interface{}{"roles": []string{"a,b"}}), nil)},
		{name: "a role of another type is refused", token: hs(base(map[string]interface{}{"roles": []interface{}{"a", 1}}), nil)},
		{name: "an expired token is refused", token: hs(base(map[string]interface{}{"exp": now - 3600}), nil)},
		{name: "a fractional exp in the past is refused", token: hs(base(map[string]interface{}{"exp": float64(now) - 40.5}), nil)},
		{name: "a future nbf is refused", token: hs(base(map[string]interface{}{"nbf": now + 3600}), nil)},
		{name: "an absurd iat is malformed", token: hs(base(map[string]interface{}{"iat": 1e14}), nil)},
		{name: "a token without exp is refused", token: hs(base(map[string]interface{}{"exp": nil}), nil)},
		{name: "an audience array holding ours is accepted", token: hs(base(map[string]interface{}{"aud": []string{"x", audience}}), nil)},
		{name: "an audience array with a number is refused", token: hs(base(map[string]interface{}{"aud": []interface{}{audience, 1}}), nil)},
		{name: "another issuer is refused", token: hs(base(map[string]interface{}{"iss": "https://evil.test"}), nil)},
		{name: "a required typ given in another spelling is accepted", typ: "at+jwt", token: hs(base(nil), map[string]interface{}{"typ": "application/AT+JWT"})},
		{name: "a required typ missing is refused", typ: "at+jwt", token: hs(base(nil), map[string]interface{}{"typ": nil})},
		{name: "a numeric kid is malformed", token: hs(base(nil), map[string]interface{}{"kid": 7})},
		{name: "a crit header is refused", token: hs(base(nil), map[string]interface{}{"crit": []string{"exp"}})},
		{name: "an HS384 token is refused when only HS256 and ES256 are allowed", token: mint(b, "HS384", base(nil), nil)},
		{name: "a tampered payload is refused", token: tamper(hs(base(nil), nil))},
		// JSON that is not an object, signed: under Yaegi v0.16.1 "case nil" in a switch does not
		// match a nil map, so a null payload or header must be told from an empty object by ==.
		{name: "a null payload is malformed", token: signedHS256(`{"alg":"HS256","typ":"JWT"}`, `null`)},
		{name: "a null header is malformed", token: signedHS256(`null`, `{"sub":"alice"}`)},
		{name: "an array payload is malformed", token: signedHS256(`{"alg":"HS256"}`, `[]`)},
		{name: "a string payload is malformed", token: signedHS256(`{"alg":"HS256"}`, `"alice"`)},
		{name: "an empty object payload lacks exp", token: signedHS256(`{"alg":"HS256"}`, `{}`)},
	}
}

// signedHS256 signs a header and a payload given as raw JSON text (which need not be objects)
// with the harness secret.
func signedHS256(header, payload string) string {
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// coldDescribe is the Go source of ColdDescribe, compiled into this test and evaluated by Yaegi:
// it verifies a token three times (twice through Verify, the second time from the cache and with
// the header known; once through VerifyClaims) and renders every answer. (An Identity is not
// rendered with encoding/json: under Yaegi that marshals unexported fields too, as "Xkey".)
const coldDescribe = `
func ColdDescribe(names []string, typ string, remote bool, jwksURL string, tok string) string {
	opts := tokens.Options{Issuers: []string{"` + issuer + `"}, Audiences: []string{"` + audience + `"}, Algorithms: []string{"HS256", "ES256"},
		Leeway: 30 * time.Second, RequireTyp: typ, CacheSize: 10,
		Claims: tokens.ClaimNames{Subject: names[0], Org: names[1], Roles: names[2], Permissions: names[3], OrgRoles: names[4], Assignments: names[5]}}
	opts.Static = []*tokens.Key{coldHSKey}
	if remote {
		opts.Remote = []*tokens.RemoteSet{tokens.SharedJWKS(jwksURL, tokens.DefaultRemoteSettings)}
	} else {
		opts.Static = append(opts.Static, coldESKeys...)
	}
	v := tokens.NewVerifier(opts)
	out := ""
	for i := 0; i < 2; i++ {
		id, err := v.Verify(tok)
		if err != nil {
			out += "error: " + err.Error() + "\n"
			continue
		}
		out += fmt.Sprintf("%q %q %q %q %q %v %v %d %d retired=%v\n", id.Subject, id.Issuer, id.Org, id.Roles, id.Permissions, id.OrgRoles, id.Assignments, id.Expires, id.NotBefore, id.KeyRetired())
	}
	c, key, err := v.VerifyClaims(tok, time.Now())
	if err != nil {
		return out + "error: " + err.Error()
	}
	b, _ := json.Marshal(c)
	return out + string(b) + " key=" + key.Family
}
`

// TestTheColdPathAnswersAlikeInsideYaegi verifies tokens of every shape through the tokens package
// compiled and interpreted, and requires the same answers: the cold path is written around Yaegi's
// costs and traps (reused variables, comma-ok assignments, known headers, the key index), and
// compiled tests cannot see an interpreter's mistakes.
func TestTheColdPathAnswersAlikeInsideYaegi(t *testing.T) {
	y, err := coldInterpreter()
	if err != nil {
		t.Fatal(err)
	}
	jwks := newJWKS(t)
	ec, _ := keys().signingKey("ES256")
	jwks.set(jwkOf("k1", ec))
	defineColdStages(t, y)
	v, err := y.Eval("ColdDescribe")
	if err != nil {
		t.Fatal(err)
	}
	interpreted := v.Interface().(func([]string, string, bool, string, string) string)
	for _, c := range coldCases(t) {
		c := c
		t.Run(c.name, func(t *testing.T) {
			names := c.names[:]
			want := compiledDescribe(t, names, c.typ, c.remote, jwks.URL, c.token)
			if got := interpreted(names, c.typ, c.remote, jwks.URL, c.token); got != want {
				t.Fatalf("interpreted:\n%s\ncompiled:\n%s", got, want)
			}
		})
	}
}

// compiledDescribe is ColdDescribe compiled.
func compiledDescribe(t testing.TB, names []string, typ string, remote bool, jwksURL string, tok string) string {
	hsKey, _ := tokens.SecretKey([]byte(secret))
	esKeys, err := tokens.ParsePEMKeys(keys().pemByFa["ES256"])
	if err != nil {
		t.Fatal(err)
	}
	opts := tokens.Options{Issuers: []string{issuer}, Audiences: []string{audience}, Algorithms: []string{"HS256", "ES256"},
		Leeway: 30 * time.Second, RequireTyp: typ, CacheSize: 10,
		Claims: tokens.ClaimNames{Subject: names[0], Org: names[1], Roles: names[2], Permissions: names[3], OrgRoles: names[4], Assignments: names[5]}}
	opts.Static = []*tokens.Key{hsKey}
	if remote {
		opts.Remote = []*tokens.RemoteSet{tokens.SharedJWKS(jwksURL, tokens.DefaultRemoteSettings)}
	} else {
		opts.Static = append(opts.Static, esKeys...)
	}
	v := tokens.NewVerifier(opts)
	out := ""
	for i := 0; i < 2; i++ {
		id, err := v.Verify(tok)
		if err != nil {
			out += "error: " + err.Error() + "\n"
			continue
		}
		out += fmt.Sprintf("%q %q %q %q %q %v %v %d %d retired=%v\n", id.Subject, id.Issuer, id.Org, id.Roles, id.Permissions, id.OrgRoles, id.Assignments, id.Expires, id.NotBefore, id.KeyRetired())
	}
	c, key, err := v.VerifyClaims(tok, time.Now())
	if err != nil {
		return out + "error: " + err.Error()
	}
	b, _ := json.Marshal(c)
	return out + string(b) + " key=" + key.Family
}
