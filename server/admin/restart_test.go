package admin

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
	"github.com/gatehouse-dev/gatehouse/server/store"
)

// TestDatabaseRestartInTheMiddleOfARequestStream: while an admin creates assignments one after
// another, PostgreSQL stops and starts again. The API answers 503 problems (with Retry-After)
// meanwhile, /readyz turns 503, then both recover without a restart of the server; every 201 is
// in the store, and the store holds exactly one change-log entry per assignment it holds (nothing
// half-written).
func TestDatabaseRestartInTheMiddleOfARequestStream(t *testing.T) {
	pg := pgtest.Start(t)
	e := newEnvOn(t, pg.NewDatabase(t))
	e.seed()
	rootT := tok(t, root, adminOrgID)
	gw := e.gateway()
	var mu sync.Mutex
	statuses := map[int]int{}
	created := map[string]bool{}
	var retryAfter string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			sub := "s-" + strconv.Itoa(i)
			a := e.do(req{method: "POST", path: "/v1/orgs/acme/assignments", token: rootT, body: `{"subject":"` + sub + `","role":"viewer"}`})
			mu.Lock()
			statuses[a.status]++
			if a.status == 201 {
				created[sub] = true
			}
			if a.status == 503 {
				retryAfter = a.header.Get("Retry-After")
				if p := a.problem(t); p.Status != 503 {
					t.Errorf("503 with problem %+v", p)
				}
			}
			mu.Unlock()
			if a.status == 503 {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}()
	count := func(status int) int {
		mu.Lock()
		defer mu.Unlock()
		return statuses[status]
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				close(stop)
				<-done
				t.Fatalf("timed out waiting for %s (statuses %v)", what, statuses)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("writes before the stop", func() bool { return count(201) >= 20 })
	pg.Stop()
	waitFor("503 answers while the database is down", func() bool { return count(503) >= 5 })
	if a := e.do(req{method: "GET", path: "/readyz"}); a.status != 503 {
		t.Errorf("/readyz with the database down: %d", a.status)
	}
	if a := e.do(req{method: "GET", path: "/v1/bundle", token: gw}); a.status != 503 {
		t.Errorf("bundle with the database down: %d %s", a.status, a.body)
	}
	before := count(201)
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor("writes after the restart", func() bool { return count(201) >= before+20 })
	close(stop)
	<-done
	for s := range statuses {
		if s != 201 && s != 503 {
			t.Fatalf("unexpected status %d (statuses %v)", s, statuses)
		}
	}
	if retryAfter != "1" {
		t.Errorf("Retry-After %q", retryAfter)
	}
	e.must(200, req{method: "GET", path: "/readyz"})
	if n := e.srv.metrics.StoreErrors(503); n == 0 {
		t.Error("no store error counted in /metrics")
	}

	list, err := e.store.ListAssignments(ctx, store.AssignmentFilter{Org: "acme", Role: "viewer"})
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]int64{}
	for _, a := range list {
		if strings.HasPrefix(a.Subject, "s-") {
			held[a.Subject] = a.ID
		}
	}
	for sub := range created {
		if _, ok := held[sub]; !ok {
			t.Errorf("%s was answered 201 but is not in the store", sub)
		}
	}
	logged := map[string]int{}
	for after := int64(0); ; {
		changes, err := e.store.Changes(ctx, store.ChangeFilter{After: after, Limit: 1000, Kind: store.KindAssignment})
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) == 0 {
			break
		}
		for _, c := range changes {
			if c.Action == "create" {
				logged[c.Key]++
			}
			after = c.Seq
		}
	}
	for sub, id := range held {
		if logged[itoa(id)] != 1 {
			t.Errorf("assignment %d (%s) has %d create entries in the change log", id, sub, logged[itoa(id)])
		}
	}
	t.Logf("statuses %v; %d held, %d answered 201", statuses, len(held), len(created))
}
