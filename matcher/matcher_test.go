package matcher

import (
	"strings"
	"testing"
)

var precedenceRoutes = []string{
	"GET /orgs/{org}/workflows            workflows:read",
	"GET /orgs/{org}/workflows/{id}       workflows:read",
	"GET /orgs/acme/workflows/special     workflows:special",
	"GET /orgs/{org}/files/{path...}      files:read",
	"GET /orgs/{org}/files/readme         files:readme",
	"GET /static/                         public",
	"GET /static/{$}                      static:index",
	"GET /{$}                             public",
	"POST /orgs/{org}/workflows           workflows:create",
}

func TestMostSpecificRouteWins(t *testing.T) {
	table, problems := Compile(precedenceRoutes)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	cases := []struct {
		name, method, path, want string
		params                   []string
	}{
		{"a literal beats a wildcard", "GET", "/orgs/acme/workflows/special", "workflows:special", nil},
		{"a wildcard matches one segment", "GET", "/orgs/acme/workflows/w1", "workflows:read", []string{"acme", "w1"}},
		{"backtracking finds the wildcard route under a literal prefix", "GET", "/orgs/acme/workflows/w2", "workflows:read", []string{"acme", "w2"}},
		{"a multi wildcard takes the rest", "GET", "/orgs/acme/files/a/b/c", "files:read", []string{"acme", "a/b/c"}},
		{"a multi wildcard may be empty", "GET", "/orgs/acme/files/", "files:read", []string{"acme", ""}},
		{"a literal beats a multi wildcard", "GET", "/orgs/acme/files/readme", "files:readme", []string{"acme"}},
		{"a trailing slash pattern matches the subtree", "GET", "/static/css/site.css", "public", nil},
		{"{$} matches only the slash itself", "GET", "/static/", "static:index", nil},
		{"the root {$} matches only /", "GET", "/", "public", nil},
		{"HEAD follows GET", "HEAD", "/orgs/acme/workflows", "workflows:read", []string{"acme"}},
		{"the method selects the route", "POST", "/orgs/acme/workflows", "workflows:create", []string{"acme"}},
		{"a path without the trailing slash does not match a subtree", "GET", "/static", "", nil},
		{"a wildcard never matches the trailing slash", "GET", "/orgs/acme/workflows/", "", nil},
		{"an undeclared method matches nothing", "DELETE", "/orgs/acme/workflows", "", nil},
		{"OPTIONS does not follow GET", "OPTIONS", "/orgs/acme/workflows", "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			segs, err := Split(c.path)
			if err != nil {
				t.Fatal(err)
			}
			r, vals := table.Match(c.method, segs)
			got := ""
			if r != nil {
				got = r.Requirement
			}
			if got != c.want {
				t.Fatalf("matched %q, want %q", got, c.want)
			}
			if c.params != nil && strings.Join(vals, "|") != strings.Join(c.params, "|") {
				t.Fatalf("params %q, want %q", vals, c.params)
			}
		})
	}
}

func TestDeclarationOrderNeverMatters(t *testing.T) {
	reversed := make([]string, len(precedenceRoutes))
	for i, r := range precedenceRoutes {
		reversed[len(reversed)-1-i] = r
	}
	a, _ := Compile(precedenceRoutes)
	b, _ := Compile(reversed)
	for _, p := range []string{"/orgs/acme/workflows/special", "/orgs/x/files/readme", "/static/", "/static/x", "/"} {
		segs, _ := Split(p)
		ra, _ := a.Match("GET", segs)
		rb, _ := b.Match("GET", segs)
		if (ra == nil) != (rb == nil) || (ra != nil && ra.Text != rb.Text) {
			t.Errorf("%s: order changed the match", p)
		}
	}
}

func TestConflictsAreRejected(t *testing.T) {
	cases := []struct {
		name   string
		routes []string
		want   string // substring of the problem; "" means no conflict
	}{
		{"two wildcards crossing literals conflict", []string{"GET /a/{x}/c p", "GET /a/b/{y} p"}, `both match "/a/b/c"`},
		{"the same route twice conflicts", []string{"GET /a/{x} p", "GET /a/{y} q"}, "conflicts with routes[0]"},
		{"a multi wildcard and a trailing slash conflict", []string{"GET /a/ p", "GET /a/{rest...} q"}, "conflicts"},
		{"a literal under a wildcard does not conflict", []string{"GET /a/{x} p", "GET /a/b p"}, ""},
		{"different methods never conflict", []string{"GET /a/{x} p", "POST /a/{x} p"}, ""},
		{"{$} and a subtree do not conflict", []string{"GET /a/{$} p", "GET /a/ p"}, ""},
		{"a bad wildcard name is refused", []string{"GET /a/{1x} p"}, "bad wildcard name"},
		{"a multi wildcard must be last", []string{"GET /a/{x...}/b p"}, "must be the last segment"},
		{"a lower-case method is refused", []string{"get /a p"}, "upper-case"},
		{"a route without a requirement is refused", []string{"GET /a"}, "want \"METHOD /path permission\""},
		{"a dot segment in a pattern is refused", []string{"GET /a/../b p"}, "bad literal"},
		{"a duplicate wildcard is refused", []string{"GET /a/{x}/{x} p"}, "duplicate wildcard"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, problems := Compile(c.routes)
			got := strings.Join(problems, "\n")
			if c.want == "" && got != "" {
				t.Fatalf("unexpected problems: %s", got)
			}
			if c.want != "" && !strings.Contains(got, c.want) {
				t.Fatalf("problems %q lack %q", got, c.want)
			}
		})
	}
}

// TestParamSegmentIsSegmentIndex holds the position ParseRoute computes for each wildcard to
// SegmentIndex, which finds it by name: the request path reads the first, compiled callers the
// second.
func TestParamSegmentIsSegmentIndex(t *testing.T) {
	lines := append([]string{
		"GET /a/{x}/b/{y}/{rest...} p",
		"GET /{org} p",
		"GET /x/y/z p",
		"GET /x/{id}/ p",
	}, precedenceRoutes...)
	n := 0
	for _, line := range lines {
		r, err := ParseRoute(line)
		if err != nil {
			t.Fatal(err)
		}
		for j, name := range r.Params {
			if got, want := ParamSegment(r, j), r.SegmentIndex(name); got != want || got < 0 {
				t.Errorf("%q: ParamSegment(%d) = %d, SegmentIndex(%q) = %d", line, j, got, name, want)
			}
			n++
		}
		for _, j := range []int{-1, len(r.Params), len(r.Params) + 1} {
			if got := ParamSegment(r, j); got != -1 {
				t.Errorf("%q: ParamSegment(%d) = %d, want -1", line, j, got)
			}
		}
	}
	if n < 8 {
		t.Fatalf("only %d wildcards checked", n)
	}
	if got := ParamSegment(&Route{Params: []string{"org"}}, 0); got != -1 {
		t.Errorf("a Route not built by ParseRoute: ParamSegment = %d, want -1 as SegmentIndex", got)
	}
}
