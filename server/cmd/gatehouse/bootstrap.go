package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"

	"github.com/gatehouse-dev/gatehouse/server/admin"
	"github.com/gatehouse-dev/gatehouse/server/store"
)

const bootstrapUsage = `usage: gatehouse bootstrap --database DSN --subject S [--issuer I] [--admin-org ORG]

Makes S the first platform admin: assigns gatehouse-platform-admin to S (of issuer I; every trusted
issuer when absent) in the admin org (default gatehouse), which it records once. Running it again
with the same arguments changes nothing. The change log names the actor cli:<user>.
  --database DSN   GATEHOUSE_DATABASE      --admin-org ORG   GATEHOUSE_ADMIN_ORG
`

func bootstrapCommand(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("gatehouse bootstrap", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	database := fs.String("database", "", "")
	subject := fs.String("subject", "", "")
	issuer := fs.String("issuer", "", "")
	adminOrg := fs.String("admin-org", "", "")
	err := fs.Parse(args)
	if err == nil {
		err = envFlags(fs, getenv, map[string]string{"database": "GATEHOUSE_DATABASE", "admin-org": "GATEHOUSE_ADMIN_ORG"})
	}
	if err != nil || *database == "" || *subject == "" || fs.NArg() > 0 {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, bootstrapUsage)
			return 0
		}
		if err != nil {
			fmt.Fprintln(stderr, "gatehouse bootstrap:", err)
		}
		fmt.Fprint(stderr, bootstrapUsage)
		return 2
	}
	org := *adminOrg
	if org == "" {
		org = admin.DefaultAdminOrg
	}
	st, err := store.Open(ctx, *database)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse bootstrap: database:", err)
		return 1
	}
	defer st.Close()
	before, err := st.Revision(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse bootstrap: database:", err)
		return 1
	}
	a, err := st.Bootstrap(ctx, cliActor(), *subject, *issuer, org)
	if err != nil {
		var se *store.Error
		if errors.As(err, &se) && se.Field != "" {
			fmt.Fprintf(stderr, "gatehouse bootstrap: %s (field %s)\n", se.Detail, se.Field)
		} else {
			fmt.Fprintln(stderr, "gatehouse bootstrap:", err)
		}
		return 1
	}
	after, _ := st.Revision(ctx)
	who := strconv.Quote(a.Subject)
	if a.Issuer != "" {
		who += " of issuer " + strconv.Quote(a.Issuer)
	} else {
		who += " (of every trusted issuer)"
	}
	if after == before {
		fmt.Fprintf(stdout, "unchanged: %s already holds gatehouse-platform-admin in admin org %q (assignment %d)\n", who, a.Org, a.ID)
		return 0
	}
	fmt.Fprintf(stdout, "assigned gatehouse-platform-admin to %s in admin org %q (assignment %d, revision %d)\n", who, a.Org, a.ID, after)
	return 0
}

// cliActor names the person running a command in the change log: cli:<login>.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	if n := os.Getenv("USER"); n != "" {
		return "cli:" + n
	}
	return "cli:unknown"
}
