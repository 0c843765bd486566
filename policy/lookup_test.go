package policy

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// The decision cache keeps an allow only while the policy pointer it was decided under is the one
// in force: SubjectPolicy must return the same pointer while nothing changed, and a new one when
// the subject's assignments or the base policy did.
func TestSubjectPolicyPointerChangesExactlyWhenTheAnswerOrTheBaseDoes(t *testing.T) {
	var list atomic.Value
	list.Store(`[{"subject":"alice","org":"acme","role":"moderator"}]`)
	var fetches atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"subject":"alice","rev":1,"assignments":` + list.Load().(string) + `}`))
	}))
	defer srv.Close()
	base, err := ParseJSON([]byte(lookupBase))
	if err != nil {
		t.Fatal(err)
	}
	l := SharedLookup(srv.URL+"/v1/subjects/{subject}/assignments", nil, "", "", LookupSettings{TTL: 50 * time.Millisecond, Stale: time.Minute, MaxEntries: 10})
	defer l.Release()
	now := time.Now()
	first := SubjectPolicy(l, base, "", "alice", now)
	if first == nil || len(first.grants["alice\x00acme"]) != 1 {
		t.Fatalf("first: %#v", first)
	}
	if again := SubjectPolicy(l, base, "", "alice", now.Add(10*time.Millisecond)); again != first || fetches.Load() != 1 {
		t.Fatalf("within the TTL: same pointer %v, fetches %d", again == first, fetches.Load())
	}
	time.Sleep(60 * time.Millisecond)
	if same := SubjectPolicy(l, base, "", "alice", time.Now()); same != first || fetches.Load() != 2 {
		t.Fatalf("refreshed with the same assignments: same pointer %v, fetches %d", same == first, fetches.Load())
	}
	list.Store(`[]`)
	time.Sleep(60 * time.Millisecond)
	changed := SubjectPolicy(l, base, "", "alice", time.Now())
	if changed == nil || changed == first || len(changed.grants["alice\x00acme"]) != 0 {
		t.Fatalf("refreshed with other assignments: %#v", changed)
	}
	other, _ := ParseJSON([]byte(lookupBase))
	if rebased := SubjectPolicy(l, other, "", "alice", time.Now()); rebased == changed || rebased == nil || len(rebased.grants["alice\x00forum"]) != 1 {
		t.Fatalf("a new base gives a new policy with the base's own grants: %#v", rebased)
	}
}

func TestSharedFetchersLeaveTheRegistryWhenReleased(t *testing.T) {
	remotesBefore := SharedRemoteCount()
	a := SharedRemote("https://cp.test/v1/bundle", nil, "", "cred", time.Second)
	b := SharedRemote("https://cp.test/v1/bundle", nil, "", "cred", time.Minute)
	c := SharedRemote("https://cp.test/v1/bundle", nil, "", "other-cred", time.Second)
	if a.entry != b.entry || a.entry == c.entry || SharedRemoteCount() != remotesBefore+2 {
		t.Fatalf("same URL, key and credential share one fetcher, another credential gets its own: %d fetchers", SharedRemoteCount()-remotesBefore)
	}
	a.Release()
	a.Release()
	if SharedRemoteCount() != remotesBefore+2 {
		t.Fatalf("a fetcher still referenced left the registry")
	}
	b.Release()
	c.Release()
	if SharedRemoteCount() != remotesBefore {
		t.Fatalf("released fetchers stayed: %d", SharedRemoteCount()-remotesBefore)
	}
	s := LookupSettings{TTL: time.Second, Stale: time.Second, MaxEntries: 5}
	l1 := SharedLookup("https://cp.test/{subject}", nil, "", "", s)
	l2 := SharedLookup("https://cp.test/{subject}", nil, "", "", s)
	s.TTL = 2 * time.Second
	l3 := SharedLookup("https://cp.test/{subject}", nil, "", "", s)
	if l1.shared != l2.shared || l1.shared == l3.shared {
		t.Fatalf("lookups share per template, key, credential and settings")
	}
	for _, l := range []*Lookup{l1, l2, l3} {
		l.Release()
	}
	lookupsMu.Lock()
	n := len(lookups)
	lookupsMu.Unlock()
	if n != 0 {
		t.Fatalf("%d lookups stayed in the registry", n)
	}
}
