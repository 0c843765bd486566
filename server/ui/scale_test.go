package ui

import (
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/audit"
)

// TestDecisionTableAtScale measures the decision table over many audit events:
// GATEHOUSE_UI_SCALE=1000000 go test -run AtScale -v ./ui/ (skipped without it). 30 days of
// events (one in 7 denied) of 10,000 subjects in 100 orgs, generated in SQL; it logs the time of each
// query the decisions page makes, straight and through the admin API and the UI. Figures are in
// BENCHMARKS.md.
func TestDecisionTableAtScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("GATEHOUSE_UI_SCALE"))
	if n <= 0 {
		t.Skip("set GATEHOUSE_UI_SCALE to a number of audit events")
	}
	e := newEnv(t)
	now := time.Now().UTC().Truncate(time.Second)
	var seed []string
	for d := 0; d <= 31; d++ { // one event per day through the ingester makes the day partitions
		seed = append(seed, decision(now.Add(-time.Duration(d)*24*time.Hour), "allow", "seed", "org-0", "GET /x", "workflows:read", "granted"))
	}
	e.ingest(seed...)
	start := time.Now()
	_, err := e.db.Pool().Exec(ctx, `INSERT INTO audit_events (time, id, middleware, decision, status, reason, route, permission, subject, issuer, org, method, path, client)
		SELECT $1::timestamptz - (i * $3::float8 / $2) * interval '1 second', sha256(int8send(i)), 'gw',
			CASE WHEN i % 7 = 0 THEN 'deny' ELSE 'allow' END, CASE WHEN i % 7 = 0 THEN 403 ELSE 200 END,
			CASE WHEN i % 7 = 0 THEN 'missing permission' ELSE 'granted' END,
			'GET /orgs/{org}/x/' || (i % 20), 'p' || (i % 20), 'user-' || (i % 10000), '', 'org-' || (i % 100),
			'GET', '/orgs/o/x', '10.0.0.1:1'
		FROM generate_series(1, $2) AS i`, now, n, 30*24*3600.0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events: bulk insert %s", n, time.Since(start).Round(time.Millisecond))
	if _, err := e.db.Pool().Exec(ctx, "ANALYZE audit_events"); err != nil {
		t.Fatal(err)
	}
	day := audit.Filter{From: now.Add(-24 * time.Hour), To: now}
	for _, q := range []struct {
		name string
		f    audit.Filter
	}{
		{"newest 50, every org", audit.Filter{}},
		{"newest 50 of one org (1% of events)", audit.Filter{Org: "org-7"}},
		{"newest 50 denials of one org", audit.Filter{Org: "org-7", Decision: "deny"}},
		{"newest 50 of one subject (0.01%)", audit.Filter{Subject: "user-1234"}},
		{"newest 50 of one route and permission", audit.Filter{Route: "GET /orgs/{org}/x/3", Permission: "p3"}},
		{"newest 50 of an org with no events, last 24 h", audit.Filter{Org: "globex", From: day.From, To: day.To}},
		{"newest 50 of an org with no events, all time", audit.Filter{Org: "globex"}},
	} {
		start := time.Now()
		p, err := e.db.Decisions(ctx, q.f, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		first := time.Since(start)
		start = time.Now()
		pages := 0
		for c := p.Next; c != "" && pages < 10; pages++ {
			pp, err := e.db.Decisions(ctx, q.f, c, 50)
			if err != nil {
				t.Fatal(err)
			}
			c = pp.Next
		}
		each := time.Duration(0)
		if pages > 0 {
			each = time.Since(start) / time.Duration(pages)
		}
		t.Logf("  %-48s first page %8s (%d rows); next pages %8s each", q.name, first.Round(10*time.Microsecond), len(p.Decisions), each.Round(10*time.Microsecond))
	}
	for _, q := range []struct {
		name string
		f    audit.Filter
	}{
		{"chart and top denied, last 24 h, every org", day},
		{"chart and top denied, last 24 h, one org", audit.Filter{Org: "org-7", From: day.From, To: day.To}},
		{"chart and top denied, 30 days, every org", audit.Filter{From: now.Add(-30 * 24 * time.Hour), To: now}},
		{"chart and top denied, 30 days, one org", audit.Filter{Org: "org-7", From: now.Add(-30 * 24 * time.Hour), To: now}},
	} {
		start := time.Now()
		if _, err := e.db.Summarize(ctx, q.f, 24, 5); err != nil {
			t.Fatal(err)
		}
		t.Logf("  %-48s %8s", q.name, time.Since(start).Round(10*time.Microsecond))
	}
	c, _ := e.signIn("alice")
	for _, path := range []string{"/ui/decisions?org=org-7", "/ui/decisions?org=", "/ui/?org=org-7"} {
		start := time.Now()
		resp, err := c.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		p := readPage(t, resp)
		if p.status != http.StatusOK || !strings.Contains(p.body, "<svg") {
			t.Fatalf("%s: %d", path, p.status)
		}
		t.Logf("  the whole page %-33s %8s", path, time.Since(start).Round(10*time.Microsecond))
	}
	var size string
	e.db.Pool().QueryRow(ctx, "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits WHERE inhparent = 'audit_events'::regclass").Scan(&size)
	t.Logf("  on disk with indexes: %s", size)
}
