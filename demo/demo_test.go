package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/demo/loader"
)

// TestWalkthrough starts the no-Docker demo on free ports and runs the walkthrough against it,
// with the workflows API requiring the gateway's assertion when the demo is configured to sign.
func TestWalkthrough(t *testing.T) {
	d, err := Start(Config{GatewayAddr: "127.0.0.1:0", IssuerAddr: "127.0.0.1:0", WorkflowsAddr: "127.0.0.1:0", Assertion: assertionDefault})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var out bytes.Buffer
	err = Walkthrough(&out, d)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
}

// TestWalkthroughThroughRealTraefik runs the same walkthrough with a real Traefik binary as the
// gateway (go run . -traefik PATH), when GATEHOUSE_TRAEFIK names one: Traefik loads the plugin from
// this checkout with its own Yaegi. CI has no Traefik binary (no Docker, no download), so it skips
// there; run it with GATEHOUSE_TRAEFIK=/path/to/traefik go -C demo test -run RealTraefik .
func TestWalkthroughThroughRealTraefik(t *testing.T) {
	bin := os.Getenv("GATEHOUSE_TRAEFIK")
	if bin == "" {
		t.Skip("set GATEHOUSE_TRAEFIK to a Traefik binary to run the walkthrough through it")
	}
	d, err := Start(Config{GatewayAddr: "127.0.0.1:0", IssuerAddr: "127.0.0.1:0", WorkflowsAddr: "127.0.0.1:0", Assertion: assertionDefault, Traefik: bin})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var out bytes.Buffer
	err = Walkthrough(&out, d)
	t.Log("\n" + out.String())
	if err != nil {
		log, _ := os.ReadFile(d.TraefikLog)
		t.Fatalf("%v\nTraefik's log:\n%s", err, lastLines(string(log), 30))
	}
}

// TestComposeLabelsLoad parses compose.yaml, decodes the workflows service's Gatehouse labels the
// way Traefik does, and checks that New accepts them, compiled and through Yaegi: the compose
// stack and the no-Docker demo cannot drift apart.
func TestComposeLabelsLoad(t *testing.T) {
	t.Chdir(loader.RepoRoot()) // policyFile is relative to Traefik's working directory
	labels, err := ComposeLabels(filepath.Join("demo", "compose.yaml"), "workflows")
	if err != nil {
		t.Fatal(err)
	}
	names, confs, err := routerMiddlewares(labels, "workflows")
	if err != nil {
		t.Fatal(err)
	}
	y, err := loader.Shared()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []loader.Loader{loader.Compiled{}, y} {
		for _, name := range names {
			if _, err := l.New(context.Background(), http.NotFoundHandler(), confs[name], name); err != nil {
				t.Errorf("%s: %s: %v", l.Name(), name, err)
			}
		}
	}
	routes, _ := confs[names[0]]["routes"].(string)
	if strings.Count(routes, ",") < 6 {
		t.Errorf("the labels declare too few routes: %q", routes)
	}
}
