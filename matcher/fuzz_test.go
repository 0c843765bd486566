//go:build !yaegi
// +build !yaegi

package matcher

import (
	"fmt"
	"net/url"
	"path"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
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

// rawSpelling are the bytes a canonical spelling writes raw: RFC 3986 pchar without ";", plus "[",
// "]" and the separator "/".
const rawSpelling = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@[]/"

// twoSpellings are the characters an accepted path may write raw or escaped.
const twoSpellings = "!$&'()*+,=:@[]"

// reference is the path rule restated for the fuzzer, without Split's shortcuts: decode the whole
// path, require that its spelling is the canonical one up to hex case and the escaping of
// twoSpellings (so decoding is injective up to those), and require of the decoded segments what
// decoding and cleaning would otherwise change: no empty or dot segments, no "/", "\", ";", "%", "?"
// or "#", no controls, valid UTF-8 and no refused code points.
func reference(p string) ([]string, bool) {
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	decoded, err := url.PathUnescape(p)
	if err != nil || canonical(p) != spell(decoded) {
		return nil, false
	}
	segs := strings.Split(decoded[1:], "/")
	for i, s := range segs {
		if (s == "" && i < len(segs)-1) || s == "." || s == ".." || !utf8.ValidString(s) {
			return nil, false
		}
		for _, r := range s {
			if strings.ContainsRune("\\;%?#", r) || r < 0x20 || r == 0x7f || (r >= 0x80 && refusedRune(r)) {
				return nil, false
			}
		}
	}
	return segs, true
}

// spell writes a decoded path canonically: bytes of rawSpelling raw, every other byte escaped with
// upper-case hex digits.
func spell(decoded string) string {
	var b strings.Builder
	for i := 0; i < len(decoded); i++ {
		if c := decoded[i]; strings.IndexByte(rawSpelling, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// canonical rewrites a path's escapes as spell would write them: upper-case hex digits, and
// characters of twoSpellings raw. Malformed escapes are left as they are.
func canonical(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' || i+2 >= len(p) {
			b.WriteByte(p[i])
			continue
		}
		v, err := strconv.ParseUint(p[i+1:i+3], 16, 8)
		if err != nil {
			b.WriteByte(p[i])
			continue
		}
		if strings.IndexByte(twoSpellings, byte(v)) >= 0 {
			b.WriteByte(byte(v))
		} else {
			b.WriteString("%" + strings.ToUpper(p[i+1:i+3]))
		}
		i += 2
	}
	return b.String()
}

// FuzzSplit checks Split against reference: never panic, accept exactly what the reference accepts,
// and return its segments. An accepted path therefore has one reading: it decodes to the joined
// segments, its spelling is determined by them (up to hex case and the escaping of twoSpellings),
// it is already clean (path.Clean changes nothing), and its segments hold no separator, no query or
// fragment delimiter, no control, nothing but valid UTF-8 and no code point that NFKC turns into
// ASCII or that normalizers delete.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"/a/b", "/a/%2e%2e/b", "/a%2Fb", "/.well-known/x", "/a/b/", "/caf%C3%A9", "/caf%c3%a9", "/a/..;/b", "/%252e",
		"/a%3Fb", "/a%23b", "/%C0%AE", "/%E0%80%AF", "/%ED%A0%80", "/%EF%BC%8F", "/%E2%84%80", "/adm%E2%80%8Bin", "/a,b%2Cc", "/user%40x",
		"/a b", "/%20%7C", "/%F0%9F%98%80", "/%C2%85", "/a[0]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		segs, err := Split(p)
		want, ok := reference(p)
		if (err == nil) != ok {
			t.Fatalf("%q: Split says %v, the reference says accepted=%v", p, err, ok)
		}
		if err != nil {
			return
		}
		if strings.Join(segs, "\x00") != strings.Join(want, "\x00") || len(segs) != len(want) {
			t.Fatalf("%q: segments %q, the reference reads %q", p, segs, want)
		}
		decoded := "/" + strings.Join(segs, "/")
		clean := path.Clean(decoded)
		if strings.HasSuffix(decoded, "/") && clean != "/" {
			clean += "/"
		}
		if clean != decoded {
			t.Fatalf("%q decodes to %q, which cleans to %q", p, decoded, clean)
		}
	})
}
