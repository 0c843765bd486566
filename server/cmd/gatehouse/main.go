// Command gatehouse is the compiled side of Gatehouse: the plugin's own engine, outside Traefik.
//
//	gatehouse forward-auth --config FILE [--listen ADDR] [--trusted-proxies CIDR,...]
//	gatehouse assertion-jwks --config FILE [--name NAME]
//	gatehouse check [--json] FILE...
//	gatehouse explain --config FILE [--header 'Name: value']... [--token T | --claims JSON (--key PEM | --secret S)] [--json] METHOD URL
//	gatehouse serve --config FILE --database DSN [--listen ADDR] [--bundle-key FILE] [--admin-org ORG]
//	gatehouse bootstrap --database DSN --subject S [--issuer I] [--admin-org ORG]
//	gatehouse bundle-key --key FILE [--generate ed25519|p256]
//	gatehouse audit ingest [--database DSN] [--follow] FILE|- ; gatehouse audit prune --older-than 90d
//	gatehouse review [--database DSN] [--days N] [--routes FILE] [--json | --html FILE] [--fail-on SEVERITY]
//	gatehouse roles|permissions|subjects|assignments|whocan|can|log|import|export ... [--server URL] [--token T] [--json]
//
// Exit status: 0 on success, 1 when the configuration is refused or the server fails, 2 for a
// usage error (the convention of go vet).
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/gatehouse-dev/gatehouse/server/cli"
	"github.com/gatehouse-dev/gatehouse/server/forwardauth"
)

const usage = `usage: gatehouse COMMAND [ARGUMENTS]

Commands:
  forward-auth     answer auth requests from nginx, Caddy, Envoy or Traefik with the plugin's decisions
  assertion-jwks   print the key set that verifies the gateway's signed identity assertions
  check            review configuration files (labels, file provider, policy) and report every problem
  explain          show step by step how Gatehouse decides one request, and what the backend receives
  serve            run the control plane: admin API, bundles for gateways (PostgreSQL)
  bootstrap        make the first platform admin of a control plane's database
  bundle-key       print (or generate) the key that signs bundles, as PEM and JWKS for gateways
  audit            store the gateways' audit lines in PostgreSQL (ingest FILE|-, prune)
  review           access review: unused assignments, unheld roles, denial bursts... (--fail-on for CI)
` + cli.Usage + `
Run "gatehouse COMMAND --help" for a command's options.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "forward-auth":
		return forwardauth.Command(ctx, args[1:], stderr)
	case "assertion-jwks":
		return assertionJWKS(ctx, args[1:], stdout, stderr)
	case "check":
		return checkCommand(args[1:], stdout, stderr)
	case "explain":
		return explainCommand(ctx, args[1:], stdout, stderr)
	case "serve":
		return serveCommand(ctx, args[1:], stderr)
	case "bootstrap":
		return bootstrapCommand(ctx, args[1:], stdout, stderr, os.Getenv)
	case "bundle-key":
		return bundleKeyCommand(args[1:], stdout, stderr)
	case "audit":
		return auditCommand(ctx, args[1:], os.Stdin, stdout, stderr, os.Getenv)
	case "review":
		return reviewCommand(ctx, args[1:], stdout, stderr, os.Getenv)
	case "permissions", "roles", "subjects", "assignments", "whocan", "can", "log", "import", "export":
		return cli.Run(ctx, args, stdout, stderr, os.Getenv)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n%s", args[0], usage)
	return 2
}
