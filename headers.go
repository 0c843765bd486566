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

// protection is the compiled header rule of one middleware. Read-only after New.
type protection struct {
	first  [256]bool      // first bytes of every protected name, both cases: a cheap filter
	prefix string         // folded identity prefix ("x_auth_")
	exact  map[string]int // folded name → hdrTenant or hdrOverride
}

func newProtection(prefix, tenantHeader string) *protection {
	p := &protection{prefix: foldHeader(prefix), exact: map[string]int{}}
	p.mark(prefix)
	for _, h := range overrideHeaders {
		p.exact[foldHeader(h)] = hdrOverride
		p.mark(h)
	}
	if tenantHeader != "" {
		p.exact[foldHeader(tenantHeader)] = hdrTenant
		p.mark(tenantHeader)
	}
	return p
}

func (p *protection) mark(name string) {
	c := name[0]
	p.first[c] = true
	if c >= 'a' && c <= 'z' {
		p.first[c-'a'+'A'] = true
	} else if c >= 'A' && c <= 'Z' {
		p.first[c-'A'+'a'] = true
	} else {
		// A first byte that is not a letter folds like every other non-alphanumeric byte.
		for i := 0; i < 256; i++ {
			b := byte(i)
			if !((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')) {
				p.first[i] = true
			}
		}
	}
}

// class returns the protected class of a header name, or 0.
func (p *protection) class(name string) int {
	f := headerFold.Replace(name)
	if strings.HasPrefix(f, p.prefix) {
		return hdrIdentity
	}
	return p.exact[f]
}

// forward shapes the request the backend receives, after an allow (a), a public route or a shadow
// pass-through (a nil or without an org): identity headers from the decision only, the tenant header
// replaced by the org the decision was made in or removed, and the token removed when forwardToken
// is false. It is the one place that decides what the backend reads.
func (g *Gatehouse) forward(req *http.Request, a *allowed) {
	h := req.Header
	if a != nil {
		if a.id != nil {
			if a.id.Subject != "" {
				h[g.hSubject] = []string{a.id.Subject}
			}
			if a.id.Issuer != "" {
				h[g.hIssuer] = []string{a.id.Issuer}
			}
		}
		if a.org != "" {
			h[g.hOrg] = []string{a.org}
		}
		if a.roles != "" {
			h[g.hRoles] = []string{a.roles}
		}
		if a.perms != "" {
			h[g.hPermissions] = []string{a.perms}
		}
	}
	if g.tenantHeader != "" {
		if a != nil && a.org != "" {
			h[g.tenantHeader] = []string{a.org}
		} else {
			delete(h, g.tenantHeader)
		}
	}
	if !g.forwardToken {
		tokens.Remove(req, g.sources)
	}
}
