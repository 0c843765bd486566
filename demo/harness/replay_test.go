package harness

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

// TestEveryCachingConfigurationReplaysUnderYaegi: under the interpreter too, a repeated token is
// replayed from the decision cache in every configuration that has one (the inline warm path, and
// serve's general one for a tenant header or audited allows), and so is a query that cannot hold
// _method. A replay is told from a fresh decision by its cost: it makes under 0.65 of the
// allocations of the same request with the caches off (cacheSize 0), which verifies and decides
// (0.2 to 0.55 today, the audit line on both sides; a verified-token cache hit decided afresh
// makes about 0.8).
func TestEveryCachingConfigurationReplaysUnderYaegi(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts under -race say nothing about the interpreter")
	}
	y, err := loaderShared(t)
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, "ES256", claims("alice", "acme", []string{"admin"}, nil), nil)
	for _, tc := range []struct {
		name   string
		kv     []interface{}
		target string
	}{
		{"the default configuration", nil, "/x"},
		{"a query without _method", nil, "/x?page=2"},
		{"forwardToken off", []interface{}{"forwardToken", "false"}, "/x"},
		{"allows audited", []interface{}{"auditAllowed", "true"}, "/x"},
		{"a tenant header", []interface{}{"tenant", "header:X-Org"}, "/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allocs := func(cacheSize string) float64 {
				h, b := instance(t, y, baseConfig(append(append([]interface{}{}, tc.kv...), "cacheSize", cacheSize)...))
				req := httptest.NewRequest("GET", tc.target, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				req.Header.Set("X-Org", "acme")
				client := req.Header.Clone()
				w := &discard{h: http.Header{}}
				var n float64
				captureStderr(t, func() {
					h.ServeHTTP(w, req)
					n = testing.AllocsPerRun(20, func() {
						req.Header = client.Clone()
						h.ServeHTTP(w, req)
					})
				})
				if b.calls == 0 {
					t.Fatalf("cacheSize %s: the request was not allowed", cacheSize)
				}
				return n
			}
			cached, fresh := allocs("10000"), allocs("0")
			if cached > 0.65*fresh {
				t.Errorf("a repeated token costs %.0f allocations, a fresh decision %.0f: not replayed", cached, fresh)
			}
		})
	}
}

// TestTheAuditLineIsTheSameInsideYaegi: the audit line (one encoding/json call of an interpreted
// struct) has the same bytes interpreted as compiled, optional members included: a refusal with no
// route and no token, a denial with both, and an audited allow.
func TestTheAuditLineIsTheSameInsideYaegi(t *testing.T) {
	tok := mint(t, "ES256", claims("alice <admin>", "acme", []string{"viewer"}, nil), nil)
	reqs := []request{
		{path: "/orgs/acme/workflows?x=%zz"},
		{method: "DELETE", path: "/orgs/acme/workflows/w1", token: tok},
		{path: "/orgs/acme/workflows", token: tok},
		{path: "/nowhere", token: tok + "x"},
	}
	stamp := regexp.MustCompile(`"time":"[^"]*"`)
	var lines [2][]string
	for i, l := range loaders(t) {
		h, _ := instance(t, l, baseConfig("routes", workflowRoutes, "policy", demoPolicy(t), "auditAllowed", "true"))
		for _, r := range reqs {
			for _, line := range captureStderr(t, func() { serve(h, r) }) {
				lines[i] = append(lines[i], stamp.ReplaceAllString(line, `"time":T`))
			}
		}
	}
	if fmt.Sprint(lines[0]) != fmt.Sprint(lines[1]) || len(lines[0]) != len(reqs) {
		t.Fatalf("compiled:\n%q\ninterpreted:\n%q", lines[0], lines[1])
	}
}
