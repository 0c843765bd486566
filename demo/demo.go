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
	"time"

	"github.com/gatehouse-dev/gatehouse/demo/issuer"
	"github.com/gatehouse-dev/gatehouse/demo/loader"
	"github.com/gatehouse-dev/gatehouse/demo/workflows"
)

// IssuerName is the issuer's name inside the compose network; the labels trust it.
const IssuerName = "http://issuer:9000"

// Config says where the demo listens ("127.0.0.1:0" picks a free port).
type Config struct {
	GatewayAddr, IssuerAddr, WorkflowsAddr string
}

// Demo is a running no-Docker demo.
type Demo struct {
	GatewayURL, IssuerURL, WorkflowsURL string
	PluginRoot                          string
	Middlewares                         []string
	Issuer                              *issuer.Issuer
	servers                             []*http.Server
}

// Start starts the issuer, the workflows API and the gateway. The gateway's middleware chain is
// read from the workflows service's labels in compose.yaml and loaded through Yaegi; the names
// "issuer" and "workflows" of the compose network resolve to the local listeners.
func Start(cfg Config) (*Demo, error) {
	root := loader.RepoRoot()
	if err := os.Chdir(root); err != nil { // policyFile is relative, as for Traefik's working_dir /
		return nil, err
	}
	d := &Demo{PluginRoot: root}
	iss, err := issuer.New(IssuerName)
	if err != nil {
		return nil, err
	}
	d.Issuer = iss
	issuerLn, err := d.serve(cfg.IssuerAddr, iss.Handler())
	if err != nil {
		return nil, err
	}
	workflowsLn, err := d.serve(cfg.WorkflowsAddr, workflows.New().Handler())
	if err != nil {
		return nil, err
	}
	resolveComposeNames(map[string]string{"issuer:9000": issuerLn, "workflows:9001": workflowsLn})
	d.IssuerURL, d.WorkflowsURL = "http://"+issuerLn, "http://"+workflowsLn
	gateway, err := d.gateway(filepath.Join(root, "demo", "compose.yaml"))
	if err != nil {
		d.Close()
		return nil, err
	}
	gatewayLn, err := d.serve(cfg.GatewayAddr, gateway)
	if err != nil {
		d.Close()
		return nil, err
	}
	d.GatewayURL = "http://" + gatewayLn
	return d, nil
}

// gateway builds the Traefik stand-in: the router's middleware chain in front of a reverse proxy.
func (d *Demo) gateway(compose string) (http.Handler, error) {
	labels, err := ComposeLabels(compose, "workflows")
	if err != nil {
		return nil, err
	}
	names, confs, err := routerMiddlewares(labels, "workflows")
	if err != nil {
		return nil, err
	}
	y, err := loader.Shared()
	if err != nil {
		return nil, err
	}
	target, _ := url.Parse(d.WorkflowsURL)
	var h http.Handler = httputil.NewSingleHostReverseProxy(target)
	for i := len(names) - 1; i >= 0; i-- {
		h, err = y.New(context.Background(), h, confs[names[i]], names[i])
		if err != nil {
			return nil, fmt.Errorf("middleware %s: %w", names[i], err)
		}
	}
	d.Middlewares = names
	return h, nil
}

func (d *Demo) serve(addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	d.servers = append(d.servers, srv)
	go srv.Serve(ln)
	return ln.Addr().String(), nil
}

// Close stops every server.
func (d *Demo) Close() {
	for _, s := range d.servers {
		s.Close()
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
