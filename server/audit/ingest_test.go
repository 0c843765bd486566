package audit

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var ctx = context.Background()

func newDB(t testing.TB) *DB {
	t.Helper()
	db, err := Open(ctx, pgtest.Shared(t).NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func count(t testing.TB, db *DB, where string) int64 {
	t.Helper()
	var n int64
	if err := db.pool.QueryRow(ctx, "SELECT count(*) FROM audit_events WHERE "+where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// lines returns n distinct audit lines (one per millisecond from at), each ending with a newline.
func lines(at time.Time, n int, subject string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(auditLine(at.Add(time.Duration(i)*time.Millisecond), "deny", 403, subject, "acme", "workflows:create", "POST /orgs/{org}/workflows workflows:create", "denied") + "\n")
	}
	return b.String()
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestIngestFileStoresEachLineOnceAndResumes(t *testing.T) {
	db := newDB(t)
	path := filepath.Join(t.TempDir(), "traefik.log")
	appendFile(t, path, "Configuration loaded from file\n"+lines(t0, 5, "dave")+"not ours either\n")
	st, err := db.IngestFile(ctx, path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 7 || st.Stored != 5 || st.Duplicates != 0 || st.Skipped[SkipNotGatehouse] != 2 {
		t.Fatalf("first run: %+v", st)
	}
	cases := []struct {
		name      string
		add       string
		opts      FileOptions
		wantLines int64
		wantNew   int64
		wantDup   int64
	}{
		{"a second run of the unchanged file reads nothing", "", FileOptions{}, 0, 0, 0},
		{"a run after lines were appended reads only those", lines(t0.Add(time.Second), 3, "erin"), FileOptions{}, 3, 3, 0},
		{"another source name for the same file reads it all and stores nothing twice", "", FileOptions{Source: "copy"}, 10, 0, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			appendFile(t, path, c.add)
			st, err := db.IngestFile(ctx, path, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if st.Lines != c.wantLines || st.Stored != c.wantNew || st.Duplicates != c.wantDup {
				t.Fatalf("got %+v", st)
			}
		})
	}
	if n := count(t, db, "true"); n != 8 {
		t.Fatalf("%d events stored, want 8", n)
	}
}

func TestIngestFileRestartedMidFileStoresEveryLineOnce(t *testing.T) {
	db := newDB(t)
	path := filepath.Join(t.TempDir(), "traefik.log")
	appendFile(t, path, lines(t0, 10, "dave"))
	cctx, cancel := context.WithCancel(ctx)
	batches := 0
	// The "crash": the context ends after the first batch of 3 is committed, while the next is under way.
	_, err := db.IngestFile(cctx, path, FileOptions{Batch: 3, Progress: func(Stats) {
		batches++
		if batches == 1 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("the interrupted run reported no error")
	}
	if n := count(t, db, "true"); n != 3 {
		t.Fatalf("after the interruption %d events are stored, want the first batch's 3", n)
	}
	st, err := db.IngestFile(ctx, path, FileOptions{Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 7 || st.Stored != 7 || st.Duplicates != 0 {
		t.Fatalf("the resumed run: %+v (want the 7 lines after the saved offset)", st)
	}
	if n := count(t, db, "true"); n != 10 {
		t.Fatalf("%d events stored, want 10", n)
	}
}

func TestIngestFileLeavesAnUnfinishedLastLineForTheNextRun(t *testing.T) {
	db := newDB(t)
	path := filepath.Join(t.TempDir(), "traefik.log")
	full := lines(t0, 2, "dave")
	appendFile(t, path, full[:len(full)-40]) // the writer is in the middle of the second line
	st, err := db.IngestFile(ctx, path, FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 1 || st.Stored != 1 || st.SkippedTotal() != 0 {
		t.Fatalf("got %+v, want the complete line only", st)
	}
	appendFile(t, path, full[len(full)-40:])
	if st, err = db.IngestFile(ctx, path, FileOptions{}); err != nil || st.Lines != 1 || st.Stored != 1 {
		t.Fatalf("after the line was finished: %+v %v", st, err)
	}
}

func TestIngestFileStartsOverOnARotatedOrTruncatedFile(t *testing.T) {
	cases := []struct {
		name   string
		change func(t *testing.T, path string)
		want   int64 // lines read by the second run
	}{
		{"a file replaced by another (rename and create)", func(t *testing.T, path string) {
			os.Rename(path, path+".1")
			appendFile(t, path, lines(t0.Add(time.Hour), 2, "erin"))
		}, 2},
		{"a file truncated and written again, longer than the offset (copytruncate)", func(t *testing.T, path string) {
			os.Truncate(path, 0)
			appendFile(t, path, lines(t0.Add(time.Hour), 6, "erin"))
		}, 6},
		{"a file truncated to less than the offset", func(t *testing.T, path string) {
			os.Truncate(path, 0)
			appendFile(t, path, lines(t0.Add(time.Hour), 1, "erin"))
		}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := newDB(t)
			path := filepath.Join(t.TempDir(), "traefik.log")
			appendFile(t, path, lines(t0, 4, "dave"))
			if _, err := db.IngestFile(ctx, path, FileOptions{}); err != nil {
				t.Fatal(err)
			}
			c.change(t, path)
			st, err := db.IngestFile(ctx, path, FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if st.Lines != c.want || st.Stored != c.want {
				t.Fatalf("got %+v, want %d lines read and stored", st, c.want)
			}
		})
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIngestFileFollowsAGrowingFileAcrossRotations(t *testing.T) {
	db := newDB(t)
	path := filepath.Join(t.TempDir(), "traefik.log")
	appendFile(t, path, lines(t0, 2, "dave"))
	fctx, cancel := context.WithCancel(ctx)
	type result struct {
		st  Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := db.IngestFile(fctx, path, FileOptions{Follow: true, Poll: 20 * time.Millisecond})
		done <- result{st, err}
	}()
	defer func() { cancel(); <-done }()
	waitFor(t, "the first lines", func() bool { return count(t, db, "true") == 2 })

	full := lines(t0.Add(time.Second), 2, "dave")
	appendFile(t, path, full[:30]) // half a line: not stored until it ends
	time.Sleep(100 * time.Millisecond)
	if n := count(t, db, "true"); n != 2 {
		t.Fatalf("%d events after half a line was written", n)
	}
	appendFile(t, path, full[30:])
	waitFor(t, "the appended lines", func() bool { return count(t, db, "true") == 4 })

	// Rotation by rename: lines written to the old file just before, then to the new one.
	appendFile(t, path, lines(t0.Add(2*time.Second), 1, "dave"))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path+".1", lines(t0.Add(3*time.Second), 1, "dave"))
	appendFile(t, path, lines(t0.Add(4*time.Second), 3, "erin"))
	waitFor(t, "the lines around the rotation", func() bool { return count(t, db, "true") == 9 })
	waitFor(t, "the new file's lines", func() bool { return count(t, db, "subject = 'erin'") == 3 })

	// Truncation in place.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	appendFile(t, path, lines(t0.Add(5*time.Second), 2, "frank"))
	waitFor(t, "the lines after the truncation", func() bool { return count(t, db, "subject = 'frank'") == 2 })

	cancel()
	r := <-done
	done <- r
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.st.Stored != 11 || r.st.Duplicates != 0 {
		t.Fatalf("follow stats %+v, want 11 stored", r.st)
	}
}

func TestIngestReaderStoresTheLastLineWithoutNewlineAndSkipsHugeOnes(t *testing.T) {
	db := newDB(t)
	in := lines(t0, 2, "dave") + strings.Repeat("x", 3*MaxLine) + "\n" + strings.TrimSuffix(lines(t0.Add(time.Second), 1, "erin"), "\n")
	st, err := db.IngestReader(ctx, strings.NewReader(in), 0)
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 4 || st.Stored != 3 || st.Skipped[SkipTooLong] != 1 {
		t.Fatalf("got %+v", st)
	}
	if st, err = db.IngestReader(ctx, strings.NewReader(in), 0); err != nil || st.Stored != 0 || st.Duplicates != 3 {
		t.Fatalf("the same input again: %+v %v", st, err)
	}
}

func TestIdenticalLinesOfOneFileAreTwoEventsAndStillNotStoredTwice(t *testing.T) {
	db := newDB(t)
	path := filepath.Join(t.TempDir(), "traefik.log")
	l := auditLine(t0, "deny", 401, "", "", "", "GET /x x:read", "no token") + "\n"
	appendFile(t, path, l+l)
	st, err := db.IngestFile(ctx, path, FileOptions{})
	if err != nil || st.Stored != 2 {
		t.Fatalf("two identical lines: %+v %v", st, err)
	}
	if st, err = db.IngestFile(ctx, path, FileOptions{Source: "again"}); err != nil || st.Stored != 0 || st.Duplicates != 2 {
		t.Fatalf("read again: %+v %v", st, err)
	}
}

func TestPruneDropsWholeDaysOlderThanTheCutoff(t *testing.T) {
	db := newDB(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	in := lines(now.Add(-100*24*time.Hour), 3, "old") + lines(now.Add(-91*24*time.Hour), 1, "edge") + lines(now.Add(-89*24*time.Hour), 2, "recent") + lines(now, 1, "today")
	if _, err := db.IngestReader(ctx, strings.NewReader(in), 0); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		olderThan  time.Duration
		wantDrop   int
		wantRemain int64
	}{
		{"90 days drops the days that ended before the cutoff", 90 * 24 * time.Hour, 2, 3},
		{"a second prune drops nothing", 90 * 24 * time.Hour, 0, 3},
		{"one day keeps today's partition (it has not ended)", 24 * time.Hour, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dropped, err := db.Prune(ctx, c.olderThan, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(dropped) != c.wantDrop {
				t.Fatalf("dropped %v, want %d partitions", dropped, c.wantDrop)
			}
			if n := count(t, db, "true"); n != c.wantRemain {
				t.Fatalf("%d events remain, want %d", n, c.wantRemain)
			}
		})
	}
	// A day dropped can be written again (its partition is made anew).
	if st, err := db.IngestReader(ctx, strings.NewReader(lines(now.Add(-100*24*time.Hour), 1, "old")), 0); err != nil || st.Stored != 1 {
		t.Fatalf("after the prune: %+v %v", st, err)
	}
	if _, err := db.Prune(ctx, 0, now); err == nil {
		t.Fatal("a prune with no age was accepted")
	}
}

func TestFollowKeepsTheLinesWhilePostgreSQLRestarts(t *testing.T) {
	srv := pgtest.Start(t)
	db, err := Open(ctx, srv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	path := filepath.Join(t.TempDir(), "traefik.log")
	appendFile(t, path, lines(t0, 2, "dave"))
	fctx, cancel := context.WithCancel(ctx)
	failures := make(chan error, 100)
	done := make(chan error, 1)
	go func() {
		_, err := db.IngestFile(fctx, path, FileOptions{Follow: true, Poll: 20 * time.Millisecond, OnError: func(err error) {
			select {
			case failures <- err:
			default:
			}
		}})
		done <- err
	}()
	defer func() { cancel(); <-done }()
	waitFor(t, "the first lines", func() bool { return count(t, db, "true") == 2 })
	srv.Stop()
	appendFile(t, path, lines(t0.Add(time.Second), 3, "erin"))
	select {
	case <-failures:
	case <-time.After(10 * time.Second):
		t.Fatal("no failure was reported while PostgreSQL was down")
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the lines written while PostgreSQL was down", func() bool {
		var n int64
		return db.pool.QueryRow(ctx, "SELECT count(*) FROM audit_events").Scan(&n) == nil && n == 5
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("follow ended with %v", err)
	}
	done <- nil
}

func TestADayDroppedByAnotherProcessIsMadeAgain(t *testing.T) {
	db := newDB(t)
	other := New(db.pool) // another process's view: it has not seen the partition
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	old := lines(now.Add(-100*24*time.Hour), 1, "old")
	if _, err := db.IngestReader(ctx, strings.NewReader(old), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Prune(ctx, 90*24*time.Hour, now); err != nil {
		t.Fatal(err)
	}
	st, err := db.IngestReader(ctx, strings.NewReader(lines(now.Add(-100*24*time.Hour).Add(time.Second), 1, "old")), 0)
	if err != nil || st.Stored != 1 {
		t.Fatalf("after another process dropped the day: %+v %v", st, err)
	}
}
