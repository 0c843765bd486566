package harness

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestAQueryReplayMintsAFreshAssertionNearItsExpiry: a request whose query may hold _method (here
// an escape) replays its cached allow through the override rule's path (replay, not
// warmDecision), and that replay, like
// the plain one, keeps the assertion until shortly before its exp and then mints a fresh one,
// interpreted and compiled.
func TestAQueryReplayMintsAFreshAssertionNearItsExpiry(t *testing.T) {
	keysByAlg := assertionKeys(t)
	for _, l := range loaders(t) {
		l := l
		t.Run(l.Name(), func(t *testing.T) {
			t.Parallel()
			h, b := instance(t, l, assertionConfig(t, keysByAlg["ES256"], "5s"))
			k := keyfuncFor(t, jwksOf(t, h).URL)
			r := request{path: "/orgs/acme/workflows?q=a%20b", token: mint(t, "ES256", claims("dave", "acme", []string{"viewer"}, nil), nil)}
			jti := func() (string, float64) {
				t.Helper()
				if rec := serve(h, r); rec.Code != 200 {
					t.Fatalf("status %d", rec.Code)
				}
				c, err := backendVerify(k, b.header.Get("X-Auth-Assertion"), gatewayName, "workflows-api", jwt.WithLeeway(0))
				if err != nil {
					t.Fatalf("replayed assertion does not verify: %v", err)
				}
				return c["jti"].(string), c["exp"].(float64)
			}
			first, exp := jti()
			if again, _ := jti(); again != first {
				t.Fatalf("a replay minted anew (%s, then %s)", first, again)
			}
			time.Sleep(time.Until(time.Unix(int64(exp)-1, 0)) + 50*time.Millisecond)
			fresh, freshExp := jti()
			if fresh == first || freshExp <= exp {
				t.Fatalf("no fresh assertion near expiry: jti %s exp %v (first %s exp %v)", fresh, freshExp, first, exp)
			}
			if again, _ := jti(); again != fresh {
				t.Fatalf("the fresh assertion was not replayed (%s, then %s)", fresh, again)
			}
		})
	}
}
