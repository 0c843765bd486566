package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/audit"
	"github.com/gatehouse-dev/gatehouse/server/review"
	"github.com/gatehouse-dev/gatehouse/server/store"
)

const reviewUsage = `usage: gatehouse review [--database DSN] [--days N] [--routes FILE] [--json | --html FILE] [--fail-on SEVERITY] [--no-save]

Reviews the control plane's assignments, roles and permissions against the audit events ingested
(gatehouse audit ingest, POST /v1/audit) and prints the findings, each with its severity and
evidence, marked new or open since the previous review, and those resolved since (docs/review.md).
The review is kept for the next one, unless --no-save.

  --database DSN        PostgreSQL URL or key=value DSN                   GATEHOUSE_DATABASE
  --days N              the window: assignments unused for N days are reported (default 30)
  --routes FILE         the gateways' routes (a compose file, Traefik dynamic configuration,
                        Kubernetes manifest or Gatehouse YAML, as gatehouse check reads them):
                        report permissions no route requires
  --json                print the report as JSON
  --html FILE           write the report as an HTML page to FILE (- for standard output)
  --fail-on SEVERITY    exit 1 when a finding is at least this severe (high, medium, low, info)
  --no-save             do not keep this review
  --burst-count N       denials of one subject or client that make a burst (default 20)
  --burst-window D      ... within this time (default 1m)
  --recent D            service accounts: routes used in this last period and never before (default 24h)
`

type reviewFlags struct {
	days                int
	routes, html        string
	asJSON, noSave      bool
	failOn              string
	burstCount          int
	burstWindow, recent time.Duration
}

func (f *reviewFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.days, "days", 30, "")
	fs.StringVar(&f.routes, "routes", "", "")
	fs.BoolVar(&f.asJSON, "json", false, "")
	fs.StringVar(&f.html, "html", "", "")
	fs.StringVar(&f.failOn, "fail-on", "", "")
	fs.BoolVar(&f.noSave, "no-save", false, "")
	fs.IntVar(&f.burstCount, "burst-count", 20, "")
	fs.DurationVar(&f.burstWindow, "burst-window", time.Minute, "")
	fs.DurationVar(&f.recent, "recent", 24*time.Hour, "")
}

// options checks the flags and reads --routes.
func (f *reviewFlags) options() (review.Options, error) {
	o := review.Options{UnusedDays: f.days, BurstCount: f.burstCount, BurstWindow: f.burstWindow, RecentWindow: f.recent}
	switch {
	case f.days <= 0:
		return o, errors.New("--days must be positive")
	case f.burstCount <= 0 || f.burstWindow <= 0 || f.recent <= 0:
		return o, errors.New("--burst-count, --burst-window and --recent must be positive")
	case f.asJSON && f.html == "-":
		return o, errors.New("--json and --html - both write to standard output: choose one")
	}
	if f.failOn != "" {
		if _, err := review.ParseSeverity(f.failOn); err != nil {
			return o, errors.New("--fail-on " + err.Error())
		}
	}
	if f.routes != "" {
		routes, err := review.RoutesFromFile(f.routes)
		if err != nil {
			return o, fmt.Errorf("--routes %s: %v", f.routes, err)
		}
		o.Routes, o.RoutesFrom = routes, f.routes
	}
	return o, nil
}

func reviewCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("gatehouse review", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	database := fs.String("database", "", "")
	var f reviewFlags
	f.register(fs)
	err := fs.Parse(args)
	if err == nil {
		err = envFlags(fs, getenv, map[string]string{"database": "GATEHOUSE_DATABASE"})
	}
	switch {
	case err != nil:
	case *database == "":
		err = errors.New("--database (or GATEHOUSE_DATABASE) is required")
	case fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var o review.Options
	if err == nil {
		o, err = f.options()
	}
	if err != nil {
		return usageError(stderr, "review", reviewUsage, err)
	}
	st, err := store.Open(ctx, *database)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse review: database:", err)
		return 1
	}
	defer st.Close()
	db, err := audit.Open(ctx, *database)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse review: database:", err)
		return 1
	}
	defer db.Close()
	r, err := runReview(ctx, st, db, o, !f.noSave)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse review:", err)
		return 1
	}
	if err := writeReview(r, &f, stdout); err != nil {
		fmt.Fprintln(stderr, "gatehouse review:", err)
		return 1
	}
	if f.failOn != "" && r.Fails(f.failOn) {
		fmt.Fprintf(stderr, "gatehouse review: a finding is %s (--fail-on %s)\n", r.Worst(), f.failOn)
		return 1
	}
	return 0
}

// runReview runs a review, compares it with the last kept one and keeps it when save is set.
func runReview(ctx context.Context, st *store.Store, db *audit.DB, o review.Options, save bool) (*review.Report, error) {
	r, err := review.Run(ctx, st, db.Pool(), o)
	if err != nil {
		return nil, err
	}
	if err := review.Compare(ctx, db.Pool(), r); err != nil {
		return nil, err
	}
	if save {
		if err := review.Save(ctx, db.Pool(), r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func writeReview(r *review.Report, f *reviewFlags, stdout io.Writer) error {
	if f.html != "" {
		if f.html == "-" {
			return r.WriteHTML(stdout)
		}
		out, err := os.CreateTemp(filepath.Dir(f.html), ".review-*.html")
		if err != nil {
			return err
		}
		defer os.Remove(out.Name())
		if err := r.WriteHTML(out); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		if err := os.Rename(out.Name(), f.html); err != nil {
			return err
		}
	}
	if f.asJSON {
		return r.WriteJSON(stdout)
	}
	return r.WriteText(stdout)
}

// serveAudit is what gatehouse serve adds for audit events and reviews: the batch endpoint's
// handler (POST /v1/audit, authorized by the admin API), a review every reviewEvery (0: none; kept,
// so the next one shows what changed; skipped while another replica's review is younger than the
// period), and, with retention, the days of events older than it dropped every hour. Each event is
// one JSON line on log. stop waits for the background work to end.
func serveAudit(ctx context.Context, st *store.Store, database string, reviewEvery, retention time.Duration, log io.Writer) (http.Handler, func(), error) {
	db, err := audit.Open(ctx, database)
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	every := func(d time.Duration, fn func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(d)
			defer t.Stop()
			for {
				fn()
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	if reviewEvery > 0 {
		every(reviewEvery, func() {
			var last *time.Time
			if err := db.Pool().QueryRow(ctx, "SELECT max(at) FROM reviews").Scan(&last); err != nil {
				logJSON(log, map[string]interface{}{"gatehouse": "review", "error": err.Error()})
				return
			}
			if last != nil && time.Since(*last) < reviewEvery*9/10 {
				return
			}
			r, err := runReview(ctx, st, db, review.Options{}, true)
			if err != nil {
				if ctx.Err() == nil {
					logJSON(log, map[string]interface{}{"gatehouse": "review", "error": err.Error()})
				}
				return
			}
			fresh := 0
			for _, f := range r.Findings {
				if f.Status == "new" {
					fresh++
				}
			}
			logJSON(log, map[string]interface{}{"gatehouse": "review", "review": r.ID, "findings": r.Counts, "new": fresh, "resolved": len(r.Resolved)})
		})
	}
	if retention > 0 {
		every(time.Hour, func() {
			dropped, err := db.Prune(ctx, retention, time.Now())
			switch {
			case err != nil && ctx.Err() == nil:
				logJSON(log, map[string]interface{}{"gatehouse": "audit", "error": err.Error()})
			case len(dropped) > 0:
				logJSON(log, map[string]interface{}{"gatehouse": "audit", "dropped": dropped})
			}
		})
	}
	return db.Handler(), func() { cancel(); wg.Wait(); db.Close() }, nil
}

func logJSON(w io.Writer, v interface{}) {
	b, _ := json.Marshal(v)
	fmt.Fprintln(w, string(b))
}
