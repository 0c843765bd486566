//go:build !yaegi
// +build !yaegi

package matcher

import (
	"net/url"
	"path"
	"strings"
	"testing"
)

// bruteForce is the reference matcher: try every route of the method (GET too for HEAD) and keep
// the one more specific than every other match. It returns nil when none matches.
func bruteForce(routes []*Route, method string, segs []string) *Route {
	pick := func(m string) *Route {
		var matches []*Route
		for _, r := range routes {
			if r.Method == m && matchesDirect(r.segs, segs) {
				matches = append(matches, r)
			}
		}
		for _, cand := range matches {
			best := true
			for _, other := range matches {
				if other != cand && comparePaths(cand.segs, other.segs) != moreSpecific {
					best = false
				}
			}
			if best {
				return cand
			}
		}
		return nil
	}
	if r := pick(method); r != nil || method != "HEAD" {
		return r
	}
	return pick("GET")
}

// matchesDirect matches one pattern against path segments without the tree.
func matchesDirect(pat []segment, segs []string) bool {
	for i, s := range pat {
		if s.multi {
			return i < len(segs)
		}
		if i >= len(segs) {
			return false
		}
		if s.wild {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if s.lit != segs[i] {
			return false
		}
	}
	return len(pat) == len(segs)
}

// routesFrom builds up to 12 route declarations from fuzz text: one per line, "METHOD path".
func routesFrom(spec string) []string {
	var out []string
	for i, line := range strings.Split(spec, "\n") {
		if i >= 12 {
			break
		}
		f := strings.Fields(line)
		if len(f) == 2 {
			out = append(out, f[0]+" "+f[1]+" p"+string(rune('a'+i)))
		}
	}
	return out
}

func FuzzMatchAgreesWithBruteForce(f *testing.F) {
	f.Add("GET /a/{x}\nGET /a/b\nGET /a/\nGET /{$}\nHEAD /a/{x}/c", "GET", "/a/b")
	f.Add("GET /orgs/{org}/files/{p...}\nGET /orgs/acme/files/x\nGET /orgs/{org}/files/{$}", "HEAD", "/orgs/acme/files/")
	f.Add("GET /\nGET /x/{y}/z\nGET /x/y/{z}", "GET", "/x/y/z")
	f.Fuzz(func(t *testing.T, spec, method, p string) {
		table, _ := Compile(routesFrom(spec))
		segs, err := Split(p)
		if err != nil {
			return
		}
		got, _ := table.Match(method, segs)
		want := bruteForce(table.Routes, method, segs)
		if got != want {
			t.Fatalf("routes %q, %s %s: tree %v, brute force %v", routesFrom(spec), method, p, text(got), text(want))
		}
	})
}

func text(r *Route) string {
	if r == nil {
		return "<none>"
	}
	return r.Text
}

// FuzzSplit checks the path rule: never panic, and whatever Split accepts has exactly one reading:
// the fully decoded path equals the joined segments, has no dot segments or empty segments, and no
// decoded segment contains a slash, backslash or control character.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"/a/b", "/a/%2e%2e/b", "/a%2Fb", "/.well-known/x", "/a/b/", "/caf%C3%A9", "/a/..;/b", "/%252e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		segs, err := Split(p)
		if err != nil {
			return
		}
		joined := "/" + strings.Join(segs, "/")
		decoded, derr := url.PathUnescape(p)
		if derr != nil || decoded != joined {
			t.Fatalf("%q: segments %q, but the path decodes to %q (%v)", p, segs, decoded, derr)
		}
		clean := path.Clean(decoded)
		if strings.HasSuffix(decoded, "/") && clean != "/" {
			clean += "/"
		}
		if clean != decoded {
			t.Fatalf("%q decodes to %q, which cleans to %q", p, decoded, clean)
		}
		for _, s := range segs {
			if strings.ContainsAny(s, "/\\;%") || strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
				t.Fatalf("%q: segment %q", p, s)
			}
		}
	})
}
