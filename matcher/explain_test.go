package matcher

import (
	"strings"
	"testing"
)

func TestCandidatesListEveryMatchingRouteMostSpecificFirst(t *testing.T) {
	table, errs := Compile([]string{
		"GET /orgs/{org}/w/{id} w:read",
		"GET /orgs/{org}/w/export w:export",
		"GET /orgs/{org}/{rest...} authenticated",
		"GET / public",
		"GET /orgs/acme/w/export deny",
		"GET /health/{$} public",
		"DELETE /orgs/{org}/w/{id} w:delete",
	})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	cases := []struct {
		name   string
		method string
		path   string
		want   []string // route indexes as texts, most specific first
	}{
		{"a literal org beats a literal id, which beats the wildcards and the root", "GET", "/orgs/acme/w/export", []string{"GET /orgs/acme/w/export deny", "GET /orgs/{org}/w/export w:export", "GET /orgs/{org}/w/{id} w:read", "GET /orgs/{org}/{rest...} authenticated", "GET / public"}},
		{"a literal id beats the wildcard id", "GET", "/orgs/globex/w/export", []string{"GET /orgs/{org}/w/export w:export", "GET /orgs/{org}/w/{id} w:read", "GET /orgs/{org}/{rest...} authenticated", "GET / public"}},
		{"the exact trailing slash matches only itself and the root", "GET", "/health/", []string{"GET /health/{$} public", "GET / public"}},
		{"HEAD falls back to the GET routes", "HEAD", "/orgs/x/w/1", []string{"GET /orgs/{org}/w/{id} w:read", "GET /orgs/{org}/{rest...} authenticated", "GET / public"}},
		{"another method sees only its own routes", "DELETE", "/orgs/x/w/1", []string{"DELETE /orgs/{org}/w/{id} w:delete"}},
		{"a path no route of the method matches has no candidates", "PUT", "/orgs/x", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			segs, err := Split(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			got := table.Candidates(tc.method, segs)
			var texts []string
			for _, r := range got {
				texts = append(texts, r.Text)
			}
			if strings.Join(texts, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("candidates %q, want %q", texts, tc.want)
			}
			m, _ := table.Match(tc.method, segs)
			if (m == nil) != (len(got) == 0) || (m != nil && m != got[0]) {
				t.Errorf("Match returns %v, Candidates starts with %v", m, got)
			}
			for i := 1; i < len(got); i++ {
				if why := got[0].Beats(got[i]); why == "" || why == "it is more specific" {
					t.Errorf("%s over %s: no segment reason (%q)", got[0].Text, got[i].Text, why)
				}
			}
		})
	}
}

func TestBeatsNamesTheNarrowerSegment(t *testing.T) {
	table, _ := Compile([]string{"GET /orgs/{org}/w/export a", "GET /orgs/{org}/w/{id} b", "GET /orgs/{org}/w/{id}/x c", "GET /orgs/{org}/{rest...} d"})
	cases := []struct {
		name      string
		win, lose int
		want      string
	}{
		{"a literal beats a wildcard at its segment", 0, 1, `segment 4: the literal "export" is narrower than the wildcard {id}`},
		{"a wildcard beats a rest wildcard", 1, 3, "segment 3: the literal \"w\" is narrower than the rest-of-path wildcard {rest...}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := table.Routes[tc.win].Beats(table.Routes[tc.lose]); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
