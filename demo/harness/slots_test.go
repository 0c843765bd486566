//go:build yaegislots

package harness

// TestFrameSlots is the measuring side of demo/yaegislots/run.sh (build tag yaegislots, with the
// instrumented Yaegi copy that script makes): for each scenario, the interpreted calls and frame
// slots per request of every function, busiest first. Under Yaegi a frame slot is one allocation,
// made on every call whether or not the code that owns it runs (docs/yaegi.md).

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/traefik/yaegi/interp"
)

func TestFrameSlots(t *testing.T) {
	y, err := loaderShared(t)
	if err != nil {
		t.Fatal(err)
	}
	get := func(method, path, tok string) *http.Request {
		r := httptest.NewRequest(method, path, nil)
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		return r
	}
	only := os.Getenv("GATEHOUSE_SLOTS_CASE")
	run := func(label string, h http.Handler, mk func(i int) *http.Request) {
		if only == "" || strings.Contains(label, only) {
			countSlots(t, label, h, mk)
		}
	}
	es := mint(t, "ES256", claims("alice", "acme", []string{"admin"}, nil), nil)
	hs := mint(t, "HS256", claims("alice", "acme", []string{"admin"}, nil), nil)
	cold, _ := instance(t, y, baseConfig("cacheSize", "0"))
	run("cold-ES256 (BenchmarkVerify: cacheSize 0, no routes)", cold, func(int) *http.Request { return get("GET", "/x", es) })
	run("cold-HS256 (BenchmarkVerify: cacheSize 0, no routes)", cold, func(int) *http.Request { return get("GET", "/x", hs) })
	bob := mint(t, "ES256", claims("bob", "acme", []string{"developer"}, nil), nil)
	routed, _ := instance(t, y, baseConfig("routes", workflowRoutes, "policy", demoPolicy(t), "cacheSize", "0"))
	run("cold-routes (cacheSize 0, routes and policy, POST run)", routed, func(int) *http.Request { return get("POST", "/orgs/acme/workflows/w1/run", bob) })
	fresh := make([]string, slotRequests+slotWarmups)
	for i := range fresh {
		fresh[i] = mint(t, "ES256", claims("alice", "acme", []string{"admin"}, map[string]interface{}{"jti": fmt.Sprint("slots", i)}), nil)
	}
	cached, _ := instance(t, y, baseConfig())
	run("cold-cached (BenchmarkColdCached: caches on, a new token every request)", cached, func(i int) *http.Request { return get("GET", "/x", fresh[i]) })
	for _, c := range warmCases(t, y) {
		if c.name != "empty" {
			run(c.name+" (BenchmarkWarmPath)", c.h, func(int) *http.Request { return c.req() })
		}
	}
}

const slotRequests, slotWarmups = 100, 3

// countSlots serves slotWarmups requests, then counts the frames of slotRequests more and prints
// them per request; with GATEHOUSE_SLOTS_FUNCS, also the slots of those functions.
func countSlots(t *testing.T, label string, h http.Handler, mk func(i int) *http.Request) {
	t.Helper()
	w := &discard{h: http.Header{}}
	for i := 0; i < slotWarmups; i++ {
		h.ServeHTTP(w, mk(i))
	}
	interp.CountFrames(true)
	for i := 0; i < slotRequests; i++ {
		h.ServeHTTP(w, mk(slotWarmups+i))
	}
	interp.CountFrames(false)
	stats := interp.FrameStats()
	if len(stats) == 0 {
		t.Fatalf("%s: no interpreted frame was counted: the Yaegi copy is not instrumented", label)
	}
	names := make([]string, 0, len(stats))
	var calls, slots, bytes int
	for name, st := range stats {
		names = append(names, name)
		calls, slots, bytes = calls+st.Calls, slots+st.Slots, bytes+st.Bytes
	}
	sort.Slice(names, func(i, j int) bool {
		if stats[names[i]].Slots != stats[names[j]].Slots {
			return stats[names[i]].Slots > stats[names[j]].Slots
		}
		return names[i] < names[j]
	})
	per := func(n int) float64 { return float64(n) / slotRequests }
	var b strings.Builder
	fmt.Fprintf(&b, "== %s: per request %.1f calls, %.1f slots, %.0f bytes of slot values\n", label, per(calls), per(slots), per(bytes))
	for _, name := range names {
		st := stats[name]
		fmt.Fprintf(&b, "%8.2f calls %7.1f slots %7.0f B  %s\n", per(st.Calls), per(st.Slots), per(st.Bytes), strings.TrimPrefix(name, "github.com/gatehouse-dev/gatehouse"))
	}
	if funcs := os.Getenv("GATEHOUSE_SLOTS_FUNCS"); funcs != "" {
		for _, f := range strings.Split(funcs, ",") {
			b.WriteString(interp.Slots(f))
		}
	}
	os.Stdout.WriteString(b.String())
}
