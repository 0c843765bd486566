//go:build !yaegi
// +build !yaegi

package tokens

import (
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// heapAlloc returns the live heap after a full collection.
func heapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// totalAlloc returns the bytes allocated so far by the process.
func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// heapSlack absorbs what the runtime, the test framework and other goroutines allocate meanwhile.
const heapSlack = 256 << 10

func TestCacheHeapStaysWithinBudget(t *testing.T) {
	const maxBytes = 4 << 20
	cases := []struct {
		name   string
		source int // bytes of the string each token is sliced from
	}{
		{"distinct maximal tokens stay within the byte budget", MaxTokenSize},
		{"maximal tokens sliced from 64 KiB headers do not keep the headers alive", 64 << 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := heapAlloc()
			cache := NewCache(1<<20, maxBytes)
			for i := 0; i < 2000; i++ {
				header := strings.Repeat(strconv.Itoa(i%10), c.source-16) + strconv.Itoa(1e15+i)
				tok := header[len(header)-MaxTokenSize:]
				cache.Put(tok, &Identity{Subject: "user-" + strconv.Itoa(i), Roles: []string{"admin", "viewer"}, Expires: 1 << 40})
			}
			grown := heapAlloc() - before
			if cache.Bytes() > maxBytes || cache.Len() < 300 {
				t.Fatalf("cache holds %d entries costing %d bytes (budget %d)", cache.Len(), cache.Bytes(), maxBytes)
			}
			if grown > maxBytes+heapSlack {
				t.Fatalf("heap grew by %d bytes for a budget of %d (%d entries)", grown, maxBytes, cache.Len())
			}
			runtime.KeepAlive(cache)
		})
	}
}

func TestCacheChargesAtLeastTheHeapOfSmallEntries(t *testing.T) {
	for _, n := range []int{1000, 20000} {
		t.Run("the estimate covers the real heap of "+strconv.Itoa(n)+" small entries", func(t *testing.T) {
			before := heapAlloc()
			cache := NewCache(n, 1<<40)
			for i := 0; i < n; i++ {
				id := &Identity{Subject: "user-" + strconv.Itoa(i), Org: "acme", Roles: []string{"admin"}, Expires: 1 << 40,
					OrgRoles: map[string][]string{"acme": {"viewer"}}, Assignments: []Assignment{{Role: "moderator", Org: "acme", Scope: []string{"/topics/" + strconv.Itoa(i)}}}}
				cache.Put("tok-"+strconv.Itoa(i), id)
			}
			grown := heapAlloc() - before
			if grown > cache.Bytes()+heapSlack {
				t.Fatalf("heap grew by %d bytes, the cache charged %d for %d entries", grown, cache.Bytes(), cache.Len())
			}
			runtime.KeepAlive(cache)
		})
	}
}

func TestExtractDoesNotCopyAnOversizedToken(t *testing.T) {
	huge := strings.Repeat("a", 900<<10)
	cases := []struct {
		name    string
		sources []Source
		setup   func(r *http.Request)
	}{
		{"a 900 KiB bearer token is refused without a copy", []Source{{Kind: "header", Name: "Authorization"}},
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+huge) }},
		{"a 900 KiB token cookie is refused without a copy", []Source{{Kind: "cookie", Name: "session"}},
			func(r *http.Request) { r.Header.Set("Cookie", "a=b; session="+huge+"; c=d") }},
		{"a 900 KiB query is refused before parsing", []Source{{Kind: "query", Name: "access_token"}},
			func(r *http.Request) { r.URL.RawQuery = "access_token=" + huge }},
		{"a 900 KiB escaped query is refused before unescaping", []Source{{Kind: "query", Name: "access_token"}},
			func(r *http.Request) { r.URL.RawQuery = "access_token=%41" + huge }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://example.test/", nil)
			c.setup(req)
			if _, err := Extract(req, c.sources); err != ErrTooLarge {
				t.Fatalf("got %v, want ErrTooLarge", err)
			}
			const runs = 50
			start := totalAlloc()
			for i := 0; i < runs; i++ {
				_, _ = Extract(req, c.sources)
			}
			if per := (totalAlloc() - start) / runs; per > 1024 {
				t.Fatalf("Extract allocated %d bytes per call", per)
			}
		})
	}
}
