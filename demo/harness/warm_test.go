package harness

import (
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
)

// TestTheWarmPathAnswersAsTheFullPipeline sends the same requests, three times each, to a middleware
// with its caches (the second and third answers come from the warm path: the decision cache or the
// public-route cache) and to one with cacheSize 0 (every answer from the full pipeline): status,
// challenge and every header the backend receives must be the same.
func TestTheWarmPathAnswersAsTheFullPipeline(t *testing.T) {
	dave := func(extra ...[2]string) func(t testing.TB) request {
		return func(t testing.TB) request {
			r := request{path: "/orgs/acme/workflows", token: mint(t, "ES256", claims("dave", "acme", []string{"viewer"}, nil), nil)}
			r.headers = extra
			return r
		}
	}
	reqs := []struct {
		name string
		req  func(t testing.TB) request
	}{
		{"a viewer reads", dave()},
		{"a viewer reads with spoofed identity headers", dave([2]string{"X-Auth-Subject", "root"}, [2]string{"X_Auth_Roles", "admin"})},
		{"a viewer tries to delete", withToken("dave", "acme", []string{"viewer"}, nil, request{method: "DELETE", path: "/orgs/acme/workflows/w1"})},
		{"a viewer of globex reads in acme", withToken("dave", "globex", []string{"viewer"}, nil, request{path: "/orgs/acme/workflows"})},
		{"anyone checks health", func(t testing.TB) request { return request{path: "/healthz"} }},
		{"anyone checks health with HEAD", func(t testing.TB) request { return request{method: "HEAD", path: "/healthz"} }},
		{"anyone POSTs to the health route", func(t testing.TB) request { return request{method: "POST", path: "/healthz"} }},
		{"health with a spoofed identity header", func(t testing.TB) request {
			return request{path: "/healthz", headers: [][2]string{{"X-Auth-Subject", "root"}}}
		}},
		{"health with a token", withToken("dave", "acme", nil, nil, request{path: "/healthz"})},
		{"no token on a protected route", func(t testing.TB) request { return request{path: "/orgs/acme/workflows"} }},
	}
	configs := map[string][]interface{}{
		"default":            nil,
		"forwardToken false": {"forwardToken", "false"},
		"auditAllowed":       {"auditAllowed", "true"},
		"shadow mode":        {"mode", "shadow"},
		"unmatched public":   {"unmatched", "public"},
	}
	names := make([]string, 0, len(configs))
	for n := range configs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, l := range loaders(t) {
		for _, cname := range names {
			kv := configs[cname]
			cached, bc := instance(t, l, workflowsConfig(t, kv...))
			cold, bn := instance(t, l, workflowsConfig(t, append([]interface{}{"cacheSize", "0"}, kv...)...))
			for _, rc := range reqs {
				l, cname, rc := l, cname, rc
				t.Run(l.Name()+"/"+cname+"/"+rc.name, func(t *testing.T) {
					r := rc.req(t)
					for i := 0; i < 3; i++ {
						bc.header, bn.header = nil, nil
						var got, want *httptest.ResponseRecorder
						captureStderr(t, func() {
							got = serve(cached, r)
							want = serve(cold, r)
						})
						if got.Code != want.Code || got.Header().Get("WWW-Authenticate") != want.Header().Get("WWW-Authenticate") {
							t.Fatalf("call %d: cached %d %q, uncached %d %q", i+1, got.Code, got.Header().Get("WWW-Authenticate"), want.Code, want.Header().Get("WWW-Authenticate"))
						}
						if a, b := headerDump(bc.header), headerDump(bn.header); a != b {
							t.Fatalf("call %d: the backend saw\n%s\nthrough the caches, and\n%s\nwithout them", i+1, a, b)
						}
					}
				})
			}
		}
	}
}

func headerDump(h map[string][]string) string {
	var lines []string
	for k, v := range h {
		lines = append(lines, k+": "+strings.Join(v, " | "))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
