package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/server/forwardauth"
)

const jwksUsage = `usage: gatehouse assertion-jwks --config FILE [--name NAME]

Prints the JWK Set a middleware with this configuration publishes for its signed identity
assertions (the plugin's own answer at assertionJWKSPath), for backends that are configured with the
gateway's keys rather than fetching them. --name is the middleware's name (the default audience).
`

// assertionJWKS builds the middleware from the configuration, exactly as the plugin does, and asks
// it for its key set: the keys printed are the keys the gateway publishes.
func assertionJWKS(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gatehouse assertion-jwks", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	config := fs.String("config", "", "")
	name := fs.String("name", "gatehouse", "")
	if err := fs.Parse(args); err != nil || *config == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, jwksUsage)
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	cfg, err := forwardauth.LoadConfig(*config)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse assertion-jwks:", err)
		return 1
	}
	path := cfg.AssertionJWKSPath
	if path == "" {
		path = "/.well-known/gatehouse/jwks.json"
		cfg.AssertionJWKSPath = path
	}
	h, err := gatehouse.New(ctx, http.NotFoundHandler(), cfg, *name)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse assertion-jwks:", err)
		return 1
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		fmt.Fprintf(stderr, "gatehouse assertion-jwks: the configuration signs no assertions (set assertion.key and assertion.issuer)\n")
		return 1
	}
	_, _ = stdout.Write(rec.Body.Bytes())
	fmt.Fprintln(stdout)
	return 0
}
