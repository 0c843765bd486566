package policy

import (
	"errors"
	"net/http"
	"net/textproto"
	"strings"

	"github.com/gatehouse-dev/gatehouse/matcher"
)

// Tenant says where a request's org comes from. The token's org must equal it exactly.
type Tenant struct {
	mode   string // "path", "host", "header" or "none"
	param  string // path mode: the wildcard name
	prefix string // host mode: the host template before and after {org}
	suffix string
	header string // header mode: canonical header name

	// The mode as LocateTarget tests it: one field read each (docs/yaegi.md).
	byPath bool // path mode
	other  bool // host or header mode: otherTarget
}

// ParseTenant parses "path:org" (the default), "host:{org}.api.example.com", "header:X-Org-Id" or "none".
func ParseTenant(s string) (*Tenant, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = "path:org"
	}
	if s == "none" {
		return &Tenant{mode: "none"}, nil
	}
	mode, arg, _ := strings.Cut(s, ":")
	arg = strings.TrimSpace(arg)
	switch strings.ToLower(strings.TrimSpace(mode)) {
	case "path":
		if arg == "" || strings.ContainsAny(arg, "{}/ ") {
			return nil, errors.New("tenant: path mode wants a wildcard name, as in path:org")
		}
		return &Tenant{mode: "path", param: arg, byPath: true}, nil
	case "host":
		pre, suf, ok := strings.Cut(strings.ToLower(arg), "{org}")
		if !ok || strings.Contains(suf, "{org}") || strings.ContainsAny(pre+suf, "/: ") {
			return nil, errors.New("tenant: host mode wants a host template with one {org}, as in host:{org}.api.example.com")
		}
		return &Tenant{mode: "host", prefix: pre, suffix: suf, other: true}, nil
	case "header":
		if arg == "" || strings.ContainsAny(arg, " :") {
			return nil, errors.New("tenant: header mode wants a header name, as in header:X-Org-Id")
		}
		return &Tenant{mode: "header", header: textproto.CanonicalMIMEHeaderKey(arg), other: true}, nil
	}
	return nil, errors.New("tenant: want path:NAME, host:TEMPLATE, header:NAME or none")
}

// Mode returns "path", "host", "header" or "none".
func (t *Tenant) Mode() string { return t.mode }

// Header returns the canonical name of the header that names the org (header mode).
func (t *Tenant) Header() string { return t.header }

// Param returns the path wildcard that names the org (path mode).
func (t *Tenant) Param() string { return t.param }

// Target is what a request addresses: its org (when the request names one) and the resource path
// that scoped assignments are matched against.
type Target struct {
	Guarded  bool     // the request names an org, which the token must belong to
	Org      string   // the org the request names ("" when it names none, or a malformed one)
	Resource []string // resource path segments: the path after the org segment (path mode) or the whole path
}

// Locate finds the request's org and resource path. segs are the request path segments and vals
// the route's wildcard values (from matcher.Table.Match).
func (t *Tenant) Locate(req *http.Request, route *matcher.Route, segs, vals []string) Target {
	return LocateTarget(t, req, route, segs, vals)
}

// LocateTarget is Locate as a plain function, for the request path: under Yaegi a method call on
// an interpreted type costs about five times a function call (docs/yaegi.md). The route's
// wildcard names are read from route.Params, so that a route without the tenant wildcard (the
// common case outside path mode's org routes) makes no call into matcher at all.
func LocateTarget(t *Tenant, req *http.Request, route *matcher.Route, segs, vals []string) Target {
	// The resource path is segs without a final empty segment (a trailing slash); segs itself
	// holds it, as a local would cost a frame slot more under Yaegi.
	n := len(segs) - 1
	if n >= 0 {
		if segs[n] == "" {
			segs = segs[:n]
		}
	}
	if t.byPath {
		for j, name := range route.Params {
			if name == t.param {
				return pathTarget(route, segs, vals, j)
			}
		}
	}
	if t.other {
		return otherTarget(t, req, segs)
	}
	return Target{Resource: segs}
}

// pathTarget is path mode's target when the route has the tenant wildcard, j-th among its Params.
func pathTarget(route *matcher.Route, res, vals []string, j int) Target {
	i := matcher.ParamSegment(route, j)
	if i < 0 {
		return Target{Resource: res}
	}
	i++ // the resource path starts after the org segment
	if i <= len(res) {
		res = res[i:]
	} else {
		res = nil
	}
	org := ""
	if j < len(vals) {
		org = vals[j]
	}
	return Target{Guarded: true, Org: org, Resource: res}
}

// otherTarget is the host and header modes' target.
func otherTarget(t *Tenant, req *http.Request, res []string) Target {
	if t.mode == "host" {
		return Target{Guarded: true, Org: t.hostOrg(req.Host), Resource: res}
	}
	if t.mode != "header" {
		return Target{Resource: res}
	}
	v := req.Header[t.header]
	org := ""
	if len(v) == 1 {
		org = strings.TrimSpace(v[0])
	}
	return Target{Guarded: true, Org: org, Resource: res}
}

func (t *Tenant) hostOrg(host string) string {
	host = strings.ToLower(host)
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	if len(host) <= len(t.prefix)+len(t.suffix) || !strings.HasPrefix(host, t.prefix) || !strings.HasSuffix(host, t.suffix) {
		return ""
	}
	org := host[len(t.prefix) : len(host)-len(t.suffix)]
	if strings.Contains(org, ".") {
		return ""
	}
	return org
}
