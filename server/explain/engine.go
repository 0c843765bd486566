// Package explain answers "why was this request allowed or denied?" for a Gatehouse configuration.
//
// The result and the headers the backend receives come from running the request through the
// middleware itself (gatehouse.New, with a next handler that captures the request), so they cannot
// disagree with the plugin. The step-by-step account beside them comes from the engine packages the
// plugin runs: matcher (which route matched, which others matched and why they lost), tokens (the
// token checks), policy (the tenant guard and every grant source, policy.Explain). An Explainer is
// safe for concurrent use.
package explain

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/server/forwardauth"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// Explainer explains requests against one configuration.
type Explainer struct {
	mu        sync.Mutex // one request through the middleware at a time (the capture)
	handler   http.Handler
	captured  *http.Request
	cancel    context.CancelFunc
	routes    *matcher.Table
	unmatched *matcher.Route
	tenant    *policy.Tenant
	policy    *policy.Policy
	file      *policy.File
	trust     policy.Options
	shadow    bool
	sources   []tokens.Source
	verifier  *tokens.Verifier
	sets      []*tokens.RemoteSet
}

// New compiles cfg twice: once with gatehouse.New, whose refusal it returns as is, and once into
// the engine pieces the explanation walks. cfg is not modified.
func New(cfg *gatehouse.Config, name string) (*Explainer, error) {
	e := &Explainer{}
	ctx, cancel := context.WithCancel(context.Background())
	next := http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) { e.captured = req })
	h, err := gatehouse.New(ctx, next, cfg, name)
	if err != nil {
		cancel()
		return nil, err
	}
	e.handler = h
	e.cancel = cancel
	c := effective(cfg)
	if err := e.build(c); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Close releases the middleware's and the explanation's shared key sets and policy file.
func (e *Explainer) Close() {
	e.cancel()
	for _, s := range e.sets {
		s.Release()
	}
	if e.file != nil {
		e.file.Release()
	}
}

// build compiles the pieces of c the explanation needs. gatehouse.New accepted c already, so the
// errors here can only be of reading a file that changed in between.
func (e *Explainer) build(c *gatehouse.Config) error {
	e.routes, _ = matcher.Compile(c.Routes)
	unmatched := strings.ToLower(strings.TrimSpace(c.Unmatched))
	if unmatched == "" {
		unmatched = matcher.Deny
		if len(c.Routes) == 0 {
			unmatched = matcher.Authenticated
		}
	}
	e.unmatched = &matcher.Route{Index: -1, Text: "(no route)", Requirement: unmatched}
	t, err := policy.ParseTenant(c.Tenant)
	if err != nil {
		return err
	}
	e.tenant = t
	e.shadow = strings.EqualFold(strings.TrimSpace(c.Mode), "shadow")
	e.trust.TrustTokenPermissions = strings.EqualFold(strings.TrimSpace(c.TrustTokenPermissions), "true")
	switch {
	case c.Policy != "":
		if e.policy, err = policy.Parse([]byte(c.Policy)); err != nil {
			return err
		}
	case c.PolicyFile != "":
		if e.file, err = policy.SharedFile(c.PolicyFile, 2*time.Second); err != nil {
			return err
		}
	}
	return e.buildTokens(c)
}

// buildTokens sets up token extraction and verification as the middleware does.
func (e *Explainer) buildTokens(c *gatehouse.Config) error {
	opts := tokens.Options{Issuers: trimAll(c.Issuers), Audiences: trimAll(c.Audiences), RequireTyp: strings.TrimSpace(c.RequireTyp), Leeway: 30 * time.Second}
	if d, err := time.ParseDuration(strings.TrimSpace(c.Leeway)); err == nil {
		opts.Leeway = d
	}
	opts.Claims = tokens.ClaimNames{Subject: c.Claims.Subject, Org: c.Claims.Org, Roles: c.Claims.Roles, Permissions: c.Claims.Permissions, OrgRoles: c.Claims.OrgRoles, Assignments: c.Claims.Assignments}
	e.trust.IssuerQualified = len(opts.Issuers) > 1
	for _, entry := range c.Keys {
		keys, err := tokens.ParsePEMKeys(entry)
		if err != nil {
			return err
		}
		opts.Static = append(opts.Static, keys...)
	}
	secret := []byte(c.Secret)
	if c.SecretFile != "" {
		b, err := tokens.ReadSecretFile(c.SecretFile)
		if err != nil {
			return err
		}
		secret = b
	}
	if len(secret) > 0 {
		k, err := tokens.SecretKey(secret)
		if err != nil {
			return err
		}
		opts.Static = append(opts.Static, k)
	}
	remote := false
	if u := strings.TrimSpace(c.JWKSURL); u != "" {
		s := tokens.SharedJWKS(u, tokens.DefaultRemoteSettings)
		e.sets = append(e.sets, s)
		opts.Remote = []*tokens.RemoteSet{s}
		remote = true
	} else if len(opts.Static) == 0 {
		opts.RemoteByIssuer = map[string]*tokens.RemoteSet{}
		for _, iss := range opts.Issuers {
			s := tokens.SharedDiscovery(iss, tokens.DefaultRemoteSettings)
			e.sets = append(e.sets, s)
			opts.RemoteByIssuer[iss] = s
		}
		remote = true
	}
	opts.Algorithms = trimAll(c.Algorithms)
	if len(opts.Algorithms) == 0 {
		opts.Algorithms = tokens.DefaultAlgorithmsFor(opts.Static, remote)
	}
	e.sources = []tokens.Source{{Kind: "header", Name: "Authorization"}}
	if list := trimAll(c.TokenSources); len(list) > 0 {
		e.sources = nil
		for _, s := range list {
			src, err := tokens.ParseSource(s)
			if err != nil {
				return err
			}
			e.sources = append(e.sources, src)
		}
	}
	e.verifier = tokens.NewVerifier(opts)
	return nil
}

func trimAll(list []string) []string {
	var out []string
	for _, s := range list {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// effective returns cfg with its settingsFile applied the way the middleware applies it: every
// option cfg leaves unset (empty) takes the file's value. A file that cannot be read leaves cfg
// as it is (gatehouse.New has refused such a configuration already).
func effective(cfg *gatehouse.Config) *gatehouse.Config {
	c := *cfg
	if c.SettingsFile == "" {
		return &c
	}
	s, err := forwardauth.LoadConfig(c.SettingsFile)
	if err != nil {
		return &c
	}
	fillUnset(reflect.ValueOf(&c).Elem(), reflect.ValueOf(s).Elem())
	return &c
}

func fillUnset(dst, src reflect.Value) {
	for i := 0; i < dst.NumField(); i++ {
		f := dst.Field(i)
		switch {
		case f.Kind() == reflect.Struct:
			fillUnset(f, src.Field(i))
		case f.Kind() == reflect.Map:
		case f.IsZero():
			f.Set(src.Field(i))
		}
	}
}
