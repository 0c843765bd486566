// Package cli is the gatehouse command's client of the control plane's admin API
// (docs/control-plane.md, "Admin API"): roles, permissions, subjects, assignments, whocan, can,
// log, import and export. Every command is one or two HTTP calls; the API decides and checks
// everything, the CLI only shapes requests and prints answers: aligned tables for people, the
// API's own JSON with --json for scripts. Problems go to stderr as
// "gatehouse: <title>: <detail> (field <field>)" with exit status 1; usage errors exit 2.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Commands are the top-level command names this package serves.
var Commands = []string{"permissions", "roles", "subjects", "assignments", "whocan", "can", "log", "import", "export"}

// Handles reports whether name is one of Commands.
func Handles(name string) bool {
	for _, c := range Commands {
		if c == name {
			return true
		}
	}
	return false
}

// Usage is the summary the gatehouse command prints among its commands.
const Usage = `  permissions      list, show, create, change or delete permissions (admin API)
  roles            list, show, create, change or delete roles and their permissions (admin API)
  subjects         list, show, create, change or delete subjects: users and service accounts (admin API)
  assignments      list, add or remove role assignments in an org (admin API)
  whocan           who holds a permission in an org, and through which assignment (admin API)
  can              what a subject may do in an org (or on a resource), with the reasons (admin API)
  log              the control plane's change log (admin API)
  import           load a policy file into the control plane (replaces its roles and assignments)
  export           write the control plane's policy as a document policyFile reads
`

const commonUsage = `
Connection (every command):
  --server URL       the control plane (default $GATEHOUSE_SERVER, else http://127.0.0.1:8081)
  --token JWT        the admin's token, sent as Bearer (default $GATEHOUSE_TOKEN)
  --token-file FILE  read the token from FILE (default $GATEHOUSE_TOKEN_FILE)
  --timeout D        give up on an answer after D (default 30s)
  --json             print the API's JSON instead of a table
`

// DefaultServer is where the CLI looks for the control plane without --server or
// GATEHOUSE_SERVER: gatehouse serve's default listen address.
const DefaultServer = "http://127.0.0.1:8081"

// Env reads environment variables; tests replace it.
type Env func(string) string

// Run runs one command (args[0] is its name) and returns the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, env Env) int {
	if env == nil {
		env = os.Getenv
	}
	if len(args) == 0 || !Handles(args[0]) {
		fmt.Fprintf(stderr, "gatehouse: not a control-plane command: %q\n", strings.Join(args, " "))
		return 2
	}
	cmd := commands[args[0]]
	inv := &invocation{ctx: ctx, stdout: stdout, stderr: stderr, env: env, name: args[0]}
	err := cmd(inv, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, inv.usage+commonUsage)
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "gatehouse %s: %s\n", inv.name, ue)
		if inv.usage != "" {
			fmt.Fprint(stderr, "\n"+inv.usage+commonUsage)
		}
		return 2
	}
	fmt.Fprintf(stderr, "gatehouse: %s\n", printable(err.Error()))
	return 1
}

// invocation is one run of a command: its streams, its connection flags, its usage text.
type invocation struct {
	ctx            context.Context
	stdout, stderr io.Writer
	env            Env
	name           string // "roles set", for messages
	usage          string

	server, token, tokenFile string
	timeout                  time.Duration
	json                     bool
}

// flags returns a flag set holding the connection flags, named for the command.
func (inv *invocation) flags(name, usage string) *flag.FlagSet {
	inv.name, inv.usage = name, usage
	fs := flag.NewFlagSet("gatehouse "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&inv.server, "server", "", "")
	fs.StringVar(&inv.token, "token", "", "")
	fs.StringVar(&inv.tokenFile, "token-file", "", "")
	fs.DurationVar(&inv.timeout, "timeout", 30*time.Second, "")
	fs.BoolVar(&inv.json, "json", false, "")
	return fs
}

// parse parses flags anywhere among the arguments ("roles get admin --json" as well as
// "roles get --json admin") and returns the positional arguments. After "--" everything is
// positional.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		rest := args
		dashdash := -1
		for i, a := range rest {
			if a == "--" {
				dashdash = i
				break
			}
		}
		if dashdash >= 0 {
			rest = args[:dashdash]
		}
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError(err.Error())
		}
		left := fs.Args()
		if len(left) > 0 {
			pos = append(pos, left[0])
			next := append([]string{}, left[1:]...)
			args = append(next, args[len(rest):]...)
			continue
		}
		if dashdash >= 0 {
			return append(pos, args[dashdash+1:]...), nil
		}
		return pos, nil
	}
}

// client builds the API client from the flags and the environment.
func (inv *invocation) client() (*client, error) {
	server := inv.server
	if server == "" {
		server = inv.env("GATEHOUSE_SERVER")
	}
	if server == "" {
		server = DefaultServer
	}
	if inv.token != "" && inv.tokenFile != "" {
		return nil, usageError("give --token or --token-file, not both")
	}
	token := inv.token
	file := inv.tokenFile
	if token == "" && file == "" {
		if token = inv.env("GATEHOUSE_TOKEN"); token == "" {
			file = inv.env("GATEHOUSE_TOKEN_FILE")
		}
	}
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("the admin token: %w", err)
		}
		token = strings.TrimSpace(string(raw))
		if token == "" {
			return nil, fmt.Errorf("the admin token: %s is empty", file)
		}
	}
	if inv.timeout <= 0 {
		return nil, usageError("--timeout must be positive")
	}
	return newClient(strings.TrimSpace(server), token, inv.timeout)
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// need checks the number of positional arguments.
func need(pos []string, n int, what string) error {
	if len(pos) < n {
		return usageError("missing " + what)
	}
	if len(pos) > n {
		return usageError(fmt.Sprintf("unexpected argument %q", pos[n]))
	}
	return nil
}

// printable replaces control bytes, so that a hostile value cannot rewrite the terminal.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
