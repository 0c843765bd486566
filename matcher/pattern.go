// Package matcher compiles route declarations into a lookup tree and matches request paths.
//
// Grammar (that of Go 1.22's net/http.ServeMux, without hosts):
//
//	route    = METHOD " " path " " requirement
//	path     = "/" [ segment *( "/" segment ) ] [ "/" ] [ "{$}" ]
//	segment  = literal | "{" name "}" | "{" name "...}"   ; "..." only in the last segment
//
// A literal matches itself (percent-escapes in it are decoded). "{name}" matches exactly one
// non-empty segment. "{name...}" matches the rest of the path, possibly empty. A trailing "/"
// matches the rest of the path like an anonymous "{...}"; "/{$}" matches only the trailing slash.
// The requirement is a permission, "public" (no token needed) or "authenticated" (any valid token).
//
// The most specific route wins: a route is more specific than another when it matches a strict
// subset of its paths. Declaration order never matters. Two routes of one method that can match a
// common path without one being more specific are a conflict, reported by Compile with an example
// path. A GET route also serves HEAD when no HEAD route matches.
//
// A Table is immutable after Compile and safe for concurrent use.
package matcher

import (
	"errors"
	"net/url"
	"strings"
)

// Requirement kinds of a route.
const (
	Public        = "public"
	Authenticated = "authenticated"
	Deny          = "deny"
)

// segment is one element of a compiled path pattern. A trailing slash that must match exactly
// ("/{$}") is the literal "" (request paths ending in "/" split into a final empty segment).
type segment struct {
	lit   string
	wild  bool
	multi bool
	name  string
}

// Route is one compiled route declaration.
type Route struct {
	Index       int      // position in the configuration list
	Text        string   // the declaration as written, normalized to single spaces
	Method      string   // upper-case method
	Path        string   // the path pattern as written
	Requirement string   // a permission, Public or Authenticated
	Params      []string // wildcard names in path order; matched values come back in this order

	segs      []segment
	paramSegs []int // the position among segs of each of Params
}

// Param returns the value of the wildcard name among values (as returned by Match), or "".
func (r *Route) Param(name string, values []string) string {
	for i, n := range r.Params {
		if n == name && i < len(values) {
			return values[i]
		}
	}
	return ""
}

// ParseRoute parses one declaration "METHOD /path requirement".
func ParseRoute(text string) (*Route, error) {
	fields := strings.Fields(text)
	if len(fields) != 3 {
		return nil, errors.New("want \"METHOD /path permission\" (or public, authenticated)")
	}
	method := fields[0]
	if !isToken(method) || strings.ToUpper(method) != method {
		return nil, errors.New("method " + quote(method) + " must be an upper-case HTTP method such as GET")
	}
	segs, params, err := parsePath(fields[1])
	if err != nil {
		return nil, err
	}
	r := &Route{Text: strings.Join(fields, " "), Method: method, Path: fields[1], Requirement: fields[2], Params: params, segs: segs}
	for _, name := range params {
		r.paramSegs = append(r.paramSegs, r.SegmentIndex(name))
	}
	return r, nil
}

func parsePath(p string) ([]segment, []string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, nil, errors.New("path " + quote(p) + " must start with /")
	}
	var segs []segment
	var params []string
	seen := map[string]bool{}
	rest := p[1:]
	for {
		if rest == "" {
			segs = append(segs, segment{multi: true})
			return segs, params, nil
		}
		raw, more, hasMore := strings.Cut(rest, "/")
		if raw == "{$}" {
			if hasMore {
				return nil, nil, errors.New("{$} must be the last segment")
			}
			segs = append(segs, segment{lit: ""})
			return segs, params, nil
		}
		seg, err := parseSegment(raw, !hasMore)
		if err != nil {
			return nil, nil, errors.New("path " + quote(p) + ": " + err.Error())
		}
		if seg.wild || seg.multi {
			if seen[seg.name] {
				return nil, nil, errors.New("path " + quote(p) + ": duplicate wildcard {" + seg.name + "}")
			}
			seen[seg.name] = true
			params = append(params, seg.name)
		}
		segs = append(segs, seg)
		if !hasMore {
			return segs, params, nil
		}
		if seg.multi {
			return nil, nil, errors.New("path " + quote(p) + ": {" + seg.name + "...} must be the last segment")
		}
		rest = more
	}
}

func parseSegment(raw string, last bool) (segment, error) {
	if raw == "" {
		return segment{}, errors.New("empty segment (//)")
	}
	if strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
		name := raw[1 : len(raw)-1]
		multi := strings.HasSuffix(name, "...")
		name = strings.TrimSuffix(name, "...")
		if !isIdent(name) {
			return segment{}, errors.New("bad wildcard name " + quote(name))
		}
		if multi && !last {
			return segment{}, errors.New("{" + name + "...} must be the last segment")
		}
		return segment{wild: !multi, multi: multi, name: name}, nil
	}
	if strings.ContainsAny(raw, "{}") {
		return segment{}, errors.New("a wildcard must be a whole segment: " + quote(raw))
	}
	lit, err := url.PathUnescape(raw)
	if err != nil || lit == "." || lit == ".." || strings.Contains(lit, "/") {
		return segment{}, errors.New("bad literal segment " + quote(raw))
	}
	return segment{lit: lit}, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

func quote(s string) string { return "\"" + s + "\"" }

// ParamSegment returns the position among path segments of the j-th wildcard of r.Params, or -1
// (j out of range, or a Route not built by ParseRoute): SegmentIndex(r.Params[j]), computed when
// the route was parsed. A plain function, for the request path: under Yaegi a method call on an
// interpreted type costs 15-28 allocations more than a function call (docs/yaegi.md).
func ParamSegment(r *Route, j int) int {
	if j < 0 {
		return -1
	}
	if j >= len(r.paramSegs) {
		return -1
	}
	return r.paramSegs[j]
}

// SegmentIndex returns the position among path segments of the wildcard name, or -1.
func (r *Route) SegmentIndex(name string) int {
	for i, s := range r.segs {
		if (s.wild || s.multi) && s.name == name {
			return i
		}
	}
	return -1
}
