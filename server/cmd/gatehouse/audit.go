package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/audit"
)

const auditUsage = `usage: gatehouse audit ingest [--database DSN] [--follow] [--source NAME] [--json] FILE|-
       gatehouse audit prune [--database DSN] --older-than AGE

ingest stores Gatehouse's audit lines (raw, or inside Traefik's, a container runtime's or a log
shipper's lines) in PostgreSQL; other lines are skipped and counted. A FILE is read from where the
last ingest of the same source stopped (a rotated or truncated file from its start); --follow keeps
reading as it grows, across rotations, until SIGTERM or SIGINT (a batch the database refuses is
tried again until it is stored). - reads standard input to its end.
A line is never stored twice.

  --database DSN    PostgreSQL URL or key=value DSN                       GATEHOUSE_DATABASE
  --follow          keep reading the file as it grows
  --source NAME     the name under which the file's position is kept (default file:ABSOLUTE-PATH)
  --json            print the counts as JSON

prune drops the days of audit events older than AGE (90d, 36h, ...).
`

func auditCommand(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return 2
	}
	switch args[0] {
	case "ingest":
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
		defer stop()
		return auditIngest(ctx, args[1:], stdin, stdout, stderr, getenv)
	case "prune":
		return auditPrune(ctx, args[1:], stdout, stderr, getenv)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, auditUsage)
		return 0
	}
	fmt.Fprintf(stderr, "gatehouse audit: unknown subcommand %q\n\n%s", args[0], auditUsage)
	return 2
}

// usageError prints a usage error (or the usage, for --help) and returns the exit status.
func usageError(stderr io.Writer, name, usage string, err error) int {
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, usage)
		return 0
	}
	fmt.Fprintf(stderr, "gatehouse %s: %v\n\n%s", name, err, usage)
	return 2
}

func auditIngest(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("gatehouse audit ingest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	database := fs.String("database", "", "")
	follow := fs.Bool("follow", false, "")
	source := fs.String("source", "", "")
	asJSON := fs.Bool("json", false, "")
	poll := fs.Duration("poll", 250*time.Millisecond, "")
	err := fs.Parse(args)
	if err == nil {
		err = envFlags(fs, getenv, map[string]string{"database": "GATEHOUSE_DATABASE"})
	}
	switch {
	case err != nil:
	case *database == "":
		err = errors.New("--database (or GATEHOUSE_DATABASE) is required")
	case fs.NArg() != 1:
		err = errors.New("name one FILE, or - for standard input")
	case fs.Arg(0) == "-" && (*follow || *source != ""):
		err = errors.New("--follow and --source apply to a FILE, not to standard input")
	case *poll <= 0:
		err = errors.New("--poll must be positive")
	}
	if err != nil {
		return usageError(stderr, "audit ingest", auditUsage, err)
	}
	db, err := audit.Open(ctx, *database)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse audit ingest: database:", err)
		return 1
	}
	defer db.Close()
	var st audit.Stats
	if fs.Arg(0) == "-" {
		st, err = db.IngestReader(ctx, stdin, 0)
	} else {
		st, err = db.IngestFile(ctx, fs.Arg(0), audit.FileOptions{Source: *source, Follow: *follow, Poll: *poll,
			OnError: func(err error) {
				logJSON(stderr, map[string]interface{}{"gatehouse": "audit", "error": err.Error(), "retrying": true})
			}})
	}
	printStats(stdout, st, *asJSON)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse audit ingest:", err)
		return 1
	}
	return 0
}

func printStats(w io.Writer, st audit.Stats, asJSON bool) {
	if st.Skipped == nil {
		st.Skipped = map[string]int64{}
	}
	if asJSON {
		b, _ := json.Marshal(st)
		fmt.Fprintln(w, string(b))
		return
	}
	line := fmt.Sprintf("%d lines read: %d stored, %d already stored, %d skipped", st.Lines, st.Stored, st.Duplicates, st.SkippedTotal())
	if len(st.Skipped) > 0 {
		var parts []string
		for k, v := range st.Skipped {
			parts = append(parts, k+" "+strconv.FormatInt(v, 10))
		}
		sort.Strings(parts)
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	fmt.Fprintln(w, line)
}

// parseAge reads an age: a number of days ("90d") or a Go duration ("36h").
func parseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%q: want a positive number of days (90d) or a duration (36h)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a positive number of days (90d) or a duration (36h)", s)
	}
	return d, nil
}

func auditPrune(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("gatehouse audit prune", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	database := fs.String("database", "", "")
	olderThan := fs.String("older-than", "", "")
	err := fs.Parse(args)
	if err == nil {
		err = envFlags(fs, getenv, map[string]string{"database": "GATEHOUSE_DATABASE"})
	}
	var age time.Duration
	switch {
	case err != nil:
	case *database == "":
		err = errors.New("--database (or GATEHOUSE_DATABASE) is required")
	case *olderThan == "":
		err = errors.New("--older-than is required")
	case fs.NArg() > 0:
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	default:
		age, err = parseAge(*olderThan)
		if err != nil {
			err = errors.New("--older-than " + err.Error())
		}
	}
	if err != nil {
		return usageError(stderr, "audit prune", auditUsage, err)
	}
	db, err := audit.Open(ctx, *database)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse audit prune: database:", err)
		return 1
	}
	defer db.Close()
	dropped, err := db.Prune(ctx, age, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse audit prune:", err)
		return 1
	}
	if len(dropped) == 0 {
		fmt.Fprintln(stdout, "no day of audit events is older than", *olderThan)
		return 0
	}
	fmt.Fprintf(stdout, "dropped %d days of audit events: %s\n", len(dropped), strings.Join(dropped, ", "))
	return 0
}
