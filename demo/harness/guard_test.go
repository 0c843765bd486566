package harness

import (
	"net/http"
	"testing"
	"time"
)

// warmBudget is how many times an empty interpreted middleware the warm path may cost, measured in
// the same process (the floor moves with the machine, the ratio much less). Recorded on the 2-core
// development machine: a cached allow 7.5–10× the empty middleware, a public route about 4×
// (BENCHMARKS.md, "Warm path"); the guard allows 2× the upper figure.
const warmBudget = 20.0

// TestTheWarmPathStaysWithinItsBudget fails when the Yaegi warm path (a cached allow, a public
// route) regresses by more than 2× against an empty middleware measured in the same run.
func TestTheWarmPathStaysWithinItsBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("timings under -race say nothing about the interpreter; test.sh runs this test without -race")
	}
	if testing.Short() {
		t.Skip("a timing test")
	}
	y, err := loaderShared(t)
	if err != nil {
		t.Fatal(err)
	}
	cases := warmCases(t, y)
	// The best of five rounds of 2,000 requests, each with a fresh copy of the client's headers.
	cost := func(h http.Handler, newReq func() *http.Request) float64 {
		w := &discard{h: http.Header{}}
		req := newReq()
		client := req.Header.Clone()
		h.ServeHTTP(w, req)
		best := 0.0
		for round := 0; round < 5; round++ {
			start := time.Now()
			for i := 0; i < 2000; i++ {
				req.Header = client.Clone()
				h.ServeHTTP(w, req)
			}
			if ns := float64(time.Since(start).Nanoseconds()) / 2000; best == 0 || ns < best {
				best = ns
			}
		}
		return best
	}
	floor := cost(cases[0].h, cases[0].req)
	for _, c := range cases[1:] {
		ns := cost(c.h, c.req)
		t.Logf("%s: %.1f µs, %.1f× the empty middleware (%.1f µs)", c.name, ns/1000, ns/floor, floor/1000)
		if ns/floor > warmBudget {
			t.Errorf("%s costs %.1f× an empty middleware under Yaegi, over the budget of %.0f×", c.name, ns/floor, warmBudget)
		}
	}
}
