package policy

import (
	"encoding/json"
	"runtime"
	"strconv"
	"testing"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// bundleOf is a control-plane bundle of n assignments: n subjects in 100 orgs, three roles, every
// fourth assignment scoped, in the control plane's serialization.
func bundleOf(n int) []byte {
	as := make([]map[string]interface{}, 0, n)
	roles := []string{"viewer", "editor", "admin"}
	for i := 0; i < n; i++ {
		a := map[string]interface{}{"subject": "user-" + strconv.Itoa(i), "org": "org-" + strconv.Itoa(i%100), "role": roles[i%3]}
		if i%4 == 0 {
			a["scope"] = []string{"/topics/t" + strconv.Itoa(i%50)}
		}
		as = append(as, a)
	}
	doc := map[string]interface{}{
		"permissions": []string{"posts:create", "posts:delete", "posts:read", "topics:manage"},
		"roles": map[string][]string{"admin": {"posts:create", "posts:delete", "posts:read", "topics:manage"},
			"editor": {"posts:create", "posts:read"}, "viewer": {"posts:read"}},
		"assignments": as,
	}
	b, _ := json.Marshal(doc)
	return b
}

var bundleSizes = []int{100, 10000, 100000}

// BenchmarkParseBundle: compiling a bundle of 100, 10,000 and 100,000 assignments with Parse
// (yaml.v3) and ParseJSON (encoding/json), compiled; "retained-MiB" is the heap the parsed policy
// keeps alive. Under Yaegi see BenchmarkYaegiParseBundle in demo/harness.
func BenchmarkParseBundle(b *testing.B) {
	for _, n := range bundleSizes {
		data := bundleOf(n)
		for _, parser := range []string{"Parse", "ParseJSON"} {
			parse := Parse
			if parser == "ParseJSON" {
				parse = ParseJSON
			}
			b.Run(parser+"/"+strconv.Itoa(n), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				var p *Policy
				for i := 0; i < b.N; i++ {
					var err error
					if p, err = parse(data); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(retainedMiB(func() interface{} { q, _ := parse(data); return q }), "retained-MiB")
				runtime.KeepAlive(p)
			})
		}
	}
}

// retainedMiB returns the heap that the value build returns keeps alive.
func retainedMiB(build func() interface{}) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
}

// BenchmarkDecideWithBundle: one Decide and Grants (the slow path's policy work) with a bundle of
// 100, 10,000 and 100,000 assignments loaded, for a subject whose grant is a policy assignment.
func BenchmarkDecideWithBundle(b *testing.B) {
	route := &matcher.Route{Text: "GET /orgs/{org}/topics/{topic}/posts posts:read", Requirement: "posts:read"}
	for _, n := range bundleSizes {
		p, err := ParseJSON(bundleOf(n))
		if err != nil {
			b.Fatal(err)
		}
		id := &tokens.Identity{Subject: "user-" + strconv.Itoa(n/2+1), Org: "org-" + strconv.Itoa((n/2+1)%100)}
		target := Target{Guarded: true, Org: id.Org, Resource: []string{"topics", "t1", "posts"}}
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				d := Decide(p, Options{}, id, route, target)
				if !d.Allow {
					b.Fatal(d.Reason)
				}
				Grants(p, Options{}, id, d.Org, target.Resource)
			}
		})
	}
}
