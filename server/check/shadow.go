package check

import (
	"strings"

	"github.com/gatehouse-dev/gatehouse/matcher"
)

// fresh is a segment value no route names, standing for "any other value" of a wildcard.
const fresh = "gatehouse-check"

// maxExamples caps the example paths tried per route.
const maxExamples = 512

// shadow is a route none of whose example paths reaches it, and the routes that take them.
type shadow struct {
	route *matcher.Route
	by    []*matcher.Route
}

// shadowed finds the routes whose every path goes to other routes. It asks the matcher itself
// (Table.Match) on example paths of each route: every wildcard filled with a value no route names
// and with each literal another route of the method has at that position, every multi wildcard
// with the empty rest, one and two fresh segments and each tail another route has there.
func shadowed(table *matcher.Table) []shadow {
	var out []shadow
	for _, r := range table.Routes {
		var by []*matcher.Route
		reached := false
		for _, ex := range examples(r, table.Routes) {
			segs, err := matcher.Split(ex)
			if err != nil {
				continue
			}
			got, _ := table.Match(r.Method, segs)
			if got == r || got == nil {
				reached = true
				break
			}
			by = appendRoute(by, got)
		}
		if !reached && len(by) > 0 {
			out = append(out, shadow{route: r, by: by})
		}
	}
	return out
}

// examples returns example request paths of r.
func examples(r *matcher.Route, routes []*matcher.Route) []string {
	pattern := patternSegments(r.Path)
	paths := []string{""}
	for i, seg := range pattern {
		var choices []string
		switch {
		case isMulti(seg, i == len(pattern)-1):
			choices = tails(r, routes, i)
		case seg == "{$}":
			choices = []string{""}
		case strings.HasPrefix(seg, "{"):
			choices = literalsAt(r, routes, i)
		default:
			choices = []string{seg}
		}
		var next []string
		for _, p := range paths {
			for _, c := range choices {
				if len(next) < maxExamples {
					next = append(next, p+"/"+c)
				}
			}
		}
		paths = next
	}
	if len(pattern) == 0 {
		return []string{"/"}
	}
	return paths
}

// patternSegments splits a path pattern into its segments ("/" is one empty segment, the
// anonymous rest of the path).
func patternSegments(path string) []string {
	return strings.Split(strings.TrimPrefix(path, "/"), "/")
}

// isMulti reports whether a pattern segment matches the rest of the path: "{name...}" or the empty
// segment after a trailing "/".
func isMulti(seg string, last bool) bool {
	return last && (seg == "" || strings.HasSuffix(seg, "...}"))
}

// literalsAt returns a fresh value and every literal other routes of r's method have at position i.
func literalsAt(r *matcher.Route, routes []*matcher.Route, i int) []string {
	out := []string{fresh}
	for _, o := range routes {
		if o == r || o.Method != r.Method {
			continue
		}
		p := patternSegments(o.Path)
		if i < len(p) && p[i] != "" && !strings.HasPrefix(p[i], "{") && !hasString(out, p[i]) {
			out = append(out, p[i])
		}
	}
	return out
}

// tails returns rests of the path for a multi wildcard at position i: empty, one and two fresh
// segments, and each tail (and prefix of a tail) other routes of the method have there.
func tails(r *matcher.Route, routes []*matcher.Route, i int) []string {
	out := []string{"", fresh, fresh + "/" + fresh}
	for _, o := range routes {
		if o == r || o.Method != r.Method {
			continue
		}
		p := patternSegments(o.Path)
		for j := i + 1; j <= len(p); j++ {
			t := strings.Join(concrete(p[i:j]), "/")
			if !hasString(out, t) {
				out = append(out, t, t+"/", t+"/"+fresh)
			}
		}
	}
	return out
}

// concrete replaces the wildcards of pattern segments by fresh values.
func concrete(segs []string) []string {
	out := make([]string, len(segs))
	for i, s := range segs {
		switch {
		case s == "{$}":
			out[i] = ""
		case strings.HasPrefix(s, "{"):
			out[i] = fresh
		default:
			out[i] = s
		}
	}
	return out
}

func appendRoute(list []*matcher.Route, r *matcher.Route) []*matcher.Route {
	for _, x := range list {
		if x == r {
			return list
		}
	}
	return append(list, r)
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
