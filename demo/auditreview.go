package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The walkthrough's last step with the control plane: the gateway's audit lines of this very
// walkthrough go into the control plane's PostgreSQL with gatehouse audit ingest, the same lines
// again store nothing, and gatehouse review reads them beside the policy and flags dave's denied
// create and erin's cross-tenant attempt.

// reviewRoutes is the file gatehouse review reads the gateway's routes from (the routes of the
// workflows service's labels; compose.postgres.yaml changes only its settingsFile).
var reviewRoutes = filepath.Join("demo", "compose.yaml")

// ingestCounts are the counts gatehouse audit ingest prints.
type ingestCounts struct {
	lines, stored, duplicates, skipped int64
}

func parseIngest(out string) (ingestCounts, error) {
	var c ingestCounts
	if _, err := fmt.Sscanf(out, "%d lines read: %d stored, %d already stored, %d skipped", &c.lines, &c.stored, &c.duplicates, &c.skipped); err != nil {
		return c, fmt.Errorf("gatehouse audit ingest printed %q: %v", out, err)
	}
	return c, nil
}

// reviewReport is the part of gatehouse review --json the walkthrough checks.
type reviewReport struct {
	Events   int64 `json:"events"`
	Findings []struct {
		Class    string                 `json:"class"`
		Severity string                 `json:"severity"`
		Title    string                 `json:"title"`
		Evidence map[string]interface{} `json:"evidence"`
	} `json:"findings"`
}

// expectedFinding is a finding the review of the walkthrough's events must hold.
type expectedFinding struct {
	say                      string
	class, severity          string
	subject, org, permission string // evidence: subject, org (the token's), permission
}

// walkthroughFindings: dave (viewer) was denied workflows:create in acme; erin, with a token of
// globex, was refused acme's workflows:read by the tenant guard.
var walkthroughFindings = []expectedFinding{
	{say: "the review flags dave's denied create", class: "denied-permission", severity: "low", subject: "dave", org: "acme", permission: "workflows:create"},
	{say: "the review flags erin's cross-tenant attempt", class: "cross-tenant", severity: "high", subject: "erin", org: "globex", permission: "workflows:read"},
}

// auditReview runs the step and prints it like the others. It reports false when an ingest or
// the review is not what the walkthrough's calls must produce.
func auditReview(w io.Writer, d *Demo) (bool, error) {
	cp := d.ControlPlane
	if err := d.syncAudit(); err != nil {
		return false, fmt.Errorf("the gateway's audit lines: %v", err)
	}
	env := []string{"GATEHOUSE_DATABASE=" + cp.pg.DSN()}
	fmt.Fprintf(w, "--- audit and access review: the gateway's stderr (its audit lines), copied to %s, into the control plane's PostgreSQL\n", d.AuditLog)
	fmt.Fprintf(w, "    $ export %s\n", env[0])
	ok := true
	mark := func(good bool, say, detail string) {
		m := "ok "
		if !good {
			m, ok = "BAD", false
		}
		fmt.Fprintf(w, "%s %-88s %s\n", m, say, detail)
	}

	out, err := cp.show(w, env, nil, "audit", "ingest", d.AuditLog)
	if err != nil {
		return false, fmt.Errorf("gatehouse audit ingest: %v", err)
	}
	first, err := parseIngest(out)
	if err != nil {
		return false, err
	}
	mark(first.stored > 0, "the walkthrough's decisions are stored", fmt.Sprintf("%d audit events", first.stored))

	// The same file again from its start, through standard input (a file is read from where its
	// last ingest stopped): every audit line is already stored.
	f, err := os.Open(d.AuditLog)
	if err != nil {
		return false, err
	}
	out, err = cp.show(w, env, f, "audit", "ingest", "-")
	f.Close()
	if err != nil {
		return false, fmt.Errorf("gatehouse audit ingest -: %v", err)
	}
	again, err := parseIngest(out)
	if err != nil {
		return false, err
	}
	mark(again.lines == first.lines && again.stored == 0 && again.duplicates == first.stored,
		"the same lines again: nothing is stored twice", fmt.Sprintf("%d stored, %d already stored", again.stored, again.duplicates))

	if _, err := cp.show(w, env, nil, "review", "--routes", reviewRoutes); err != nil {
		return false, fmt.Errorf("gatehouse review: %v", err)
	}
	// The same review as JSON, not kept, for the checks.
	raw, err := cp.run(env, "review", "--routes", reviewRoutes, "--json", "--no-save")
	if err != nil {
		return false, fmt.Errorf("gatehouse review --json: %v\n%s", err, raw)
	}
	var report reviewReport
	if err := json.Unmarshal([]byte(raw), &report); err != nil {
		return false, fmt.Errorf("gatehouse review --json: %v\n%s", err, raw)
	}
	mark(report.Events == first.stored, "the review reads each stored event once", fmt.Sprintf("%d audit events", report.Events))
	for _, want := range walkthroughFindings {
		title, found := report.flags(want)
		mark(found, want.say, title)
	}
	return ok, nil
}

// flags reports whether the report holds the finding (its class, severity, and the subject, org
// and permission of its evidence), with its severity, class and title, or "not flagged".
func (r *reviewReport) flags(want expectedFinding) (string, bool) {
	for _, f := range r.Findings {
		if f.Class == want.class && f.Severity == want.severity && f.Evidence["subject"] == want.subject &&
			f.Evidence["org"] == want.org && f.Evidence["permission"] == want.permission {
			return f.Severity + " " + f.Class + ": " + f.Title, true
		}
	}
	return "not flagged", false
}

// show runs a gatehouse command (stdin: nil or its standard input), prints it and its output
// indented, and returns the output.
func (cp *controlPlane) show(w io.Writer, env []string, stdin io.Reader, args ...string) (string, error) {
	shown := "$ gatehouse " + strings.Join(args, " ")
	if f, ok := stdin.(*os.File); ok {
		shown += " < " + f.Name()
	}
	fmt.Fprintf(w, "    %s\n", shown)
	cmd := exec.Command(cp.bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	text := strings.TrimRight(out.String(), "\n")
	for _, line := range strings.Split(text, "\n") {
		fmt.Fprintf(w, "    %s\n", line)
	}
	return text, err
}
