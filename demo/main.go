// Command demo runs the Gatehouse demo without Docker: the demo issuer, the workflows API, and a
// gateway that loads Gatehouse through Yaegi exactly as Traefik does (package loader), configured
// from the labels of the workflows service in compose.yaml and the same policy file.
//
//	go -C demo run .               # start and keep serving
//	go -C demo run . -walkthrough  # start, run the walkthrough, print it, exit non-zero on a surprise
//	go -C demo run . -assertion    # the workflows API requires the gateway's signed X-Auth-Assertion
//	go -C demo run . -traefik PATH # a real Traefik binary as the gateway instead of the Yaegi stand-in
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	cfg := Config{}
	flag.StringVar(&cfg.GatewayAddr, "gateway", "127.0.0.1:8080", "gateway listen address")
	flag.StringVar(&cfg.IssuerAddr, "issuer", "127.0.0.1:9000", "demo issuer listen address")
	flag.StringVar(&cfg.WorkflowsAddr, "workflows", "127.0.0.1:9001", "workflows API listen address")
	walk := flag.Bool("walkthrough", false, "run the walkthrough against the demo, print it and exit")
	flag.StringVar(&cfg.Traefik, "traefik", "", "path of a Traefik binary to run as the gateway, with compose.yaml's static options and its labels as a file-provider configuration (default: the Yaegi stand-in)")
	flag.BoolVar(&cfg.Assertion, "assertion", assertionDefault, "the workflows API requires the gateway's signed X-Auth-Assertion (verified against "+AssertionJWKSPath+" on the gateway)")
	flag.Parse()

	d, err := Start(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	defer d.Close()
	if cfg.Traefik != "" {
		fmt.Printf("Gatehouse demo (no Docker): Gatehouse loaded by %s from %s\n", cfg.Traefik, d.PluginRoot)
		fmt.Printf("  gateway (real Traefik)      %s   middleware %v from compose.yaml labels (jwksURL: the local issuer; log %s)\n", d.GatewayURL, d.Middlewares, d.TraefikLog)
	} else {
		fmt.Printf("Gatehouse demo (no Docker): Gatehouse loaded through Yaegi from %s\n", d.PluginRoot)
		fmt.Printf("  gateway (Traefik stand-in)  %s   middleware %v from compose.yaml labels\n", d.GatewayURL, d.Middlewares)
	}
	fmt.Printf("  demo issuer                 %s   (iss %s)\n", d.IssuerURL, IssuerName)
	fmt.Printf("  workflows API (private)     %s\n", d.WorkflowsURL)
	if d.Assertion {
		fmt.Printf("    requires X-Auth-Assertion from %s, verified against %s%s\n", AssertionIssuer, d.GatewayURL, AssertionJWKSPath)
	}
	fmt.Printf("\nGet a token (subjects: alice bob carol dave erin svc-ci):\n")
	fmt.Printf("  TOKEN=$(curl -s -X POST '%s/token?sub=alice' | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n", d.IssuerURL)
	fmt.Printf("  curl -i -H \"Authorization: Bearer $TOKEN\" %s/orgs/acme/workflows\n\n", d.GatewayURL)
	if *walk {
		if err := Walkthrough(os.Stdout, d); err != nil {
			fmt.Fprintln(os.Stderr, "walkthrough:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	fmt.Println("Serving; Ctrl-C to stop.")
	<-ctx.Done()
}
