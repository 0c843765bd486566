package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
)

// TestARestartInTheMiddleOfAWriteStreamIsA503ThenRecoversWithNothingHalfWritten stops PostgreSQL
// while writers create, update and delete assignments, and starts it again: the writes in
// between fail with 503, later ones succeed, and the change log matches the data exactly.
func TestARestartInTheMiddleOfAWriteStreamIsA503ThenRecoversWithNothingHalfWritten(t *testing.T) {
	srv := pgtest.Start(t)
	s, err := Open(ctx, srv.NewDatabase(t))
	ok(t, err)
	defer s.Close()
	seed(t, s)

	var phase atomic.Int32 // 0 before the stop, 1 while stopped, 2 after the start
	var mu sync.Mutex
	acked := map[int64]bool{}   // assignments whose create was acknowledged
	deleted := map[int64]bool{} // ... and whose delete was acknowledged
	var unavailable, afterRestart atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const writers = 4
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				p := phase.Load()
				a, err := s.CreateAssignment(ctx, actor, Assignment{Subject: fmt.Sprintf("w%d-%d", w, i), Org: "acme", Role: "viewer"})
				if err == nil && i%3 == 0 {
					a.Role = "editor"
					a, err = s.UpdateAssignment(ctx, actor, a, a.Version)
				}
				if err == nil && i%5 == 0 {
					if err = s.DeleteAssignment(ctx, actor, a.ID, a.Version); err == nil {
						mu.Lock()
						deleted[a.ID] = true
						mu.Unlock()
					}
				}
				if err == nil {
					mu.Lock()
					acked[a.ID] = true
					mu.Unlock()
					if p == 2 {
						afterRestart.Add(1)
					}
					continue
				}
				var se *Error
				if !errors.As(err, &se) || se.Status != 503 {
					t.Errorf("writer %d: want a 503 Error, got %v", w, err)
					return
				}
				unavailable.Add(1)
				time.Sleep(5 * time.Millisecond)
			}
		}(w)
	}
	time.Sleep(300 * time.Millisecond)
	phase.Store(1)
	srv.Stop()
	time.Sleep(300 * time.Millisecond)
	ok(t, srv.Start())
	phase.Store(2)
	deadline := time.Now().Add(20 * time.Second)
	for afterRestart.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if unavailable.Load() == 0 {
		t.Fatal("no write failed while the database was down")
	}
	if afterRestart.Load() < 20 {
		t.Fatalf("only %d writes succeeded after the restart", afterRestart.Load())
	}
	t.Logf("%d acknowledged changes, %d refused with 503 while down, %d after the restart", len(acked), unavailable.Load(), afterRestart.Load())

	// Replay the change log: it must produce exactly the data.
	replayed := map[string]Assignment{}
	after := int64(0)
	for {
		page := must[[]Change](t)(s.Changes(ctx, ChangeFilter{After: after, Limit: 1000, Kind: KindAssignment}))
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			after = c.Seq
			switch c.Action {
			case "delete":
				if _, ok := replayed[c.Key]; !ok {
					t.Fatalf("entry %d deletes %s, which the log never created", c.Seq, c.Key)
				}
				delete(replayed, c.Key)
			default:
				var a Assignment
				ok(t, json.Unmarshal(c.After, &a))
				replayed[c.Key] = a
			}
		}
	}
	data := must[[]Assignment](t)(s.ListAssignments(ctx, AssignmentFilter{}))
	if len(data) != len(replayed) {
		t.Fatalf("%d assignments stored, the change log holds %d", len(data), len(replayed))
	}
	for _, a := range data {
		r, found := replayed[strconv.FormatInt(a.ID, 10)]
		g, _ := json.Marshal(a)
		w, _ := json.Marshal(r)
		if !found || string(g) != string(w) {
			t.Fatalf("stored %s, the change log says %s", g, w)
		}
	}
	for id := range acked {
		_, inData := replayed[strconv.FormatInt(id, 10)]
		if inData == deleted[id] {
			t.Fatalf("acknowledged assignment %d: stored %v, deleted %v", id, inData, deleted[id])
		}
	}
	subjects := must[[]Subject](t)(s.ListSubjects(ctx))
	logged := must[[]Change](t)(s.Changes(ctx, ChangeFilter{Kind: KindSubject, Limit: 1000}))
	if len(subjects) != len(logged) || len(subjects) > 1000 {
		t.Fatalf("%d subjects, %d subject entries", len(subjects), len(logged))
	}
}
