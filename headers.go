package gatehouse

import (
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/tokens"
)

// Request headers that belong to Gatehouse. A backend behind CGI, WSGI, PHP-FPM, Rack or a similar
// adapter reads a header name upper-cased with every byte that is not an ASCII letter or digit turned
// into "_" (X~Auth~Subject, X.Auth.Subject and X_Auth_Subject all become HTTP_X_AUTH_SUBJECT), and
// keeps the last line it sees. Gatehouse therefore folds every incoming name the same way and:
//
//   - deletes every header whose folded name starts with the folded identity prefix (X-Auth-);
//   - deletes every spelling of the tenant header (header tenant mode) other than its canonical one,
//     which it reads, and then replaces by the org the decision was made in (or deletes);
//   - refuses (400) a request that carries a method or path override in any spelling: backends built
//     on many frameworks honour them, and Gatehouse authorized the method and path it saw.

// Classes of protected header names.
const (
	hdrIdentity = 1 // under the identity prefix: always deleted
	hdrTenant   = 2 // the tenant header in any spelling
	hdrOverride = 3 // a method or path override: the request is refused
)

// overrideHeaders are the method and path overrides frameworks honour (X-HTTP-Method-Override:
// Rack, Express, Symfony, ASP.NET Core; X-HTTP-Method: OData; X-Method-Override; X-Original-URL and
// X-Rewrite-URL: Symfony and Zend behind IIS; X-Original-URI and X-Original-Method: the
// auth_request convention, which a backend may read as the request it serves).
var overrideHeaders = []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override", "X-Original-URL",
	"X-Original-URI", "X-Original-Method", "X-Rewrite-URL"}

// headerFold maps a header name as the most lenient backend reads it: ASCII letters to lower case,
// every other byte that is not a digit to "_". It is a byte replacer: one compiled call under Yaegi.
var headerFold = newHeaderFold()

func newHeaderFold() *strings.Replacer {
	var pairs []string
	for c := 0; c < 256; c++ {
		b := byte(c)
		switch {
		case b >= 'A' && b <= 'Z':
			pairs = append(pairs, string([]byte{b}), string([]byte{b + 'a' - 'A'}))
		case (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9'):
		default:
			pairs = append(pairs, string([]byte{b}), "_")
		}
	}
	return strings.NewReplacer(pairs...)
}

// foldHeader returns the name as a CGI-style backend reads it (lower-cased).
func foldHeader(name string) string { return headerFold.Replace(name) }

// protection is the compiled header rule of one middleware. Read-only after New. ServeHTTP applies
// it inline: the byte filters (Gatehouse.first, third and fifth, built by byteTable from the folded
// names newProtection returns), then one fold of the name (protectHeader).
type protection struct {
	prefix string         // folded identity prefix ("x_auth_")
	exact  map[string]int // folded name → hdrIdentity (an assertion header outside the prefix), hdrTenant or hdrOverride
}

// newProtection compiles the header rule and returns it with the folded protected names.
func newProtection(prefix, tenantHeader, assertionHeader string) (*protection, []string) {
	folded := []string{foldHeader(prefix)}
	p := &protection{prefix: folded[0], exact: map[string]int{}}
	if f := foldHeader(assertionHeader); assertionHeader != "" && !strings.HasPrefix(f, folded[0]) {
		p.exact[f] = hdrIdentity
		folded = append(folded, f)
	}
	for _, h := range overrideHeaders {
		p.exact[foldHeader(h)] = hdrOverride
		folded = append(folded, foldHeader(h))
	}
	if tenantHeader != "" {
		p.exact[foldHeader(tenantHeader)] = hdrTenant
		folded = append(folded, foldHeader(tenantHeader))
	}
	return p, folded
}

// byteTable marks the raw bytes that fold to byte i of one of the folded names (every byte for a
// name shorter than i+1).
func byteTable(folded []string, i int) string {
	t := make([]byte, 256)
	for c := 0; c < 256; c++ {
		b := foldHeader(string([]byte{byte(c)}))[0]
		for _, f := range folded {
			if len(f) <= i || b == f[i] {
				t[c] = 1
			}
		}
	}
	return string(t)
}

// stripTrailers applies the header rule to the trailers a client declared: a trailer reaches the
// backend after the body, and a backend that merges trailers into its headers would read a
// client's X-Auth-Subject there. Every protected name (identity, tenant, override) is removed, from
// the trailer map and from the Trailer header that announces it.
func stripTrailers(g *Gatehouse, req *http.Request) {
	p := g.protect
	removed := false
	for name := range req.Trailer {
		f := headerFold.Replace(name)
		if strings.HasPrefix(f, p.prefix) || p.exact[f] != 0 {
			delete(req.Trailer, name)
			removed = true
		}
	}
	if removed {
		var keep []string
		for name := range req.Trailer {
			keep = append(keep, name)
		}
		delete(req.Header, "Trailer")
		if len(keep) > 0 {
			req.Header["Trailer"] = []string{strings.Join(keep, ", ")}
		}
	}
}

// forward shapes the request the backend receives, after an allow (a), a public route or a shadow
// pass-through (a nil or without an org): identity headers from the decision only, the tenant header
// replaced by the org the decision was made in or removed, and the token removed when forwardToken
// is false. It is the one place that decides what the backend reads.
func forward(g *Gatehouse, req *http.Request, a *allowed) {
	h := req.Header
	if a != nil {
		// The identity headers of the allow (the client's copies are already deleted).
		for i, v := range a.values {
			if v != nil {
				h[g.hNames[i]] = v
			}
		}
	}
	if g.tenantHeader != "" {
		forwardTenant(g, h, a)
	}
	if !g.forwardToken {
		tokens.Remove(req, g.sources)
	}
}

// forwardTenant is forward's tenant header (header tenant mode): the org the decision was made in,
// or none. A function of its own: without a tenant header, forward reserves no slot for it.
func forwardTenant(g *Gatehouse, h http.Header, a *allowed) {
	if a != nil && a.vOrg != nil {
		h[g.tenantHeader] = a.vOrg
	} else {
		delete(h, g.tenantHeader)
	}
}
