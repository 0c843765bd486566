package review

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestReviewAtScale measures a review over many audit events: GATEHOUSE_REVIEW_SCALE=10000000 go
// test -run AtScale -v ./review/ (skipped without it). 30 days of events (90% allowed) of 10,000
// subjects in 100 orgs, 1,000 assignments, generated in SQL (generate_series); it logs the time of
// the bulk insert and of each review step. Figures are in docs/review.md.
func TestReviewAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("GATEHOUSE_REVIEW_SCALE"))
	if n <= 0 {
		t.Skip("set GATEHOUSE_REVIEW_SCALE to a number of audit events")
	}
	e := newEnv(t)
	now := time.Now().UTC().Truncate(time.Second)
	perms := make([]string, 20)
	for i := range perms {
		perms[i] = "p" + strconv.Itoa(i)
	}
	var doc strings.Builder
	doc.WriteString("permissions: [" + strings.Join(perms, ", ") + "]\nroles:\n")
	for r := 0; r < 5; r++ {
		doc.WriteString(fmt.Sprintf("  r%d: [%s]\n", r, strings.Join(perms[r*4:r*4+4+r%2], ", ")))
	}
	doc.WriteString("assignments:\n")
	for i := 0; i < 1000; i++ {
		doc.WriteString(fmt.Sprintf("  - {subject: user-%d, org: org-%d, role: r%d}\n", i*10, (i*10)%100, i%5))
	}
	if _, err := e.st.Import(ctx, actor, []byte(doc.String())); err != nil {
		t.Fatal(err)
	}
	// One event per day through the ingester makes the day partitions.
	var seed strings.Builder
	for d := 0; d <= 31; d++ {
		seed.WriteString(line(now.Add(-time.Duration(d)*24*time.Hour), "allow", 200, "seed", "org-0", "GET /x p0", "granted", "192.0.2.1:1"))
	}
	if _, err := e.db.IngestReader(ctx, strings.NewReader(seed.String()), 0); err != nil {
		t.Fatal(err)
	}
	span := 30 * 24 * 3600.0
	start := time.Now()
	_, err := e.db.Pool().Exec(ctx, `INSERT INTO audit_events (time, id, middleware, decision, status, reason, route, permission, subject, issuer, org, method, path, client)
		SELECT $1::timestamptz - (i * $3::float8 / $2) * interval '1 second', sha256(int8send(i)), 'gw',
			CASE WHEN i % 10 = 0 THEN 'deny' ELSE 'allow' END, CASE WHEN i % 10 = 0 THEN 403 ELSE 200 END, 'r',
			'GET /orgs/{org}/x/' || (i % 20) || ' p' || (i % 20), 'p' || (i % 20), 'user-' || (i % 10000), '', 'org-' || (i % 100),
			'GET', '/orgs/o/x', '10.0.' || (i % 200) || '.' || (i % 250) || ':' || (i % 60000)
		FROM generate_series(1, $2) AS i`, now, n, span)
	if err != nil {
		t.Fatal(err)
	}
	insert := time.Since(start)
	if _, err := e.db.Pool().Exec(ctx, "ANALYZE audit_events"); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	r, err := Run(ctx, e.st, e.db.Pool(), Options{Now: now, anyAge: true})
	if err != nil {
		t.Fatal(err)
	}
	total := time.Since(start)
	t.Logf("%d events: bulk insert %s; review %s: %d events in the window, %d findings", n, insert.Round(time.Millisecond), total.Round(time.Millisecond), r.Events, len(r.Findings))
	// The review's questions one at a time.
	var rv = &reviewer{ctx: ctx, st: e.st, pool: e.db.Pool(), o: r.Options, r: &Report{Since: r.Since, At: r.At, Counts: map[string]int{}}}
	if err := rv.policyObjects(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		name string
		fn   func() error
	}{{"unused assignments (1,000)", rv.unusedAssignments}, {"service accounts", rv.serviceRoutes}, {"denial bursts", rv.bursts},
		{"unknown issuers", rv.unknownIssuers}, {"denials", rv.denials}} {
		start := time.Now()
		if err := s.fn(); err != nil {
			t.Fatal(err)
		}
		t.Logf("  %s: %s", s.name, time.Since(start).Round(time.Millisecond))
	}
	var size string
	e.db.Pool().QueryRow(ctx, "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits WHERE inhparent = 'audit_events'::regclass").Scan(&size)
	t.Logf("  on disk with indexes: %s", size)
	var plan strings.Builder
	rows, err := e.db.Pool().Query(ctx, `EXPLAIN ANALYZE SELECT EXISTS (SELECT 1 FROM audit_events WHERE decision = 'allow' AND subject = 'user-10' AND org = 'org-10'
		AND permission = ANY('{p4,p5,p6,p7}') AND time >= $1 AND time <= $2 AND ('' = '' OR issuer = ''))`, r.Since, r.At)
	if err == nil {
		for rows.Next() {
			var l string
			rows.Scan(&l)
			if strings.Contains(l, "Index Only Scan") && !strings.Contains(plan.String(), "Index Only Scan") || strings.Contains(l, "Execution Time") {
				plan.WriteString(strings.TrimSpace(l) + "\n")
			}
		}
		rows.Close()
	}
	t.Logf("one unused-assignment question:\n%s", plan.String())
}
