package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

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

// needPostgres skips without the PostgreSQL binaries, except under CI (CI set, as for
// server/internal/pgtest), where the walkthrough's control-plane step must run.
func needPostgres(t *testing.T) {
	t.Helper()
	if _, err := postgresBinaries(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// TestWalkthroughWithTheControlPlane runs go run . -postgres -walkthrough: gatehouse built from
// server/, a throwaway PostgreSQL, gatehouse serve, alice bootstrapped, demo/policy.yaml imported
// with the CLI, and the gateway reading its policy from the control plane. Every step of the
// file-based walkthrough must answer the same, and the revocation step must pass: svc-ci's
// assignment removed with the CLI, the same token denied within policyReload.
func TestWalkthroughWithTheControlPlane(t *testing.T) {
	needPostgres(t)
	d, err := Start(Config{GatewayAddr: "127.0.0.1:0", IssuerAddr: "127.0.0.1:0", WorkflowsAddr: "127.0.0.1:0", Assertion: assertionDefault, Postgres: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var out bytes.Buffer
	err = Walkthrough(&out, d)
	t.Log("\n" + out.String())
	if err != nil {
		log, _ := os.ReadFile(d.ControlPlane.Log)
		t.Fatalf("%v\ngatehouse serve's log:\n%s", err, lastLines(string(log), 30))
	}
	for _, want := range []string{"--- control plane", "$ gatehouse assignments remove --org acme --subject svc-ci --role developer", "ok  403 (want 403)  the same svc-ci token, sent ",
		"--- audit and access review: the gateway's stderr (its audit lines), copied to " + d.AuditLog,
		"    $ gatehouse audit ingest " + d.AuditLog + "\n",
		"ok  the walkthrough's decisions are stored",
		"    $ gatehouse audit ingest - < " + d.AuditLog + "\n",
		"ok  the same lines again: nothing is stored twice",
		"    $ gatehouse review --routes demo/compose.yaml\n",
		"ok  the review reads each stored event once",
		"ok  the review flags dave's denied create",
		"ok  the review flags erin's cross-tenant attempt",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the walkthrough does not show %q", want)
		}
	}
	// The ingests' counts (the second stores none of the first's events) and the review's rows.
	for _, want := range []string{
		`\n    (\d+) lines read: (\d+) stored, 0 already stored, \d+ skipped[^\n]*\n(?:.*\n)*?    (\d+) lines read: 0 stored, (\d+) already stored, `,
		`\n    Access review of \S+: \d+ audit events since \S+\n`,
		`\n    high +new +cross-tenant +erin \(http://issuer:9000\) \(a token of org globex\) tried another org's workflows:read once\n`,
		`\n    low +new +denied-permission +dave \(http://issuer:9000\) was denied workflows:create in org acme once\n`,
	} {
		m := regexp.MustCompile(want).FindStringSubmatch(out.String())
		if m == nil {
			t.Errorf("the walkthrough does not show %s", want)
		} else if len(m) == 5 && (m[1] != m[3] || m[2] != m[4] || m[2] == "0") {
			t.Errorf("the second ingest read %s lines and found %s stored; the first read %s and stored %s", m[3], m[4], m[1], m[2])
		}
	}
	setupScriptAgain(t, d)
}

// setupScriptAgain runs compose.postgres.yaml's one-shot setup (demo/controlplane-setup.sh) once
// more, against the demo's control plane: it must succeed on a set-up database (bootstrap again,
// the gateway's role found), its import restores svc-ci's assignment the walkthrough removed (the
// gateway allows svc-ci again), and the settings file it writes loads in New.
func setupScriptAgain(t *testing.T, d *Demo) {
	for _, tool := range []string{"sh", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("not running demo/controlplane-setup.sh: no %s", tool)
			return
		}
	}
	root := loader.RepoRoot()
	cp := d.ControlPlane
	settings := filepath.Join(t.TempDir(), "gatehouse.yaml")
	cmd := exec.Command("sh", filepath.Join(root, "demo", "controlplane-setup.sh"))
	cmd.Env = append(os.Environ(), "GATEHOUSE="+cp.bin, "GATEHOUSE_DATABASE="+cp.pg.DSN(), "GATEHOUSE_SERVER="+cp.URL,
		"DEMO_ISSUER="+d.IssuerURL, "GATEWAY_SETTINGS="+settings)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("controlplane-setup.sh: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "demo/policy.yaml imported") {
		t.Errorf("controlplane-setup.sh says:\n%s", out)
	}
	c := &client{d: d, http: &http.Client{Timeout: 10 * time.Second}, tokens: map[string]string{}}
	var got int
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, _, _, err = c.call(step{sub: "svc-ci", method: "GET", path: "/orgs/acme/workflows"}); err != nil {
			t.Fatal(err)
		}
		if got == http.StatusOK {
			break
		}
	}
	if got != http.StatusOK {
		t.Errorf("svc-ci after the script's import: %d; want 200 (the assignment restored)", got)
	}
	raw, err := os.ReadFile(settings)
	if err != nil || !strings.Contains(string(raw), "\npolicyCredential: ey") {
		t.Fatalf("the settings file: %v\n%s", err, raw)
	}
	labels, err := ComposeLabels(filepath.Join(root, "demo", "compose.yaml"), "workflows")
	if err != nil {
		t.Fatal(err)
	}
	if labels, err = controlPlaneLabels(root, labels, settings); err != nil {
		t.Fatal(err)
	}
	names, confs, err := routerMiddlewares(labels, "workflows")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := (loader.Compiled{}).New(ctx, http.NotFoundHandler(), confs[names[0]], names[0]); err != nil {
		t.Errorf("New refuses the settings controlplane-setup.sh wrote: %v", err)
	}
}

// TestThrowawayPostgresStartsAcceptsAndStops checks the demo's own PostgreSQL: it runs (as the
// postgres user when the test runs as root), holds the gatehouse database, and is gone after stop
// (nothing left listening).
func TestThrowawayPostgresStartsAcceptsAndStops(t *testing.T) {
	needPostgres(t)
	pg, err := startPostgres(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out, err := pg.run("psql", "-h", pg.dir, "-p", strconv.Itoa(pg.port), "-U", "postgres", "-d", "gatehouse", "-Atc", "select current_database(), current_user")
	if err != nil || out != "gatehouse|postgres" {
		pg.stop()
		t.Fatalf("psql: %q, %v", out, err)
	}
	pg.stop()
	if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", pg.port), time.Second); err == nil {
		c.Close()
		t.Fatal("PostgreSQL still accepts connections after stop")
	}
}

// TestComposePostgresOverrideHangsTogether checks compose.postgres.yaml against the files it
// names and the labels the no-Docker demo reads: the control plane's files exist, the Dockerfile
// it builds exists, the gateway settings it points the labels at are the ones controlplane-setup
// writes, and those settings read the policy from the control plane (not the file).
func TestComposePostgresOverrideHangsTogether(t *testing.T) {
	root := loader.RepoRoot()
	raw, err := os.ReadFile(filepath.Join(root, "demo", "compose.postgres.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Image   string   `yaml:"image"`
			Volumes []string `yaml:"volumes"`
			Build   struct {
				Context    string `yaml:"context"`
				Dockerfile string `yaml:"dockerfile"`
			} `yaml:"build"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if img := doc.Services["postgres"].Image; img != "postgres:17" {
		t.Errorf("postgres image %q; want the official postgres:17", img)
	}
	gh := doc.Services["gatehouse"]
	if _, err := os.Stat(filepath.Join(root, "demo", gh.Build.Context, gh.Build.Dockerfile)); err != nil {
		t.Errorf("the gatehouse service's Dockerfile: %v", err)
	}
	for name, svc := range doc.Services {
		for _, v := range svc.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(root, "demo", src)); err != nil {
					t.Errorf("service %s mounts %s: %v", name, src, err)
				}
			}
		}
	}
	if got := doc.Services["controlplane-setup"].Environment["GATEWAY_SETTINGS"]; got != controlPlaneSettings {
		t.Errorf("controlplane-setup writes %q; the labels read %q", got, controlPlaneSettings)
	}
	labels, err := ComposeLabels(filepath.Join(root, "demo", "compose.yaml"), "workflows")
	if err != nil {
		t.Fatal(err)
	}
	merged, err := controlPlaneLabels(root, labels, "/tmp/settings.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := merged["traefik.http.middlewares.workflows-gatehouse.plugin.gatehouse.settingsFile"]; got != "/tmp/settings.yaml" {
		t.Errorf("settingsFile %q after the override", got)
	}
	if merged["traefik.http.middlewares.workflows-gatehouse.plugin.gatehouse.routes"] != labels["traefik.http.middlewares.workflows-gatehouse.plugin.gatehouse.routes"] {
		t.Error("the override changed the routes")
	}
	settings, err := os.ReadFile(filepath.Join(root, "demo", "gatehouse-controlplane.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]interface{}
	if err := yaml.Unmarshal(settings, &s); err != nil {
		t.Fatal(err)
	}
	if s["policyFile"] != nil || s["policyURL"] != "http://"+controlPlaneName+"/v1/bundle" || s["policyKey"] == nil {
		t.Errorf("gatehouse-controlplane.yaml: policyFile %v, policyURL %v, policyKey set %v; want no file, the control plane's bundle, a key", s["policyFile"], s["policyURL"], s["policyKey"] != nil)
	}
}

// TestComposePostgresLabelsLoad decodes the labels as compose.postgres.yaml leaves them, with the
// settings file controlplane-setup writes (gatehouse-controlplane.yaml plus a credential), and
// checks that New accepts them, compiled and through Yaegi.
func TestComposePostgresLabelsLoad(t *testing.T) {
	root := loader.RepoRoot()
	t.Chdir(root) // the settings' assertion key is relative to Traefik's working directory
	settings, err := os.ReadFile(filepath.Join("demo", "gatehouse-controlplane.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(path, append(settings, "policyCredential: eyJhbGciOiJFUzI1NiJ9.e30.c2ln\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	labels, err := ComposeLabels(filepath.Join("demo", "compose.yaml"), "workflows")
	if err != nil {
		t.Fatal(err)
	}
	if labels, err = controlPlaneLabels(root, labels, path); err != nil {
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, l := range []loader.Loader{loader.Compiled{}, y} {
		for _, name := range names {
			if _, err := l.New(ctx, http.NotFoundHandler(), confs[name], name); err != nil {
				t.Errorf("%s: %s: %v", l.Name(), name, err)
			}
		}
	}
}
