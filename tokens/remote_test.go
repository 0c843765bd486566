//go:build !yaegi
// +build !yaegi

package tokens

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// registryServer serves a JWKS holding the fake P-256 key as kid "k1" and counts its fetches.
func registryServer(t *testing.T) (*httptest.Server, *int64) {
	t.Helper()
	k := fakeKeys()
	enc := base64.RawURLEncoding
	body := `{"keys":[{"kty":"EC","kid":"k1","crv":"P-256","x":"` + enc.EncodeToString(k.ec.X.FillBytes(make([]byte, 32))) +
		`","y":"` + enc.EncodeToString(k.ec.Y.FillBytes(make([]byte, 32))) + `"}]}`
	hits := new(int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		atomic.AddInt64(hits, 1)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

func registrySettings(timeout time.Duration) RemoteSettings {
	return RemoteSettings{Cooldown: time.Minute, Refresh: time.Hour, Timeout: timeout, MaxBody: 1 << 20}
}

// fakeRegistryClock replaces the registry's clock for the test and returns a way to move it.
func fakeRegistryClock(t *testing.T) func(time.Duration) {
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	registryClock = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	t.Cleanup(func() { registryClock = time.Now })
	return func(d time.Duration) {
		mu.Lock()
		now = now.Add(d)
		mu.Unlock()
	}
}

func TestSetsOfOneURLFollowTheirOwnSettings(t *testing.T) {
	cases := []struct {
		name        string
		shortFirst  bool
		repetitions int
	}{
		{"the 1ns set fails and the 5s set verifies when the 1ns set is created first", true, 5},
		{"the 1ns set fails and the 5s set verifies when the 5s set is created first", false, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := 0; i < c.repetitions; i++ {
				srv, _ := registryServer(t)
				var short, long *RemoteSet
				if c.shortFirst {
					short = SharedJWKS(srv.URL, registrySettings(time.Nanosecond))
					long = SharedJWKS(srv.URL, registrySettings(5*time.Second))
				} else {
					long = SharedJWKS(srv.URL, registrySettings(5*time.Second))
					short = SharedJWKS(srv.URL, registrySettings(time.Nanosecond))
				}
				if short.shared == long.shared {
					t.Fatal("different settings share one set")
				}
				if _, err := short.Candidates("k1", "ES256", time.Now()); err != ErrKeysUnavailable {
					t.Fatalf("run %d: the 1ns set got %v, want ErrKeysUnavailable", i, err)
				}
				if keys, err := long.Candidates("k1", "ES256", time.Now()); err != nil || len(keys) != 1 {
					t.Fatalf("run %d: the 5s set got %d keys, %v", i, len(keys), err)
				}
				short.Release()
				long.Release()
			}
		})
	}
}

func TestSameSettingsShareOneSetAndOneFetch(t *testing.T) {
	srv, hits := registryServer(t)
	before := SharedSetCount()
	a := SharedJWKS(srv.URL, registrySettings(5*time.Second))
	b := SharedJWKS(srv.URL, registrySettings(5*time.Second))
	defer a.Release()
	defer b.Release()
	if a.shared != b.shared || SharedSetCount() != before+1 {
		t.Fatalf("identical settings must share one set (%d sets, %d before)", SharedSetCount(), before)
	}
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		set := a
		if i%2 == 1 {
			set = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := set.Candidates("k1", "ES256", time.Now()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := atomic.LoadInt64(hits); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
}

func TestKindsAndSettingsSeparateSets(t *testing.T) {
	base := registrySettings(5 * time.Second)
	cases := []struct {
		name  string
		other func(url string) *RemoteSet
	}{
		{"a different cooldown gets its own set", func(u string) *RemoteSet { s := base; s.Cooldown++; return SharedJWKS(u, s) }},
		{"a different refresh gets its own set", func(u string) *RemoteSet { s := base; s.Refresh++; return SharedJWKS(u, s) }},
		{"a different timeout gets its own set", func(u string) *RemoteSet { s := base; s.Timeout++; return SharedJWKS(u, s) }},
		{"a different body limit gets its own set", func(u string) *RemoteSet { s := base; s.MaxBody++; return SharedJWKS(u, s) }},
		{"discovery of the same text gets its own set", func(u string) *RemoteSet { return SharedDiscovery(u, base) }},
		{"another URL gets its own set", func(u string) *RemoteSet { return SharedJWKS(u+"/other", base) }},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url := "https://registry.test/" + strconv.Itoa(i)
			a := SharedJWKS(url, base)
			b := c.other(url)
			defer a.Release()
			defer b.Release()
			if a.shared == b.shared {
				t.Fatal("the two share a set")
			}
		})
	}
}

func TestReleaseDropsOnlyItsOwnReference(t *testing.T) {
	cases := []struct {
		name    string
		handles int
		release []int // indexes of the handles released, in order
		want    bool  // whether the set is still in the registry
	}{
		{"releasing the only handle removes the set", 1, []int{0}, false},
		{"releasing one of two handles keeps the set", 2, []int{0}, true},
		{"releasing one handle twice keeps the other's reference", 2, []int{0, 0}, true},
		{"releasing both handles removes the set", 2, []int{1, 0}, false},
		{"releasing every handle twice is harmless", 2, []int{0, 1, 0, 1}, false},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url := "https://release.test/" + strconv.Itoa(i)
			before := SharedSetCount()
			var handles []*RemoteSet
			for j := 0; j < c.handles; j++ {
				handles = append(handles, SharedJWKS(url, registrySettings(time.Second)))
			}
			for _, j := range c.release {
				handles[j].Release()
			}
			registryMu.Lock()
			_, present := registry[handles[0].shared.id]
			registryMu.Unlock()
			if present != c.want || SharedSetCount() != before+boolInt(c.want) {
				t.Fatalf("in the registry: %v, want %v (%d sets, %d before)", present, c.want, SharedSetCount(), before)
			}
			for _, h := range handles {
				h.Release()
			}
		})
	}
	t.Run("Release on a nil set is harmless", func(t *testing.T) {
		var s *RemoteSet
		s.Release()
		(&RemoteSet{}).Release()
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestAReleasedSetStillServesItsHolder(t *testing.T) {
	srv, hits := registryServer(t)
	set := SharedJWKS(srv.URL, registrySettings(5*time.Second))
	if _, err := set.Candidates("k1", "ES256", time.Now()); err != nil {
		t.Fatal(err)
	}
	set.Release()
	if keys, err := set.Candidates("k1", "ES256", time.Now()); err != nil || len(keys) != 1 {
		t.Fatalf("after Release: %d keys, %v", len(keys), err)
	}
	next := SharedJWKS(srv.URL, registrySettings(5*time.Second))
	defer next.Release()
	if next.shared == set.shared {
		t.Fatal("a released set was shared again")
	}
	if _, err := next.Candidates("k1", "ES256", time.Now()); err != nil || atomic.LoadInt64(hits) != 2 {
		t.Fatalf("the new set: %v after %d fetches, want 2", err, atomic.LoadInt64(hits))
	}
}

func TestIdleSetsAreSwept(t *testing.T) {
	srv, _ := registryServer(t)
	cases := []struct {
		name  string
		steps []time.Duration // clock moves; a Candidates call between two moves
		want  bool
	}{
		{"a set unused for exactly the idle time stays", []time.Duration{registryIdle}, true},
		{"a set unused for longer than the idle time is dropped", []time.Duration{registryIdle + time.Nanosecond}, false},
		{"a set used by Candidates stays past the idle time", []time.Duration{registryIdle - time.Second, registryIdle - time.Second}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			advance := fakeRegistryClock(t)
			set := SharedJWKS(srv.URL, registrySettings(5*time.Second))
			defer set.Release()
			for i, d := range c.steps {
				if i > 0 {
					if _, err := set.Candidates("k1", "ES256", time.Now()); err != nil {
						t.Fatal(err)
					}
				}
				advance(d)
			}
			SharedSetCount() // sweeps
			registryMu.Lock()
			present := registry[set.shared.id] == set.shared
			registryMu.Unlock()
			if present != c.want {
				t.Fatalf("in the registry: %v, want %v", present, c.want)
			}
			if keys, err := set.Candidates("k1", "ES256", time.Now()); err != nil || len(keys) != 1 {
				t.Fatalf("the holder: %d keys, %v", len(keys), err)
			}
		})
	}
}
