// Command demo runs the Gatehouse demo without Docker: the demo issuer, the workflows API, and a
// gateway that loads Gatehouse through Yaegi exactly as Traefik does (package loader), configured
// from the labels of the workflows service in compose.yaml and the same policy file.
//
//	go -C demo run .               # start and keep serving
//	go -C demo run . -walkthrough  # start, run the walkthrough, print it, exit non-zero on a surprise
//	go -C demo run . -assertion    # the workflows API requires the gateway's signed X-Auth-Assertion
//	go -C demo run . -traefik PATH # a real Traefik binary as the gateway instead of the Yaegi stand-in
//	go -C demo run . -postgres     # the policy from the control plane (gatehouse serve over a throwaway PostgreSQL)
//	go -C demo run . -postgres -walkthrough  # ... ending with the audit lines ingested and the access review
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	cfg := Config{}
	flag.StringVar(&cfg.GatewayAddr, "gateway", "127.0.0.1:8080", "gateway listen address")
	flag.StringVar(&cfg.IssuerAddr, "issuer", "127.0.0.1:9000", "demo issuer listen address")
	flag.StringVar(&cfg.WorkflowsAddr, "workflows", "127.0.0.1:9001", "workflows API listen address")
	walk := flag.Bool("walkthrough", false, "run the walkthrough against the demo, print it and exit")
	flag.StringVar(&cfg.Traefik, "traefik", "", "path of a Traefik binary to run as the gateway, with compose.yaml's static options and its labels as a file-provider configuration (default: the Yaegi stand-in)")
	flag.BoolVar(&cfg.Assertion, "assertion", assertionDefault, "the workflows API requires the gateway's signed X-Auth-Assertion (verified against "+AssertionJWKSPath+" on the gateway)")
	flag.BoolVar(&cfg.Postgres, "postgres", false, "run the control plane (gatehouse serve) over a throwaway PostgreSQL from the Debian packages, and have the gateway read its policy from it (compose.postgres.yaml) instead of demo/policy.yaml")
	flag.Parse()

	d, err := Start(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	defer d.Close()
	if cfg.Traefik != "" {
		fmt.Printf("Gatehouse demo (no Docker): Gatehouse loaded by %s from %s\n", cfg.Traefik, d.PluginRoot)
		fmt.Printf("  gateway (real Traefik)      %s   middleware %v from %s labels (jwksURL: the local issuer; log %s)\n", d.GatewayURL, d.Middlewares, labelSource(cfg), d.TraefikLog)
	} else {
		fmt.Printf("Gatehouse demo (no Docker): Gatehouse loaded through Yaegi from %s\n", d.PluginRoot)
		fmt.Printf("  gateway (Traefik stand-in)  %s   middleware %v from %s labels\n", d.GatewayURL, d.Middlewares, labelSource(cfg))
	}
	fmt.Printf("  demo issuer                 %s   (iss %s)\n", d.IssuerURL, IssuerName)
	fmt.Printf("  workflows API (private)     %s\n", d.WorkflowsURL)
	if d.Assertion {
		fmt.Printf("    requires X-Auth-Assertion from %s, verified against %s%s\n", AssertionIssuer, d.GatewayURL, AssertionJWKSPath)
	}
	if cp := d.ControlPlane; cp != nil {
		fmt.Printf("  control plane               %s   gatehouse serve over PostgreSQL %s (log %s)\n", cp.URL, cp.pg.DSN(), cp.Log)
		fmt.Printf("    the admin web UI: %s (sign in as alice, dave or erin at the demo issuer's login page)\n", cp.UI)
		fmt.Printf("    the gateway reads its policy from %s/v1/bundle (signed, policyReload 1s) as %s\n", cp.URL, GatewaySubject)
		fmt.Printf("    the CLI, as %s (platform admin):\n", ControlPlaneAdmin)
		fmt.Printf("      export GATEHOUSE_SERVER=%s GATEHOUSE_TOKEN=$(curl -s -X POST '%s/token?sub=%s&ttl=1h' | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n", cp.URL, d.IssuerURL, ControlPlaneAdmin)
		fmt.Printf("      %s assignments list --org acme\n", cp.bin)
		if d.AuditLog != "" {
			fmt.Printf("    the gateway's audit lines are copied to %s; store and review them:\n", d.AuditLog)
			fmt.Printf("      export GATEHOUSE_DATABASE='%s'\n", cp.pg.DSN())
			fmt.Printf("      %s audit ingest %s && %s review --routes %s\n", cp.bin, d.AuditLog, cp.bin, filepath.Join(d.PluginRoot, "demo", "compose.yaml"))
		}
	}
	fmt.Printf("\nGet a token (subjects: alice bob carol dave erin svc-ci):\n")
	fmt.Printf("  TOKEN=$(curl -s -X POST '%s/token?sub=alice' | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/')\n", d.IssuerURL)
	fmt.Printf("  curl -i -H \"Authorization: Bearer $TOKEN\" %s/orgs/acme/workflows\n\n", d.GatewayURL)
	// Ctrl-C or SIGTERM stops everything the demo started (PostgreSQL and gatehouse serve with
	// -postgres) before exiting.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	if *walk {
		go func() {
			<-sigs
			fmt.Fprintln(os.Stderr, "demo: interrupted")
			d.Close()
			os.Exit(130)
		}()
		if err := Walkthrough(os.Stdout, d); err != nil {
			fmt.Fprintln(os.Stderr, "walkthrough:", err)
			d.Close() // os.Exit skips the deferred Close: stop PostgreSQL and gatehouse serve first
			os.Exit(1)
		}
		return
	}
	fmt.Println("Serving; Ctrl-C to stop.")
	<-sigs
}

// labelSource names the compose files whose labels configure the gateway.
func labelSource(cfg Config) string {
	if cfg.Postgres {
		return "compose.yaml + compose.postgres.yaml"
	}
	return "compose.yaml"
}
