package forwardauth

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/internal/serving"
)

// Usage is the command line of `gatehouse forward-auth`.
const Usage = `usage: gatehouse forward-auth --config FILE [--listen ADDR] [--trusted-proxies CIDR,...] [--name NAME]

Answers auth requests from a proxy with the Gatehouse plugin's decisions:
  ` + ForwardedPath + `     X-Forwarded-Method/-Uri/-Host (Traefik forwardAuth, HAProxy)
  ` + CaddyPath + `         the same for Caddy forward_auth (every identity header answered, empty when unset)
  ` + OriginalPath + `      X-Original-Method/-URI and Host (nginx auth_request)
  ` + EnvoyPrefix + `/...     the request itself below the prefix (Envoy ext_authz, path_prefix: ` + EnvoyPrefix + `)
  /healthz, /readyz, /metrics
`

// Command runs `gatehouse forward-auth` until SIGTERM or SIGINT (or ctx ends), then shuts down
// gracefully. It returns the exit status: 0 after a clean shutdown, 1 when the configuration is
// refused or the address cannot be listened on, 2 for a usage error.
func Command(ctx context.Context, args []string, stderr io.Writer) int {
	return command(ctx, args, stderr, nil)
}

func command(ctx context.Context, args []string, stderr io.Writer, listening func(net.Addr)) int {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	return run(ctx, args, stderr, listening)
}

// run is Command without the signal handling; listening is called with the bound address.
func run(ctx context.Context, args []string, stderr io.Writer, listening func(net.Addr)) int {
	fs := flag.NewFlagSet("gatehouse forward-auth", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	config := fs.String("config", "", "")
	listen := fs.String("listen", "127.0.0.1:8181", "")
	trusted := fs.String("trusted-proxies", "127.0.0.0/8,::1/128", "")
	name := fs.String("name", "forward-auth", "")
	if err := fs.Parse(args); err != nil || *config == "" || fs.NArg() > 0 {
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "gatehouse forward-auth:", err)
		}
		fmt.Fprint(stderr, Usage)
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	prefixes, err := ParseTrusted(*trusted)
	if err != nil || len(prefixes) == 0 {
		fmt.Fprintln(stderr, "gatehouse forward-auth: --trusted-proxies: want comma-separated CIDR prefixes or addresses, such as 10.0.0.0/8,::1")
		return 2
	}
	cfg, err := LoadConfig(*config)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse forward-auth:", *config+":", err)
		return 1
	}
	InstrumentKeyFetches()
	mwCtx, release := context.WithCancel(context.Background())
	defer release()
	s, err := New(mwCtx, cfg, Options{Name: *name, Trusted: prefixes})
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse forward-auth:", err)
		return 1
	}
	return serve(ctx, s, ln, stderr, listening)
}

// serve answers on ln until ctx ends, then stops taking requests (readiness 503, listener closed)
// and waits for the requests in flight (serving.Grace).
func serve(ctx context.Context, s *Server, ln net.Listener, stderr io.Writer, listening func(net.Addr)) int {
	return serving.Run(ctx, ln, serving.Options{Name: "forward-auth", Handler: s, Timeout: 30 * time.Second, SetReady: s.SetReady, Listening: listening}, stderr)
}
