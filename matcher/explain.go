package matcher

import (
	"sort"
	"strconv"
)

// Candidates returns every route of method whose pattern matches the request path segments (from
// Split), the most specific first: the first is the route Match returns. A HEAD request falls back
// to the GET routes when no HEAD route matches, as in Match. It is for explanations, not for the
// request path: it walks every branch of the tree.
func (t *Table) Candidates(method string, segs []string) []*Route {
	var out []*Route
	if root := t.trees[method]; root != nil {
		candidates(root, segs, &out)
	}
	if len(out) == 0 && method == "HEAD" {
		if root := t.trees["GET"]; root != nil {
			candidates(root, segs, &out)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return comparePaths(out[i].segs, out[j].segs) == moreSpecific })
	return out
}

// candidates appends every route below n that matches segs.
func candidates(n *node, segs []string, out *[]*Route) {
	if n.multi != nil {
		*out = append(*out, n.multi)
	}
	if len(segs) == 0 {
		if n.route != nil {
			*out = append(*out, n.route)
		}
		return
	}
	if c := n.lit[segs[0]]; c != nil {
		candidates(c, segs[1:], out)
	}
	if n.wild != nil && segs[0] != "" {
		candidates(n.wild, segs[1:], out)
	}
}

// Beats explains why r, which matches a path, is more specific than other, which matches it too
// (as Candidates orders them): the first segment where r's pattern is narrower.
func (r *Route) Beats(other *Route) string {
	a, b := r.segs, other.segs
	for i := 0; i < len(a) && i < len(b); i++ {
		if compareSegments(a[i], b[i]) == moreSpecific {
			return "segment " + strconv.Itoa(i+1) + ": " + describe(a[i]) + " is narrower than " + describe(b[i])
		}
	}
	if len(a) > len(b) {
		return "it names " + strconv.Itoa(len(a)) + " segments where the other matches the rest of the path from segment " + strconv.Itoa(len(b))
	}
	return "it is more specific"
}

func describe(s segment) string {
	switch {
	case s.multi && s.name != "":
		return "the rest-of-path wildcard {" + s.name + "...}"
	case s.multi:
		return "the trailing slash (rest of the path)"
	case s.wild:
		return "the wildcard {" + s.name + "}"
	case s.lit == "":
		return "the exact trailing slash {$}"
	}
	return "the literal " + quote(s.lit)
}
