package gatehouse

import (
	"time"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// Engine is a middleware's compiled configuration: the very objects its ServeHTTP decides with,
// for tools that explain those decisions (gatehouse explain) without compiling the configuration a
// second way. Read-only: a tool must not change what it gets.
type Engine struct {
	Routes    *matcher.Table   // the route table
	Unmatched *matcher.Route   // what a request no route matches gets
	Tenant    *policy.Tenant   // where the request's org comes from
	Options   policy.Options   // the policy switches (trusted token permissions, issuer-qualified assignments)
	Sources   []tokens.Source  // where the token comes from
	Verifier  *tokens.Verifier // token verification, with the middleware's keys, checks and cache
	Shadow    bool             // mode: shadow

	g *Gatehouse
}

// Engine returns the middleware's compiled configuration.
func (g *Gatehouse) Engine() Engine {
	return Engine{Routes: g.routes, Unmatched: g.unmatched, Tenant: g.tenant, Options: g.trust, Sources: g.sources,
		Verifier: g.verifier, Shadow: g.shadow, g: g}
}

// Policy returns the policy in force at now that every subject shares (the control plane's bundle,
// fetched if due; the policy file's current parse; or the inline policy; nil when there is none,
// or before the first bundle arrived).
func (e Engine) Policy(now time.Time) *policy.Policy {
	return basePolicy(e.g, now)
}

// PolicyFor returns the policy that decides for id at now: Policy with, under assignmentsURL, the
// assignments the control plane holds for id's subject (fetched if not cached). nil: the control
// plane could not provide it, and the middleware answers 503.
func (e Engine) PolicyFor(id *tokens.Identity, now time.Time) *policy.Policy {
	if !e.g.controlPlane {
		return basePolicy(e.g, now)
	}
	return controlPlanePolicy(e.g, id, now)
}
