package harness

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkStages times the pieces of the cold pipeline one at a time inside the interpreter, to
// show where interpreted time goes (see BENCHMARKS.md).
func BenchmarkStages(b *testing.B) {
	y, err := loaderShared(b)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := y.Eval(`import (
	"net/http"
	"time"
	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/tokens"
)`); err != nil {
		b.Fatal(err)
	}
	if _, err := y.Eval(`
var stageTable, _ = matcher.Compile([]string{"POST /orgs/{org}/workflows workflows:create", "POST /orgs/{org}/workflows/{id}/run workflows:run", "GET /orgs/{org}/workflows workflows:read"})
var stageKey, _ = tokens.SecretKey([]byte("` + secret + `"))
var stageVerifier = tokens.NewVerifier(tokens.Options{Issuers: []string{"` + issuer + `"}, Audiences: []string{"` + audience + `"}, Algorithms: []string{"HS256"}, Leeway: 30 * time.Second, Static: []*tokens.Key{stageKey}})
var stageSources = []tokens.Source{{Kind: "header", Name: "Authorization"}}
func StageSplit(p string) { matcher.Split(p) }
func StageMatch(p string) { segs, _ := matcher.Split(p); stageTable.Match("POST", segs) }
func StageExtract(r *http.Request) { tokens.Extract(r, stageSources) }
func StageVerifyClaims(tok string) { stageVerifier.VerifyClaims(tok, time.Now()) }
func StageVerify(tok string) { stageVerifier.Verify(tok) }
`); err != nil {
		b.Fatal(err)
	}
	// The choice the issue asked to make by measurement: golang-jwt's own parser, interpreted.
	jwtParser := false
	if _, err := y.Eval(`import "github.com/golang-jwt/jwt/v5"`); err == nil {
		_, err = y.Eval(`
var stageParser = jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired(), jwt.WithIssuer("` + issuer + `"), jwt.WithAudience("` + audience + `"), jwt.WithLeeway(30*time.Second))
var stageSecret interface{} = []byte("` + secret + `")
func stageKeyfunc(t *jwt.Token) (interface{}, error) { return stageSecret, nil }
func StageGolangJWTParse(tok string) {
	if _, err := stageParser.Parse(tok, stageKeyfunc); err != nil {
		panic(err)
	}
}
`)
		jwtParser = err == nil
	}
	tok := mint(b, "HS256", claims("bob", "acme", []string{"developer"}, nil), nil)
	req := httptest.NewRequest("POST", "/orgs/acme/workflows/w1/run", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	run := func(name string, arg interface{}) {
		v, err := y.Eval(name)
		if err != nil {
			b.Fatal(err)
		}
		switch fn := v.Interface().(type) {
		case func(string):
			s := arg.(string)
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					fn(s)
				}
			})
		case func(*http.Request):
			r := arg.(*http.Request)
			b.Run(name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					fn(r)
				}
			})
		default:
			b.Fatalf("%s: %T", name, v.Interface())
		}
	}
	run("StageSplit", "/orgs/acme/workflows/w1/run")
	run("StageMatch", "/orgs/acme/workflows/w1/run")
	run("StageExtract", req)
	run("StageVerifyClaims", tok)
	run("StageVerify", tok) // cache off: verification and claim mapping
	if jwtParser {
		run("StageGolangJWTParse", tok)
	} else {
		b.Log("golang-jwt could not be imported at the interpreter's top level; skipped")
	}
}
