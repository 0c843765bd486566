package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
)

// benchEnv is a control plane whose store holds n assignments (n/10 subjects in 10 orgs, 5
// roles), imported in one transaction.
func benchEnv(b *testing.B, n int, opts ...envOption) (*env, string) {
	b.Helper()
	e := newEnv(b, opts...)
	type asg struct {
		Subject string   `json:"subject"`
		Issuer  string   `json:"issuer"`
		Org     string   `json:"org"`
		Role    string   `json:"role"`
		Scope   []string `json:"scope,omitempty"`
	}
	doc := struct {
		Permissions []string            `json:"permissions"`
		Roles       map[string][]string `json:"roles"`
		Assignments []asg               `json:"assignments"`
	}{
		Permissions: []string{"docs:read", "docs:write", "docs:delete", "docs:share", "billing:read"},
		Roles: map[string][]string{"viewer": {"docs:read"}, "editor": {"docs:read", "docs:write"}, "owner": {"docs:read", "docs:write", "docs:delete", "docs:share"},
			"billing": {"billing:read"}, "auditor": {"docs:read", "billing:read"}},
	}
	roles := []string{"viewer", "editor", "owner", "billing", "auditor"}
	for i := 0; i < n; i++ {
		a := asg{Subject: "user" + strconv.Itoa(i/10), Issuer: testIssuer, Org: "org" + strconv.Itoa(i%10), Role: roles[(i/10)%5]}
		if i%3 == 0 {
			a.Scope = []string{"/projects/p" + strconv.Itoa(i%7)}
		}
		doc.Assignments = append(doc.Assignments, a)
	}
	data, err := json.Marshal(doc)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.store.Import(ctx, "cli:bench", data); err != nil {
		b.Fatal(err)
	}
	return e, e.gateway()
}

// get fetches path and reads the whole body; it returns the status and the body's length.
func benchGet(b *testing.B, e *env, path, token, inm string) (int, int) {
	r, _ := http.NewRequest("GET", e.url+path, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	if inm != "" {
		r.Header.Set("If-None-Match", inm)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, int(n)
}

// BenchmarkBundle: a gateway's GET /v1/bundle over HTTP. cold: the built bundle is dropped
// before each request, as when the revision moved (the store's document is read, hashed,
// optionally signed, and sent); warm: If-None-Match names the current ETag (304: one revision
// query, no body).
func BenchmarkBundle(b *testing.B) {
	for _, n := range []int{100, 10000, 100000} {
		for _, signed := range []bool{false, true} {
			name := strconv.Itoa(n)
			var opts []envOption
			if signed {
				name += "/signed"
				opts = append(opts, withKey(ed25519Key(b)))
			}
			b.Run(name, func(b *testing.B) {
				e, gw := benchEnv(b, n, opts...)
				status, size := benchGet(b, e, "/v1/bundle", gw, "")
				if status != 200 {
					b.Fatalf("status %d", status)
				}
				etag := e.srv.bundles.last[0].etag
				b.Run("cold", func(b *testing.B) {
					b.SetBytes(int64(size))
					b.ReportMetric(float64(size), "body-bytes")
					for i := 0; i < b.N; i++ {
						e.srv.bundles.mu[0].Lock()
						e.srv.bundles.last[0] = nil
						e.srv.bundles.mu[0].Unlock()
						if status, _ := benchGet(b, e, "/v1/bundle", gw, ""); status != 200 {
							b.Fatalf("status %d", status)
						}
					}
				})
				b.Run("warm-304", func(b *testing.B) {
					for i := 0; i < b.N; i++ {
						if status, _ := benchGet(b, e, "/v1/bundle", gw, etag); status != 304 {
							b.Fatalf("status %d", status)
						}
					}
				})
			})
		}
	}
}

// BenchmarkSubjectLookup: GET /v1/subjects/{subject}/assignments for a subject with 10
// assignments among 100,000. cold: the answer is not cached (store query); cached: the same
// revision's answer from memory.
func BenchmarkSubjectLookup(b *testing.B) {
	e, gw := benchEnv(b, 100000)
	path := "/v1/subjects/user4242/assignments?issuer=" + testIssuer
	b.Run("cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			e.srv.subjects.init(subjectCacheSize)
			if status, _ := benchGet(b, e, path, gw, ""); status != 200 {
				b.Fatalf("status %d", status)
			}
		}
	})
	b.Run("revision-query-alone", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := e.store.Revision(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if status, _ := benchGet(b, e, path, gw, ""); status != 200 {
				b.Fatalf("status %d", status)
			}
		}
	})
}

// BenchmarkWrites: POST /v1/orgs/{org}/assignments by an org admin (authorization, one
// transaction with its change-log entry), one client and 8 concurrent clients.
func BenchmarkWrites(b *testing.B) {
	e, _ := benchEnv(b, 1000)
	e.assign("alice", "org1", "gatehouse-org-admin")
	alice := tok(b, "alice", "org1")
	var seq atomic.Int64
	post := func() {
		body := `{"subject":"w` + strconv.FormatInt(seq.Add(1), 10) + `","role":"viewer"}`
		if a := e.do(req{method: "POST", path: "/v1/orgs/org1/assignments", token: alice, body: body}); a.status != 201 {
			b.Errorf("status %d: %s", a.status, a.body)
		}
	}
	b.Run("sequential", func(b *testing.B) {
		e.t = b
		for i := 0; i < b.N; i++ {
			post()
		}
	})
	b.Run("parallel-8", func(b *testing.B) {
		e.t = b
		b.SetParallelism((8 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)) // 8 clients
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post()
			}
		})
	})
}
