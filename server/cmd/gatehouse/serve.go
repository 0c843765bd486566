package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/admin"
	"github.com/gatehouse-dev/gatehouse/server/audit"
	"github.com/gatehouse-dev/gatehouse/server/forwardauth"
	"github.com/gatehouse-dev/gatehouse/server/internal/serving"
	"github.com/gatehouse-dev/gatehouse/server/store"
	"github.com/gatehouse-dev/gatehouse/server/ui"
)

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

const serveUsage = `usage: gatehouse serve --config FILE --database DSN [--listen ADDR] [--bundle-key FILE] [--admin-org ORG]
                       [--review-every DURATION] [--audit-retention AGE]
                       [--ui-issuer URL --ui-client-id ID --ui-redirect URL [--ui-issuer-url URL]]

Runs the control plane: the admin API, the bundle and per-subject endpoints gateways poll, and
/healthz, /readyz, /metrics (docs/control-plane.md). It migrates the database first.

  --config FILE       Gatehouse YAML with the token settings admins and gateways present
                      (issuers, jwksURL or keys or secret, audiences, claims; a gateway's
                      settings file will do)                              GATEHOUSE_CONFIG
  --database DSN      PostgreSQL URL or key=value DSN                     GATEHOUSE_DATABASE
  --listen ADDR       address to listen on (default 127.0.0.1:8081)       GATEHOUSE_LISTEN
  --bundle-key FILE   sign bundles with this PKCS#8 PEM key (Ed25519 or P-256)
                                                                          GATEHOUSE_BUNDLE_KEY
  --admin-org ORG     the admin org; must match the one bootstrap set (default gatehouse)
                                                                          GATEHOUSE_ADMIN_ORG
  --review-every D    run and keep an access review every D (24h; docs/review.md)
                                                                          GATEHOUSE_REVIEW_EVERY
  --audit-retention AGE  drop audit events older than AGE (90d), checked hourly
                                                                          GATEHOUSE_AUDIT_RETENTION
  --ui-issuer URL     serve the admin web UI at /ui/, signed in with OpenID Connect through
                      this issuer (one of --config's issuers; docs/ui.md) GATEHOUSE_UI_ISSUER
  --ui-client-id ID   the UI's client at the issuer (PKCE, no secret)    GATEHOUSE_UI_CLIENT_ID
  --ui-redirect URL   the UI's callback as browsers reach it, ending in /ui/callback
                      (https, or http to a loopback host)                 GATEHOUSE_UI_REDIRECT
  --ui-issuer-url URL where this server reaches the issuer, if not at its name
                                                                          GATEHOUSE_UI_ISSUER_URL
POST /v1/audit takes audit lines from gateways and log shippers (gatehouse:audit:write).
A flag wins over its environment variable.
`

// envFlags fills, for each flag not given on the command line, the value of its variable.
func envFlags(fs *flag.FlagSet, getenv func(string) string, vars map[string]string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, v := range vars {
		if !given[name] {
			if val := getenv(v); val != "" {
				if err := fs.Set(name, val); err != nil {
					return fmt.Errorf("%s: %v", v, err)
				}
			}
		}
	}
	return nil
}

func serveCommand(ctx context.Context, args []string, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stop()
	return serve(ctx, args, stderr, os.Getenv, nil)
}

// serve is the serve command without signal handling; listening is called with the bound address.
func serve(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string, listening func(net.Addr)) int {
	fs := flag.NewFlagSet("gatehouse serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	config := fs.String("config", "", "")
	database := fs.String("database", "", "")
	listen := fs.String("listen", "127.0.0.1:8081", "")
	bundleKey := fs.String("bundle-key", "", "")
	adminOrg := fs.String("admin-org", "", "")
	reviewEvery := fs.Duration("review-every", 0, "")
	retention := fs.String("audit-retention", "", "")
	uiIssuer := fs.String("ui-issuer", "", "")
	uiClient := fs.String("ui-client-id", "", "")
	uiRedirect := fs.String("ui-redirect", "", "")
	uiIssuerURL := fs.String("ui-issuer-url", "", "")
	err := fs.Parse(args)
	if err == nil {
		err = envFlags(fs, getenv, map[string]string{"config": "GATEHOUSE_CONFIG", "database": "GATEHOUSE_DATABASE",
			"listen": "GATEHOUSE_LISTEN", "bundle-key": "GATEHOUSE_BUNDLE_KEY", "admin-org": "GATEHOUSE_ADMIN_ORG",
			"review-every": "GATEHOUSE_REVIEW_EVERY", "audit-retention": "GATEHOUSE_AUDIT_RETENTION",
			"ui-issuer": "GATEHOUSE_UI_ISSUER", "ui-client-id": "GATEHOUSE_UI_CLIENT_ID", "ui-redirect": "GATEHOUSE_UI_REDIRECT", "ui-issuer-url": "GATEHOUSE_UI_ISSUER_URL"})
	}
	var keep time.Duration
	if err == nil && *retention != "" {
		if keep, err = parseAge(*retention); err != nil {
			err = errors.New("--audit-retention " + err.Error())
		}
	}
	if err == nil && (*uiIssuer != "" || *uiClient != "" || *uiRedirect != "" || *uiIssuerURL != "") && (*uiIssuer == "" || *uiClient == "" || *uiRedirect == "") {
		err = errors.New("the web UI needs --ui-issuer, --ui-client-id and --ui-redirect together")
	}
	if err == nil && *reviewEvery < 0 {
		err = errors.New("--review-every must be positive")
	}
	if err != nil || *config == "" || *database == "" || fs.NArg() > 0 {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, serveUsage)
			return 0
		}
		switch {
		case err != nil:
			fmt.Fprintln(stderr, "gatehouse serve:", err)
		case *config == "":
			fmt.Fprintln(stderr, "gatehouse serve: --config (or GATEHOUSE_CONFIG) is required")
		case *database == "":
			fmt.Fprintln(stderr, "gatehouse serve: --database (or GATEHOUSE_DATABASE) is required")
		default:
			fmt.Fprintln(stderr, "gatehouse serve: unexpected argument", strconv.Quote(fs.Arg(0)))
		}
		fmt.Fprint(stderr, serveUsage)
		return 2
	}
	cfg, err := forwardauth.LoadConfig(*config)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse serve:", *config+":", err)
		return 1
	}
	var key *admin.SigningKey
	if *bundleKey != "" {
		if key, err = admin.LoadSigningKey(*bundleKey); err != nil {
			fmt.Fprintln(stderr, "gatehouse serve: --bundle-key", *bundleKey+":", err)
			return 1
		}
	}
	st, err := store.Open(ctx, *database)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse serve: database:", err)
		return 1
	}
	defer st.Close()
	current, err := st.AdminOrg(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse serve: database:", err)
		return 1
	}
	switch {
	case current != "" && *adminOrg != "" && current != *adminOrg:
		fmt.Fprintf(stderr, "gatehouse serve: --admin-org %q, but the database was bootstrapped with admin org %q\n", *adminOrg, current)
		return 1
	case current == "":
		fmt.Fprintln(stderr, `{"gatehouse":"serve","warning":"no admin yet: run gatehouse bootstrap --database DSN --subject SUBJECT; until then every admin request is refused"}`)
	}
	auditHandler, stopAudit, err := serveAudit(ctx, st, *database, *reviewEvery, keep, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse serve: database:", err)
		return 1
	}
	defer stopAudit()
	decisions, err := audit.Open(ctx, *database) // the decision table and the latest review (server/ui's admin routes)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse serve: database:", err)
		return 1
	}
	defer decisions.Close()
	s, err := admin.New(ctx, admin.Options{Store: st, Config: cfg, AdminOrg: *adminOrg, BundleKey: key, Log: stderr, Audit: auditHandler, Routes: ui.Routes(decisions)})
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse serve:", err)
		return 1
	}
	defer s.Close()
	var handler http.Handler = s
	if *uiIssuer != "" {
		if !contains(cfg.Issuers, *uiIssuer) {
			fmt.Fprintf(stderr, "gatehouse serve: --ui-issuer %q is not one of --config's issuers (the admin API would refuse its tokens)\n", *uiIssuer)
			return 1
		}
		web, err := ui.New(ui.Options{API: s, Issuer: *uiIssuer, IssuerURL: *uiIssuerURL, ClientID: *uiClient, RedirectURL: *uiRedirect, Config: cfg, Log: stderr})
		if err != nil {
			fmt.Fprintln(stderr, "gatehouse serve:", err)
			return 1
		}
		defer web.Close()
		mux := http.NewServeMux()
		mux.Handle(ui.Prefix, web)
		mux.Handle("/", s)
		handler = mux
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse serve:", err)
		return 1
	}
	signed := "false"
	if key != nil {
		signed = strconv.Quote(key.Algorithm() + " " + key.KeyID())
	}
	return serving.Run(ctx, ln, serving.Options{Name: "serve", Handler: handler, Timeout: 60 * time.Second,
		StartFields: `,"signing":` + signed, SetReady: s.SetReady, Listening: listening}, stderr)
}
