package store

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/policy"
)

// benchDocument is a policy with n assignments: 20 permissions, 5 roles, subjects spread over
// 100 orgs, one assignment in four scoped.
func benchDocument(n int) []byte {
	d := doc{Roles: map[string][]string{}}
	for i := 0; i < 20; i++ {
		d.Permissions = append(d.Permissions, "app:perm"+strconv.Itoa(i))
	}
	roles := []string{"viewer", "editor", "admin", "auditor", "operator"}
	for r, name := range roles {
		d.Roles[name] = d.Permissions[r*4 : r*4+4]
	}
	for i := 0; i < n; i++ {
		a := docAssignment{Subject: "user" + strconv.Itoa(i), Org: "org" + strconv.Itoa(i%100), Role: roles[i%len(roles)]}
		if i%4 == 0 {
			a.Scope = []string{"/projects/p" + strconv.Itoa(i%1000)}
		}
		if i%3 == 0 {
			a.Issuer = "https://id.example"
		}
		d.Assignments = append(d.Assignments, a)
	}
	b, _ := json.Marshal(d)
	return b
}

// benchStore returns a store holding benchDocument(n), for the benchmark b (and its sub-benchmarks).
func benchStore(b *testing.B, n int) *Store {
	s, _ := newStore(b)
	start := time.Now()
	if _, err := s.Import(ctx, "cli:bench", benchDocument(n)); err != nil {
		b.Fatal(err)
	}
	b.Logf("import of %d assignments: %v", n, time.Since(start))
	return s
}

var benchSizes = []int{100, 10000, 100000}

// BenchmarkDocument measures building the bundle document (build) and compiling it with
// policy.Parse, as every gateway does (parse).
func BenchmarkDocument(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("assignments=%d", n), func(b *testing.B) {
			s := benchStore(b, n)
			b.Run("build", func(b *testing.B) {
				var size int
				for i := 0; i < b.N; i++ {
					doc, _, err := s.Document(ctx, DocumentOptions{})
					if err != nil {
						b.Fatal(err)
					}
					size = len(doc)
				}
				b.ReportMetric(float64(size), "doc-bytes")
			})
			doc, _, err := s.Document(ctx, DocumentOptions{})
			if err != nil {
				b.Fatal(err)
			}
			b.Run("parse", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if _, err := policy.Parse(doc); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func BenchmarkImport(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("assignments=%d", n), func(b *testing.B) {
			data := benchDocument(n)
			empty := []byte("{}")
			s, _ := newStore(b)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := s.Import(ctx, "cli:bench", data); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := s.Import(ctx, "cli:bench", empty); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

func BenchmarkCreateAssignment(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("writers=%d", workers), func(b *testing.B) {
			s, _ := newStore(b)
			seed(b, s)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						if _, err := s.CreateAssignment(ctx, actor, Assignment{Subject: "s" + strconv.FormatInt(i, 10), Org: "acme", Role: "viewer"}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
		})
	}
}
