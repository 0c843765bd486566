package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/server/check"
)

const checkUsage = `usage: gatehouse check [--json] FILE...

Reviews Gatehouse configurations: Traefik dynamic configuration files (YAML, or TOML when FILE
ends in .toml), compose files with labels, Kubernetes Middleware manifests or plain Gatehouse YAML.
settingsFile and policyFile are read relative to the working directory, as Traefik reads them.
Each finding is printed as FILE[:LINE]: where: severity: message [code]. Exit status 0 when clean,
1 with any finding, 2 for a usage error or an unreadable FILE.

  --json   print the findings as a JSON array (location.line: 1-based, absent when not known)
`

// checkCommand runs gatehouse check.
func checkCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gatehouse check", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, checkUsage)
			return 0
		}
		fmt.Fprintf(stderr, "gatehouse check: %v\n\n%s", err, checkUsage)
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, checkUsage)
		return 2
	}
	findings, err := check.Files(fs.Args())
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse check: %v\n", err)
		return 2
	}
	if *asJSON {
		if findings == nil {
			findings = []check.Finding{}
		}
		out, _ := json.MarshalIndent(findings, "", "  ")
		fmt.Fprintf(stdout, "%s\n", out)
	} else {
		report(stdout, findings)
	}
	if len(findings) > 0 {
		return 1
	}
	return 0
}

// report prints one line per finding and a count.
func report(w io.Writer, findings []check.Finding) {
	errs := 0
	for _, f := range findings {
		fmt.Fprintln(w, f.String())
		if f.Severity == check.Error {
			errs++
		}
	}
	if len(findings) == 0 {
		fmt.Fprintln(w, "gatehouse check: no findings")
		return
	}
	fmt.Fprintln(w, "gatehouse check: "+strconv.Itoa(errs)+" errors, "+strconv.Itoa(len(findings)-errs)+" warnings")
}
