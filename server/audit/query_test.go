package audit

import (
	"strings"
	"testing"
	"time"
)

func TestDecisionsFilterAndPageNewestFirst(t *testing.T) {
	db := newDB(t)
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	var in strings.Builder
	for i, e := range []struct{ decision, subject, org string }{
		{"allow", "bob", "acme"}, {"deny", "dave", "acme"}, {"shadow-deny", "dave", "acme"}, {"allow", "frank", "globex"}, {"deny", "erin", "globex"},
	} {
		in.WriteString(auditLine(at.Add(time.Duration(i)*time.Minute), e.decision, 403, e.subject, e.org, "workflows:read", "GET /orgs/{org}/workflows workflows:read", "r") + "\n")
	}
	if _, err := db.IngestReader(ctx, strings.NewReader(in.String()), 0); err != nil {
		t.Fatal(err)
	}
	subjects := func(p Page) string {
		var s []string
		for _, d := range p.Decisions {
			s = append(s, d.Subject)
		}
		return strings.Join(s, ",")
	}
	for _, c := range []struct {
		name string
		f    Filter
		want string
	}{
		{"no filter: every event, newest first", Filter{}, "erin,frank,dave,dave,bob"},
		{"one org", Filter{Org: "acme"}, "dave,dave,bob"},
		{"deny counts shadow-deny", Filter{Decision: "deny", Org: "acme"}, "dave,dave"},
		{"allow", Filter{Decision: "allow"}, "frank,bob"},
		{"from is inclusive, to exclusive", Filter{From: at.Add(time.Minute), To: at.Add(3 * time.Minute)}, "dave,dave"},
		{"a subject", Filter{Subject: "erin"}, "erin"},
		{"a route and permission no event has", Filter{Route: "GET /orgs/{org}/workflows workflows:read", Permission: "x"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := db.Decisions(ctx, c.f, "", 50)
			if err != nil {
				t.Fatal(err)
			}
			if got := subjects(p); got != c.want || p.Next != "" {
				t.Fatalf("got %q (next %q), want %q", got, p.Next, c.want)
			}
		})
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		p, err := db.Decisions(ctx, Filter{}, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, subjects(p))
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if strings.Join(got, "|") != "erin,frank|dave,dave|bob" {
		t.Fatalf("pages of 2: %q", got)
	}
	if _, err := db.Decisions(ctx, Filter{Decision: "maybe"}, "", 5); err == nil {
		t.Fatal("an unknown decision was accepted")
	}
	for _, bad := range []string{"x", "12-zz", "12-" + strings.Repeat("ab", 31)} {
		if _, err := db.Decisions(ctx, Filter{}, bad, 5); err == nil {
			t.Fatalf("cursor %q was accepted", bad)
		}
	}
}

func TestSummarizeCountsEachBucketAndTheTopDenied(t *testing.T) {
	db := newDB(t)
	from := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	var in strings.Builder
	for _, e := range []struct {
		at                time.Duration
		decision, subject string
	}{
		{0, "allow", "bob"}, // the range's first instant: the first bucket
		{59 * time.Minute, "deny", "dave"},
		{time.Hour, "deny", "dave"}, // a bucket's start belongs to it
		{time.Hour + time.Second, "shadow-deny", "erin"},
		{2 * time.Hour, "deny", "mallory"}, // the range's end: outside
	} {
		in.WriteString(auditLine(from.Add(e.at), e.decision, 403, e.subject, "acme", "workflows:read", "GET /r workflows:read", "r") + "\n")
	}
	if _, err := db.IngestReader(ctx, strings.NewReader(in.String()), 0); err != nil {
		t.Fatal(err)
	}
	s, err := db.Summarize(ctx, Filter{From: from, To: from.Add(2 * time.Hour)}, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Buckets) != 2 || s.Buckets[0].Allow != 1 || s.Buckets[0].Deny != 1 || s.Buckets[1].Allow != 0 || s.Buckets[1].Deny != 2 || s.Step != "1h0m0s" {
		t.Fatalf("buckets %+v step %s", s.Buckets, s.Step)
	}
	if len(s.TopSubjects) != 2 || s.TopSubjects[0] != (Count{"dave", 2}) || s.TopSubjects[1] != (Count{"erin", 1}) {
		t.Fatalf("top subjects %+v", s.TopSubjects)
	}
	if len(s.TopRoutes) != 1 || s.TopRoutes[0].Count != 3 {
		t.Fatalf("top routes %+v", s.TopRoutes)
	}
	if _, err := db.Summarize(ctx, Filter{From: from}, 2, 5); err == nil {
		t.Fatal("a summary without an end was accepted")
	}
}
