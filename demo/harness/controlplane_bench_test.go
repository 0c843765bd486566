package harness

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/demo/loader"
)

// benchBundle is a bundle of n assignments (n subjects in 100 orgs, three roles, every fourth
// scoped), in the control plane's serialization; policy's bundleOf builds the same.
func benchBundle(n int) []byte {
	as := make([]map[string]interface{}, 0, n)
	roles := []string{"viewer", "editor", "admin"}
	for i := 0; i < n; i++ {
		a := map[string]interface{}{"subject": "user-" + strconv.Itoa(i), "org": "org-" + strconv.Itoa(i%100), "role": roles[i%3]}
		if i%4 == 0 {
			a["scope"] = []string{"/topics/t" + strconv.Itoa(i%50)}
		}
		as = append(as, a)
	}
	b, _ := json.Marshal(map[string]interface{}{
		"permissions": []string{"posts:create", "posts:delete", "posts:read", "topics:manage"},
		"roles": map[string][]string{"admin": {"posts:create", "posts:delete", "posts:read", "topics:manage"},
			"editor": {"posts:create", "posts:read"}, "viewer": {"posts:read"}},
		"assignments": as,
	})
	return b
}

var parseFuncsOnce sync.Once

// BenchmarkYaegiParseBundle: policy.Parse (yaml.v3, interpreted) and policy.ParseJSON
// (encoding/json, compiled into Traefik) run inside Yaegi on bundles of growing size. Parse is
// measured up to 1,000 assignments only: it grows linearly and 10,000 take over half a minute.
// Run with -benchtime 1x.
func BenchmarkYaegiParseBundle(b *testing.B) {
	y, err := loader.Shared()
	if err != nil {
		b.Fatal(err)
	}
	parseFuncsOnce.Do(func() {
		_, err = y.Eval(`import "github.com/gatehouse-dev/gatehouse/policy"
func BenchParseYAML(b []byte) error { _, err := policy.Parse(b); return err }
func BenchParseJSON(b []byte) error { _, err := policy.ParseJSON(b); return err }
var benchHeld *policy.Policy
func BenchHold(b []byte) { benchHeld, _ = policy.ParseJSON(b) }
func BenchDrop() { benchHeld = nil }`)
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		fn    string
		sizes []int
	}{{"BenchParseYAML", []int{100, 1000}}, {"BenchParseJSON", []int{100, 10000, 100000}}} {
		v, err := y.Eval(c.fn)
		if err != nil {
			b.Fatal(err)
		}
		parse := v.Interface().(func([]byte) error)
		for _, n := range c.sizes {
			data := benchBundle(n)
			b.Run(c.fn[len("BenchParse"):]+"/"+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if err := parse(data); err != nil {
						b.Fatal(err)
					}
				}
				if c.fn == "BenchParseJSON" {
					b.StopTimer()
					b.ReportMetric(yaegiRetainedMiB(b, y, data), "retained-MiB")
				}
			})
		}
	}
}

// yaegiRetainedMiB returns the heap an interpreted policy.ParseJSON of data keeps alive.
func yaegiRetainedMiB(b *testing.B, y *loader.Yaegi, data []byte) float64 {
	hold, err := y.Eval("BenchHold")
	if err != nil {
		b.Fatal(err)
	}
	drop, err := y.Eval("BenchDrop")
	if err != nil {
		b.Fatal(err)
	}
	hold.Interface().(func([]byte))(data)
	held := heapInUse()
	drop.Interface().(func())()
	return float64(held-heapInUse()) / (1 << 20)
}

// BenchmarkControlPlaneCold: a request decided afresh (cacheSize 0: verify, decide, forward) with a
// bundle of 100, 10,000 and 100,000 assignments in force, for a subject of the bundle; the first
// request (not timed) waits for the bundle. Run with -benchtime 2000x or so.
func BenchmarkControlPlaneCold(b *testing.B) {
	routes := []string{"GET /orgs/{org}/topics/{topic}/posts posts:read"}
	for _, n := range []int{100, 10000, 100000} {
		cp := newControlPlane(b, false)
		doc := string(benchBundle(n))
		cp.set(func(cp *controlPlane) { cp.doc = doc })
		sub := n/2 + 1
		tok := mint(b, "ES256", claims("user-"+strconv.Itoa(sub), "org-"+strconv.Itoa(sub%100), nil, nil), nil)
		for _, l := range benchLoaders(b) {
			h, _ := instance(b, l, baseConfig("routes", routes, "policyURL", cp.URL+"/v1/bundle", "policyCredential", cpCredential, "cacheSize", "0", "policyReload", "1h"))
			b.Run(strconv.Itoa(n)+"/"+l.Name(), func(b *testing.B) {
				benchServe(b, h, "GET", "/orgs/org-"+strconv.Itoa(sub%100)+"/topics/t1/posts", tok)
			})
		}
	}
}

// BenchmarkControlPlaneWarm: a cached allow (ES256 token, a browser's headers) with the policy
// inline, in a policy file, from policyURL, and from policyURL with assignmentsURL, compiled and
// under Yaegi. The control plane answers 304 at every policyReload (2 s, the default).
func BenchmarkControlPlaneWarm(b *testing.B) {
	cp := newControlPlane(b, true)
	cp.set(func(cp *controlPlane) {
		cp.doc = `{"permissions":["workflows:create","workflows:delete","workflows:read","workflows:run","workflows:share"],` +
			`"roles":{"developer":["workflows:create","workflows:read","workflows:run"]},"assignments":[{"subject":"carol","org":"acme","role":"developer"}]}`
		cp.subjects["carol"] = `[{"subject":"carol","org":"acme","role":"developer"}]`
	})
	file := filepath.Join(b.TempDir(), "policy.yaml")
	if err := os.WriteFile(file, []byte(demoPolicy(b)), 0o600); err != nil {
		b.Fatal(err)
	}
	es := mint(b, "ES256", claims("carol", "acme", []string{"developer"}, nil), nil)
	remote := func(kv ...interface{}) map[string]interface{} {
		return baseConfig(append([]interface{}{"routes", workflowRoutes, "policyURL", cp.URL + "/v1/bundle", "policyKey", cp.pub, "policyCredential", cpCredential}, kv...)...)
	}
	configs := []struct {
		name string
		conf map[string]interface{}
	}{
		{"inline", baseConfig("routes", workflowRoutes, "policy", demoPolicy(b))},
		{"policyFile", baseConfig("routes", workflowRoutes, "policyFile", file)},
		{"policyURL", remote()},
		{"policyURL+assignmentsURL", remote("assignmentsURL", cp.URL+"/v1/subjects/{subject}/assignments?issuer={issuer}")},
	}
	for _, l := range benchLoaders(b) {
		l := l
		for _, c := range configs {
			c := c
			h, _ := instance(b, l, c.conf)
			for _, wc := range warmCases(b, l) {
				if wc.name != "warm-ES256" {
					continue
				}
				req := wc.req
				b.Run(c.name+"/"+l.Name(), func(b *testing.B) {
					r := req()
					r.Header.Set("Authorization", "Bearer "+es)
					benchRequest(b, h, r)
				})
			}
		}
	}
}
