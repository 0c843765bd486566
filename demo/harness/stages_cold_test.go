package harness

import (
	"fmt"
	"os"
	"testing"

	"github.com/gatehouse-dev/gatehouse/demo/loader"
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
	y, err := loaderShared(b)
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

// coldStageFuncs defines the stage functions in interpreter y and returns them by name. Each
// panics when its stage fails, so that a benchmark cannot time an error path.
func coldStageFuncs(b *testing.B, y *loader.Yaegi, jwksURL string) map[string]func(string) {
	b.Helper()
	if _, err := y.Eval(`import (
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"time"
	"github.com/gatehouse-dev/gatehouse/tokens"
)`); err != nil {
		b.Fatal(err)
	}
	src := `
var coldSecret = []byte("` + secret + `")
var coldHSKey, _ = tokens.SecretKey(coldSecret)
var coldESKeys, _ = tokens.ParsePEMKeys(` + "`" + keys().pemByFa["ES256"] + "`" + `)
var coldESPublic = coldESKeys[0].Public.(*ecdsa.PublicKey)
var coldHS = tokens.NewVerifier(tokens.Options{Issuers: []string{"` + issuer + `"}, Audiences: []string{"` + audience + `"}, Algorithms: []string{"HS256"}, Leeway: 30 * time.Second, Static: []*tokens.Key{coldHSKey}})
var coldHSCached = tokens.NewVerifier(tokens.Options{Issuers: []string{"` + issuer + `"}, Audiences: []string{"` + audience + `"}, Algorithms: []string{"HS256"}, Leeway: 30 * time.Second, Static: []*tokens.Key{coldHSKey}, CacheSize: 10000})
var coldES = tokens.NewVerifier(tokens.Options{Issuers: []string{"` + issuer + `"}, Audiences: []string{"` + audience + `"}, Algorithms: []string{"ES256"}, Leeway: 30 * time.Second, Static: coldESKeys})
var coldJWKS = tokens.NewVerifier(tokens.Options{Issuers: []string{"` + issuer + `"}, Audiences: []string{"` + audience + `"}, Algorithms: []string{"ES256"}, Leeway: 30 * time.Second, Remote: []*tokens.RemoteSet{tokens.SharedJWKS("` + jwksURL + `", tokens.DefaultRemoteSettings)}})
var coldSources = []tokens.Source{{Kind: "header", Name: "Authorization"}}
var coldIdentity *tokens.Identity
var coldRequest, _ = http.NewRequest("GET", "http://gateway.test/x", nil)

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
	if _, err := y.Eval(src); err != nil {
		b.Fatal(err)
	}
	out := map[string]func(string){}
	for _, name := range []string{"ColdExtract", "ColdValidValue", "ColdVerifyClaimsHS", "ColdVerifyHS", "ColdVerifyHSCached", "ColdVerifyES", "ColdVerifyJWKS", "ColdKeyRetired", "ColdFloorHS", "ColdFloorES"} {
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
