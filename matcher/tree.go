package matcher

import (
	"errors"
	"sort"
	"strconv"
	"strings"
)

// node is one level of the routing tree: literal children by segment, one single-wildcard child,
// and the routes that end here (exactly, or with a trailing multi wildcard).
type node struct {
	lit   map[string]*node
	wild  *node
	route *Route // a pattern that ends at this node
	multi *Route // a pattern whose last segment, at this position, is a multi wildcard
}

// Table is a compiled set of routes: one tree per method.
type Table struct {
	trees  map[string]*node
	Routes []*Route
}

// Compile parses and indexes route declarations. It reports every problem at once, each prefixed
// with the route's position: `routes[3] "GET /x/{id} x:read": conflicts with routes[1] ...`.
func Compile(lines []string) (*Table, []string) {
	t := &Table{trees: map[string]*node{}}
	var problems []string
	for i, line := range lines {
		where := "routes[" + strconv.Itoa(i) + "] " + quote(strings.Join(strings.Fields(line), " "))
		r, err := ParseRoute(line)
		if err != nil {
			problems = append(problems, where+": "+err.Error())
			continue
		}
		r.Index = i
		if err := t.add(r); err != nil {
			problems = append(problems, where+": "+err.Error())
			continue
		}
		t.Routes = append(t.Routes, r)
	}
	return t, problems
}

func (t *Table) add(r *Route) error {
	root := t.trees[r.Method]
	if root == nil {
		root = &node{}
		t.trees[r.Method] = root
	}
	var found []*Route
	collect(root, r.segs, &found)
	sort.Slice(found, func(i, j int) bool { return found[i].Index < found[j].Index })
	for _, other := range found {
		rel := comparePaths(r.segs, other.segs)
		if rel == equivalent || rel == overlaps {
			return errors.New("conflicts with routes[" + strconv.Itoa(other.Index) + "] " + quote(other.Text) +
				": both match " + quote(commonPath(r.segs, other.segs)) + " and neither is more specific")
		}
	}
	insert(root, r)
	return nil
}

func insert(n *node, r *Route) {
	last := len(r.segs) - 1
	for i, s := range r.segs {
		if s.multi {
			n.multi = r
			return
		}
		var next *node
		if s.wild {
			if n.wild == nil {
				n.wild = &node{}
			}
			next = n.wild
		} else {
			if n.lit == nil {
				n.lit = map[string]*node{}
			}
			next = n.lit[s.lit]
			if next == nil {
				next = &node{}
				n.lit[s.lit] = next
			}
		}
		n = next
		if i == last {
			n.route = r
		}
	}
}

// collect appends every route in the tree that can match some path the pattern segs matches.
func collect(n *node, segs []segment, out *[]*Route) {
	if len(segs) == 0 {
		if n.route != nil {
			*out = append(*out, n.route)
		}
		return
	}
	s := segs[0]
	if s.multi {
		all(n, true, out)
		return
	}
	if n.multi != nil {
		*out = append(*out, n.multi)
	}
	if s.wild {
		for key, c := range n.lit {
			if key != "" {
				collect(c, segs[1:], out)
			}
		}
		if n.wild != nil {
			collect(n.wild, segs[1:], out)
		}
		return
	}
	if c := n.lit[s.lit]; c != nil {
		collect(c, segs[1:], out)
	}
	if n.wild != nil && s.lit != "" {
		collect(n.wild, segs[1:], out)
	}
}

// all appends every route below n (and n's multi route; n's exact route only when withSelf is false).
func all(n *node, below bool, out *[]*Route) {
	if n.multi != nil {
		*out = append(*out, n.multi)
	}
	if !below && n.route != nil {
		*out = append(*out, n.route)
	}
	for _, c := range n.lit {
		all(c, false, out)
	}
	if n.wild != nil {
		all(n.wild, false, out)
	}
}

// Match returns the most specific route of method that matches the request path segments (from
// Split), with the wildcard values in the route's Params order. HEAD falls back to GET.
//
// Under Yaegi a call reserves a slot for every variable and intermediate value of the function
// entered, so Match holds only the common case (a tree for the method, the first choice at every
// level matching); searching, the HEAD fallback and a trailing multi wildcard are functions of
// their own.
func (t *Table) Match(method string, segs []string) (*Route, []string) {
	return MatchTable(t, method, segs)
}

// MatchTable is Match as a plain function, the one implementation: under Yaegi a method call
// costs about 28 allocations more than a plain call, and every request that is not answered from
// a cache makes this one.
func MatchTable(t *Table, method string, segs []string) (*Route, []string) {
	root := t.trees[method]
	if root == nil {
		if method != "HEAD" {
			return nil, nil
		}
		return matchGET(t, segs)
	}
	return matchFast(t, root, method, segs)
}

// matchSearch is Match once the first-choice walk failed: a search with backtracking in the tree of
// method, then for HEAD the GET routes.
func matchSearch(t *Table, method string, segs []string) (*Route, []string) {
	if r, vals := match(t.trees[method], segs, nil); r != nil {
		return r, vals
	}
	if method == "HEAD" {
		return matchGET(t, segs)
	}
	return nil, nil
}

// matchGET matches segs against the GET routes (HEAD falls back to GET).
func matchGET(t *Table, segs []string) (*Route, []string) {
	if root := t.trees["GET"]; root != nil {
		return match(root, segs, nil)
	}
	return nil, nil
}

// matchFast follows the first choice at every level (literal, then wildcard, then multi) from
// n, the tree of method, without backtracking. When it reaches a route, that route is the one
// match would return first; when it does not, it returns matchSearch's answer. (It calls
// matchSearch itself, rather than MatchTable testing its result, so that under Yaegi the table
// without a tree for the method, as with no routes at all, reserves no room for that result.)
func matchFast(t *Table, n *node, method string, segs []string) (*Route, []string) {
	var vals []string
	for i, seg := range segs {
		if c := n.lit[seg]; c != nil {
			n = c
			continue
		}
		if n.wild != nil { // one if per case: under Yaegi a && costs more than another if
			if seg != "" {
				vals = append(vals, seg)
				n = n.wild
				continue
			}
		}
		if n.multi == nil {
			return matchSearch(t, method, segs)
		}
		return multiMatch(n.multi, segs[i:], vals)
	}
	if n.route == nil {
		return matchSearch(t, method, segs)
	}
	return n.route, vals
}

// multiMatch returns r, a route whose multi wildcard matches rest, with its value appended to vals
// when the wildcard is named.
func multiMatch(r *Route, rest []string, vals []string) (*Route, []string) {
	if r.segs[len(r.segs)-1].name != "" {
		vals = append(vals, strings.Join(rest, "/"))
	}
	return r, vals
}

// match walks the tree, preferring a literal child, then the wildcard child, then a multi
// wildcard, backtracking on failure. Since conflicts are rejected at Compile, the first route found
// this way is the most specific one.
func match(n *node, segs []string, vals []string) (*Route, []string) {
	if len(segs) == 0 {
		return n.route, vals
	}
	seg := segs[0]
	if c := n.lit[seg]; c != nil {
		if r, v := match(c, segs[1:], vals); r != nil {
			return r, v
		}
	}
	if n.wild != nil && seg != "" {
		if r, v := match(n.wild, segs[1:], append(vals, seg)); r != nil {
			return r, v
		}
	}
	if r := n.multi; r != nil {
		if r.segs[len(r.segs)-1].name != "" {
			vals = append(vals, strings.Join(segs, "/"))
		}
		return r, vals
	}
	return nil, nil
}
