package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/demo/issuer"
	"github.com/gatehouse-dev/gatehouse/demo/loader"
	"github.com/gatehouse-dev/gatehouse/demo/workflows"
)

// IssuerName is the issuer's name inside the compose network; the labels trust it.
const IssuerName = "http://issuer:9000"

// The gateway's signed identity assertion, as demo/gatehouse.yaml and the compose labels configure
// it: the workflows API verifies it against the JWK Set the gateway publishes.
const (
	AssertionIssuer   = "http://traefik:8080"
	AssertionAudience = "workflows-api"
	AssertionJWKSPath = "/.well-known/gatehouse/jwks.json"
)

// assertionDefault says whether the demo runs with assertions: the gateway configuration signs
// them and the workflows API requires them. Flip it together with the assertion settings of
// demo/gatehouse.yaml and compose.yaml.
const assertionDefault = true

// Config says where the demo listens ("127.0.0.1:0" picks a free port), and whether the
// workflows API requires the gateway's signed assertion.
type Config struct {
	GatewayAddr, IssuerAddr, WorkflowsAddr string
	Assertion                              bool
	Traefik                                string // path of a Traefik binary to run as the gateway ("": the Yaegi stand-in)
	// Postgres runs the control plane (gatehouse serve over a throwaway PostgreSQL) and has the
	// gateway read its policy from it (compose.postgres.yaml's labels) instead of the file.
	Postgres bool
}

// Demo is a running no-Docker demo.
type Demo struct {
	GatewayURL, IssuerURL, WorkflowsURL string
	PluginRoot                          string
	Middlewares                         []string
	Issuer                              *issuer.Issuer
	Assertion                           bool          // the workflows API requires the gateway's assertion
	TraefikLog                          string        // with a real Traefik: its log (audit lines included)
	ControlPlane                        *controlPlane // with Config.Postgres: gatehouse serve and its PostgreSQL
	// AuditLog, with Config.Postgres, is a file holding the gateway's audit lines (with the rest
	// of its stderr): a copy of the interpreter's stderr, or Traefik's log. syncAudit returns once
	// the lines written so far are in it.
	AuditLog  string
	syncAudit func() error
	servers   []*http.Server
	listeners []net.Listener
	cleanup   []func()
	stop      context.CancelFunc
}

// Start starts the issuer, the workflows API and the gateway. The gateway's middleware chain is
// read from the workflows service's labels in compose.yaml and loaded through Yaegi; the names
// "issuer", "workflows" and "traefik" of the compose network resolve to the local listeners.
// With cfg.Postgres it also starts the control plane (as compose.postgres.yaml does, its name
// "gatehouse" resolving to it) and the labels are compose.postgres.yaml's.
func Start(cfg Config) (*Demo, error) {
	root := loader.RepoRoot()
	if err := os.Chdir(root); err != nil { // policyFile is relative, as for Traefik's working_dir /
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	d := &Demo{PluginRoot: root, Assertion: cfg.Assertion, stop: stop}
	if err := d.start(ctx, cfg, root); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Demo) start(ctx context.Context, cfg Config, root string) error {
	iss, err := issuer.New(IssuerName)
	if err != nil {
		return err
	}
	d.Issuer = iss
	// Listen first: the workflows API needs the gateway's address for its JWK Set, the gateway
	// the API's.
	issuerLn, err := d.listen(cfg.IssuerAddr)
	if err != nil {
		return err
	}
	workflowsLn, err := d.listen(cfg.WorkflowsAddr)
	if err != nil {
		return err
	}
	gatewayLn, err := d.listen(cfg.GatewayAddr)
	if err != nil {
		return err
	}
	hosts := map[string]string{"issuer:9000": issuerLn.Addr().String(), "workflows:9001": workflowsLn.Addr().String(), "traefik:8080": gatewayLn.Addr().String()}
	d.IssuerURL = "http://" + issuerLn.Addr().String()
	d.WorkflowsURL = "http://" + workflowsLn.Addr().String()
	d.GatewayURL = "http://" + gatewayLn.Addr().String()
	d.serve(issuerLn, iss.Handler())
	labels, err := ComposeLabels(filepath.Join(root, "demo", "compose.yaml"), "workflows")
	if err != nil {
		return err
	}
	if cfg.Postgres {
		if d.ControlPlane, err = d.startControlPlane(root); err != nil {
			return err
		}
		hosts[controlPlaneName] = strings.TrimPrefix(d.ControlPlane.URL, "http://")
		if labels, err = controlPlaneLabels(root, labels, d.ControlPlane.Settings); err != nil {
			return err
		}
	}
	resolveComposeNames(hosts)
	api := workflows.New()
	if cfg.Assertion {
		c := workflows.AssertionConfig{JWKSURL: d.GatewayURL + AssertionJWKSPath, Issuer: AssertionIssuer, Audience: AssertionAudience}
		if err := api.RequireAssertion(ctx, c); err != nil {
			return err
		}
	}
	if cfg.Traefik != "" {
		names, confs, err := routerMiddlewares(labels, "workflows")
		if err != nil {
			return err
		}
		d.Middlewares = names
		d.serve(workflowsLn, api.Handler())
		addr := gatewayLn.Addr().String()
		gatewayLn.Close() // Traefik binds it
		if err := d.startTraefik(cfg.Traefik, addr, root, names, confs); err != nil {
			return err
		}
		if cfg.Postgres {
			// Traefik writes the plugin's stderr into its log, one line per write.
			d.AuditLog, d.syncAudit = d.TraefikLog, func() error { return nil }
		}
		return nil
	}
	y, err := d.interpreter(cfg, root)
	if err != nil {
		return err
	}
	gateway, err := d.gateway(ctx, y, labels)
	if err != nil {
		return err
	}
	d.serve(workflowsLn, api.Handler())
	d.serve(gatewayLn, gateway)
	return nil
}

// interpreter returns the Yaegi loader of the gateway: the process's shared one, or with
// cfg.Postgres one of its own whose stderr is an auditTee (the terminal shows the same lines; the
// walkthrough ingests the copy). The shared interpreter's stderr is fixed when it is made (Yaegi
// hands the interpreted os.Stderr the *os.File of its options), so the copy needs its own.
func (d *Demo) interpreter(cfg Config, root string) (*loader.Yaegi, error) {
	if !cfg.Postgres {
		return loader.Shared()
	}
	tee, err := newAuditTee(filepath.Join(d.ControlPlane.dir, "gateway-stderr.log"), os.Stderr)
	if err != nil {
		return nil, err
	}
	d.cleanup = append(d.cleanup, func() { tee.Close() })
	d.AuditLog, d.syncAudit = tee.Path, tee.Sync
	return loader.NewYaegi(root, os.Stdout, tee.W)
}

// gateway builds the Traefik stand-in from the workflows service's labels: the router's
// middleware chain in front of a reverse proxy. The middlewares live until ctx ends (Close), which
// releases what they share process-wide (key sets, policy sources), as Traefik does on a reload.
func (d *Demo) gateway(ctx context.Context, y *loader.Yaegi, labels map[string]string) (http.Handler, error) {
	names, confs, err := routerMiddlewares(labels, "workflows")
	if err != nil {
		return nil, err
	}
	target, _ := url.Parse(d.WorkflowsURL)
	var h http.Handler = httputil.NewSingleHostReverseProxy(target)
	for i := len(names) - 1; i >= 0; i-- {
		h, err = y.New(ctx, h, confs[names[i]], names[i])
		if err != nil {
			return nil, fmt.Errorf("middleware %s: %w", names[i], err)
		}
	}
	d.Middlewares = names
	return h, nil
}

func (d *Demo) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	d.listeners = append(d.listeners, ln)
	return ln, nil
}

func (d *Demo) serve(ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	d.servers = append(d.servers, srv)
	go srv.Serve(ln)
}

// Close stops every server and listener, and the workflows API's JWK Set refresh.
func (d *Demo) Close() {
	for _, s := range d.servers {
		s.Close()
	}
	for _, ln := range d.listeners {
		ln.Close()
	}
	for i := len(d.cleanup) - 1; i >= 0; i-- {
		d.cleanup[i]()
	}
	if d.stop != nil {
		d.stop()
	}
}

// resolveComposeNames makes the process's default HTTP transport (which Gatehouse uses, compiled or
// interpreted) dial the local listeners for the compose service names.
func resolveComposeNames(hosts map[string]string) {
	t := http.DefaultTransport.(*http.Transport)
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if local, ok := hosts[addr]; ok {
			addr = local
		}
		return dialer.DialContext(ctx, network, addr)
	}
}
