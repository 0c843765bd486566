package explain

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// Report is the explanation of one request, printed by WriteText or encoded as JSON.
type Report struct {
	Method   string        `json:"method"`
	URL      string        `json:"url"`
	Path     string        `json:"path,omitempty"` // why the path or method was refused ("" when it was not)
	Route    *RouteStep    `json:"route,omitempty"`
	Token    *TokenStep    `json:"token,omitempty"`
	Decision *DecisionStep `json:"decision,omitempty"`
	Expected int           `json:"expected"` // the status the steps lead to (0: forwarded to the backend)
	Result   Result        `json:"result"`
	Agrees   bool          `json:"agrees"` // the middleware's result is the one the steps lead to
}

// RouteStep is the route that matched and the other routes that match the path too.
type RouteStep struct {
	Matched     string      `json:"matched"`
	Requirement string      `json:"requirement"`
	Unmatched   bool        `json:"unmatched,omitempty"` // no route matched: the unmatched setting applies
	Others      []Candidate `json:"others,omitempty"`
}

// Candidate is a route that matches the path too but is less specific than the one that won.
type Candidate struct {
	Route string `json:"route"`
	Lost  string `json:"lost"` // why the matched route beats it
}

// TokenStep is the token checks, in the order the verifier runs them.
type TokenStep struct {
	Checks  []Check `json:"checks"`
	Subject string  `json:"subject,omitempty"`
	Issuer  string  `json:"issuer,omitempty"`
	Org     string  `json:"org,omitempty"`
}

// Check is one token check: "passed", "failed" or "not reached".
type Check struct {
	Name   string `json:"name"`
	Result string `json:"result"`
	Detail string `json:"detail,omitempty"`
}

// DecisionStep is the tenant guard and every grant source (policy.Explain).
type DecisionStep struct {
	Tenant      string          `json:"tenant"` // the tenant mode
	Guard       string          `json:"guard"`
	Org         string          `json:"org,omitempty"`
	Permission  string          `json:"permission"`
	Sources     []policy.Source `json:"sources,omitempty"`
	Roles       []string        `json:"roles,omitempty"`
	Permissions []string        `json:"permissions,omitempty"`
	Allow       bool            `json:"allow"`
	Reason      string          `json:"reason"`
	Shadow      bool            `json:"shadow,omitempty"` // mode: shadow forwards a denied request anyway
}

// Result is what the middleware did with the request.
type Result struct {
	Forwarded bool     `json:"forwarded"`        // the backend received the request
	Status    int      `json:"status,omitempty"` // the middleware's own answer when not forwarded
	Backend   []Header `json:"backend,omitempty"`
	Response  []Header `json:"response,omitempty"` // the denial's headers (WWW-Authenticate, ...)
	Body      string   `json:"body,omitempty"`     // the denial's body
}

// Header is one header line.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Explain runs req through the middleware and explains the decision. req is not modified.
func (e *Explainer) Explain(req *http.Request) *Report {
	r := &Report{Method: req.Method, URL: req.URL.String(), Result: e.run(req)}
	r.Expected = e.steps(r, req.Clone(req.Context()))
	r.Agrees = (r.Expected == 0 && r.Result.Forwarded) || (!r.Result.Forwarded && r.Expected == r.Result.Status)
	return r
}

// run sends a copy of req through the middleware and records what it did.
func (e *Explainer) run(req *http.Request) Result {
	rec := httptest.NewRecorder()
	e.mu.Lock()
	e.captured = nil
	e.handler.ServeHTTP(rec, req.Clone(req.Context()))
	got := e.captured
	e.captured = nil
	e.mu.Unlock()
	if got != nil {
		return Result{Forwarded: true, Backend: headers(got.Header)}
	}
	return Result{Status: rec.Code, Response: headers(rec.Header()), Body: rec.Body.String()}
}

func headers(h http.Header) []Header {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Header
	for _, n := range names {
		for _, v := range h[n] {
			out = append(out, Header{Name: n, Value: v})
		}
	}
	return out
}

// steps fills the step-by-step account and returns the status it leads to (0: forwarded).
func (e *Explainer) steps(r *Report, req *http.Request) int {
	path := req.URL.EscapedPath()
	if strings.ToUpper(req.Method) != req.Method {
		r.Path = "the method is not upper-case: a backend may perform it upper-cased"
		return 400
	}
	segs, err := matcher.Split(path)
	if err != nil || req.URL.Opaque != "" {
		r.Path = "the path could be read differently by the backend"
		return 400
	}
	route := e.routeStep(r, req.Method, segs)
	switch route.Requirement {
	case matcher.Public:
		return 0
	case matcher.Deny:
		return 403
	}
	id, status := e.tokenStep(r, req)
	if id == nil {
		return status
	}
	_, vals := e.engine.Routes.Match(req.Method, segs)
	target := e.engine.Tenant.Locate(req, route, segs, vals)
	pol := e.engine.Policy(time.Now())
	x := policy.Explain(pol, e.engine.Options, id, route, target)
	r.Decision = &DecisionStep{Tenant: e.engine.Tenant.Mode(), Guard: x.Guard, Org: x.Org, Permission: x.Permission, Sources: x.Sources,
		Roles: x.Roles, Permissions: x.Permissions, Allow: x.Allow, Reason: x.Reason, Shadow: e.engine.Shadow}
	if x.Allow || e.engine.Shadow {
		return 0
	}
	return 403
}

// routeStep records the matched route and the candidates it beat; it returns the route in force.
func (e *Explainer) routeStep(r *Report, method string, segs []string) *matcher.Route {
	list := e.engine.Routes.Candidates(method, segs)
	if len(list) == 0 {
		r.Route = &RouteStep{Matched: e.engine.Unmatched.Text, Requirement: e.engine.Unmatched.Requirement, Unmatched: true}
		return e.engine.Unmatched
	}
	win := list[0]
	r.Route = &RouteStep{Matched: "routes[" + strconv.Itoa(win.Index) + "] " + win.Text, Requirement: win.Requirement}
	for _, o := range list[1:] {
		r.Route.Others = append(r.Route.Others, Candidate{Route: "routes[" + strconv.Itoa(o.Index) + "] " + o.Text, Lost: win.Beats(o)})
	}
	return win
}

// The token checks in the verifier's order, and the errors that stop each.
var checkNames = []string{"present", "size", "compact JWS", "header (alg, typ, crit)", "key", "signature", "exp", "nbf/iat", "iss", "aud", "claims"}

func failedCheck(err error) int {
	switch err {
	case tokens.ErrNoToken, tokens.ErrMultipleTokens:
		return 0
	case tokens.ErrTooLarge:
		return 1
	case tokens.ErrMalformed:
		return 2
	case tokens.ErrAlgorithm, tokens.ErrCritical, tokens.ErrType:
		return 3
	case tokens.ErrUnknownKey, tokens.ErrKeysUnavailable:
		return 4
	case tokens.ErrSignature:
		return 5
	case tokens.ErrExpired, tokens.ErrMissingExp:
		return 6
	case tokens.ErrNotYetValid:
		return 7
	case tokens.ErrIssuer:
		return 8
	case tokens.ErrAudience:
		return 9
	}
	return 10
}

// tokenStep extracts and verifies the token; it returns the identity, or nil and the status.
func (e *Explainer) tokenStep(r *Report, req *http.Request) (*tokens.Identity, int) {
	r.Token = &TokenStep{}
	token, err := tokens.Extract(req, e.engine.Sources)
	var id *tokens.Identity
	if err == nil {
		id, err = e.engine.Verifier.Verify(token)
	}
	failed := len(checkNames)
	if err != nil {
		failed = failedCheck(err)
	}
	for i, n := range checkNames {
		c := Check{Name: n, Result: "passed"}
		switch {
		case i == failed:
			c.Result = "failed"
			c.Detail = err.Error()
		case i > failed:
			c.Result = "not reached"
		}
		r.Token.Checks = append(r.Token.Checks, c)
	}
	switch {
	case err == tokens.ErrKeysUnavailable:
		return nil, 503
	case err != nil:
		return nil, 401
	}
	r.Token.Subject, r.Token.Issuer, r.Token.Org = id.Subject, id.Issuer, id.Org
	return id, 0
}
