package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The control plane of go run . -postgres: the steps of compose.postgres.yaml (and of
// demo/controlplane-setup.sh, its one-shot setup) without Docker. The demo module cannot import
// the server module (the server module requires this one), so it builds the gatehouse command
// and runs it, as a person would.

// ControlPlaneAdmin is the demo's first platform admin (gatehouse bootstrap); the admin org is
// her token's org.
const (
	ControlPlaneAdmin    = "alice"
	ControlPlaneAdminOrg = "acme"
	// GatewaySubject is the service account whose token the gateway presents to the control
	// plane (policyCredential); it holds the role gatehouse-gateway (gatehouse:bundle:read).
	GatewaySubject = "svc-gateway"
	// controlPlaneName is the control plane's address in the compose network.
	controlPlaneName = "gatehouse:8081"
	// UIClient is the admin web UI's OpenID Connect client at the demo issuer.
	UIClient = "gatehouse-ui"
)

// controlPlane is gatehouse serve over a throwaway PostgreSQL.
type controlPlane struct {
	dir      string // temporary: the binary, PostgreSQL's data, the logs
	bin      string // the gatehouse command
	pg       *postgres
	URL      string // the admin API, e.g. http://127.0.0.1:41234
	UI       string // the admin web UI (URL + /ui/): sign in at the demo issuer's login page
	Log      string // gatehouse serve's log
	Settings string // the gateway's settings file (demo/gatehouse-controlplane.yaml plus its credential)
	token    string // alice's token, for the CLI
	serve    *exec.Cmd
	done     chan struct{}
}

// startControlPlane builds gatehouse, starts PostgreSQL and gatehouse serve, makes alice the
// platform admin, imports demo/policy.yaml through the CLI, gives the gateway its credential and
// writes the gateway's settings file. The issuer must be serving already.
func (d *Demo) startControlPlane(root string) (*controlPlane, error) {
	dir, err := os.MkdirTemp("", "gatehouse-demo-controlplane-")
	if err != nil {
		return nil, err
	}
	cp := &controlPlane{dir: dir, bin: filepath.Join(dir, "gatehouse"), Log: filepath.Join(dir, "gatehouse-serve.log")}
	d.cleanup = append(d.cleanup, func() { cp.stop(); os.RemoveAll(dir) })
	build := exec.Command("go", "build", "-o", cp.bin, "./cmd/gatehouse")
	build.Dir = filepath.Join(root, "server")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/gatehouse in server/: %v\n%s", err, out)
	}
	if cp.pg, err = startPostgres(dir); err != nil {
		return nil, err
	}
	// The control plane verifies tokens like the gateway; outside Docker it finds the issuer's
	// keys at its local address (the issuer's name resolves only inside this process).
	conf, err := os.ReadFile(filepath.Join(root, "demo", "controlplane.yaml"))
	if err != nil {
		return nil, err
	}
	conf = append(conf, []byte("jwksURL: "+d.IssuerURL+"/jwks\n")...)
	confPath := filepath.Join(dir, "controlplane.yaml")
	if err := os.WriteFile(confPath, conf, 0o644); err != nil {
		return nil, err
	}
	db := "--database=" + cp.pg.DSN()
	if out, err := cp.run(nil, "bootstrap", db, "--subject", ControlPlaneAdmin, "--issuer", IssuerName, "--admin-org", ControlPlaneAdminOrg); err != nil {
		return nil, fmt.Errorf("gatehouse bootstrap: %v\n%s", err, out)
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// The web UI signs in at the issuer: the browser reaches its login page at its local address,
	// and gatehouse serve its token endpoint (--ui-issuer-url), while tokens name IssuerName.
	redirect := "http://" + addr + "/ui/callback"
	d.Issuer.AllowClient(UIClient, redirect)
	d.Issuer.SetPublicURL(d.IssuerURL)
	if err := cp.startServe(db, "--config="+confPath, "--listen="+addr, "--admin-org="+ControlPlaneAdminOrg,
		"--bundle-key="+filepath.Join(root, "demo", "bundle-demo-key.pem"),
		"--ui-issuer="+IssuerName, "--ui-issuer-url="+d.IssuerURL, "--ui-client-id="+UIClient, "--ui-redirect="+redirect); err != nil {
		return nil, err
	}
	cp.URL = "http://" + addr
	cp.UI = cp.URL + "/ui/"
	if cp.token, err = d.Issuer.Token(ControlPlaneAdmin, "", 12*time.Hour); err != nil {
		return nil, err
	}
	if out, err := cp.CLI("import", filepath.Join("demo", "policy.yaml")); err != nil {
		return nil, fmt.Errorf("gatehouse import demo/policy.yaml: %v\n%s", err, out)
	}
	if out, err := cp.CLI("assignments", "add", "--org", ControlPlaneAdminOrg, "--subject", GatewaySubject, "--issuer", IssuerName, "--role", "gatehouse-gateway"); err != nil {
		return nil, fmt.Errorf("gatehouse assignments add (the gateway's role): %v\n%s", err, out)
	}
	credential, err := d.Issuer.Token(GatewaySubject, "", 24*time.Hour)
	if err != nil {
		return nil, err
	}
	settings, err := os.ReadFile(filepath.Join(root, "demo", "gatehouse-controlplane.yaml"))
	if err != nil {
		return nil, err
	}
	settings = append(settings, []byte("policyCredential: "+credential+"\n")...)
	cp.Settings = filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cp.Settings, settings, 0o600); err != nil {
		return nil, err
	}
	return cp, nil
}

// startServe runs gatehouse serve and waits until /readyz answers 200.
func (cp *controlPlane) startServe(args ...string) error {
	logFile, err := os.Create(cp.Log)
	if err != nil {
		return err
	}
	cmd := exec.Command(cp.bin, append([]string{"serve"}, args...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	cp.serve, cp.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); logFile.Close(); close(cp.done) }()
	addr := ""
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--listen="); ok {
			addr = v
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-cp.done:
			return fmt.Errorf("gatehouse serve exited:\n%s", cp.logTail())
		default:
		}
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("gatehouse serve was not ready within 30s:\n%s", cp.logTail())
}

// CLI runs a gatehouse command against the control plane as alice and returns its output.
func (cp *controlPlane) CLI(args ...string) (string, error) {
	return cp.run([]string{"GATEHOUSE_SERVER=" + cp.URL, "GATEHOUSE_TOKEN=" + cp.token}, args...)
}

func (cp *controlPlane) run(env []string, args ...string) (string, error) {
	cmd := exec.Command(cp.bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimRight(out.String(), "\n"), err
}

// stop ends gatehouse serve (SIGTERM: its graceful shutdown) and PostgreSQL.
func (cp *controlPlane) stop() {
	if cp.serve != nil && cp.serve.Process != nil {
		cp.serve.Process.Signal(os.Interrupt)
		select {
		case <-cp.done:
		case <-time.After(15 * time.Second):
			cp.serve.Process.Kill()
			<-cp.done
		}
		cp.serve = nil
	}
	if cp.pg != nil {
		cp.pg.stop()
		cp.pg = nil
	}
}

func (cp *controlPlane) logTail() string {
	b, _ := os.ReadFile(cp.Log)
	return lastLines(string(b), 20)
}

// freeAddr returns a loopback address with a port nothing listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
