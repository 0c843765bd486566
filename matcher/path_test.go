package matcher

import (
	"errors"
	"strings"
	"testing"
)

func TestSplitRefusesPathsWithASecondReading(t *testing.T) {
	cases := []struct{ name, path string }{
		{"an empty path is refused", ""},
		{"a path that does not start with a slash is refused", "a/b"},
		{"an empty segment is refused", "/a//b"},
		{"an empty first segment is refused", "//a"},
		{"a dot segment is refused", "/a/./b"},
		{"a final dot-dot segment is refused", "/a/.."},
		{"a raw backslash is refused", "/a\\b"},
		{"a raw semicolon is refused", "/a;b"},
		{"a path parameter on a dot-dot segment is refused", "/a/..;/b"},
		{"a raw space is refused", "/a b"},
		{"a raw question mark is refused", "/a?b"},
		{"a raw number sign is refused", "/a#b"},
		{"a raw double quote is refused", "/a\"b"},
		{"a raw vertical bar is refused", "/a|b"},
		{"a raw brace is refused", "/a{b}"},
		{"a raw NUL is refused", "/a\x00"},
		{"a raw DEL is refused", "/a\x7f"},
		{"a raw non-ASCII letter is refused", "/caf\xc3\xa9"},
		{"a raw invalid byte is refused", "/a\xff"},
		{"an escaped slash is refused", "/a%2Fb"},
		{"an escaped slash in lower case is refused", "/a%2fb"},
		{"an escaped backslash is refused", "/a%5Cb"},
		{"an escaped semicolon is refused", "/a%3bb"},
		{"an escaped question mark is refused", "/a%3Fid=1"},
		{"an escaped number sign is refused", "/a%23x"},
		{"a double encoding is refused", "/a/%252e"},
		{"escaped dots are refused", "/%2e%2e/x"},
		{"an escaped dot beside a raw one is refused", "/a/.%2E"},
		{"an escaped letter is refused", "/%61cme"},
		{"an escaped digit is refused", "/v%31"},
		{"an escaped tilde is refused", "/%7Euser"},
		{"an escaped NUL is refused", "/a%00"},
		{"an escaped unit separator is refused", "/a%1F"},
		{"an escaped DEL is refused", "/a%7f"},
		{"a percent sign at the end is refused", "/a%"},
		{"a percent sign with one hex digit is refused", "/a%4"},
		{"a percent sign before non-hex characters is refused", "/a%zz"},
		{"a percent sign before a signed number is refused", "/a%+1"},
		{"an overlong dot is refused", "/%C0%AE%C0%AE"},
		{"an overlong slash is refused", "/a%E0%80%AFb"},
		{"an overlong two-byte form is refused", "/a%C1%BF"},
		{"a lone continuation byte is refused", "/a%80"},
		{"a truncated sequence is refused", "/a%E2%82"},
		{"a sequence split across segments is refused", "/%C3/%A9"},
		{"a surrogate is refused", "/a%ED%A0%80"},
		{"a code point above U+10FFFF is refused", "/a%F4%90%80%80"},
		{"the byte FF is refused", "/a%FF"},
		{"the first C1 control is refused", "/a%C2%80"},
		{"the last C1 control is refused", "/a%C2%9F"},
		{"a no-break space is refused", "/a%C2%A0b"},
		{"a fullwidth solidus is refused", "/acme%EF%BC%8Fglobex"},
		{"a fullwidth full stop is refused", "/%EF%BC%8E%EF%BC%8E/x"},
		{"a fullwidth letter is refused", "/%EF%BD%81cme"},
		{"a fullwidth reverse solidus is refused", "/a%EF%BC%BCb"},
		{"the last fullwidth form of ASCII is refused", "/a%EF%BD%9E"},
		{"a one dot leader is refused", "/%E2%80%A4%E2%80%A4/x"},
		{"account of, which normalizes to a/c, is refused", "/%E2%84%80"},
		{"a Greek question mark is refused", "/a%CD%BEb"},
		{"a ligature is refused", "/%EF%AC%81le"},
		{"a superscript digit is refused", "/v%C2%B9"},
		{"the Kelvin sign is refused", "/%E2%84%AAey"},
		{"a long s is refused", "/%C5%BFecret"},
		{"a mathematical bold letter is refused", "/%F0%9D%90%80"},
		{"a compatibility spelling after an allowed letter is refused", "/caf%C3%A9%EF%BC%8F"},
		{"a compatibility spelling in a later segment is refused", "/caf%C3%A9/%EF%BD%81"},
		{"a soft hyphen is refused", "/adm%C2%ADin"},
		{"a zero width space is refused", "/adm%E2%80%8Bin"},
		{"a right-to-left mark is refused", "/a%E2%80%8F"},
		{"a right-to-left override is refused", "/a%E2%80%AEb"},
		{"a word joiner is refused", "/a%E2%81%A0b"},
		{"a byte order mark is refused", "/%EF%BB%BFadmin"},
		{"a variation selector is refused", "/a%EF%B8%8F"},
		{"a tag character is refused", "/a%F3%A0%81%81"},
		{"a Hangul filler is refused", "/a%E3%85%A4"},
		{"a code point unassigned in Unicode 14.0 is refused", "/a%CD%B8"},
		{"an outlined letter, assigned later with an ASCII decomposition, is refused", "/%F0%9C%B3%96dmin"},
		{"a noncharacter is refused", "/a%EF%BF%BE"},
		{"the last code point is refused", "/a%F4%8F%BF%BF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			segs, err := Split(c.path)
			if !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("Split(%q) = %q, %v; want ErrUnsafePath", c.path, segs, err)
			}
		})
	}
}

func TestSplitPassesPathsWithOneReading(t *testing.T) {
	cases := []struct{ name, path, want string }{
		{"the root is one empty segment", "/", ""},
		{"a trailing slash yields a final empty segment", "/a/b/", "a|b|"},
		{"a leading dot that is not a dot segment passes", "/.well-known/x", ".well-known|x"},
		{"a dot inside a segment passes", "/a/b.c", "a|b.c"},
		{"raw sub-delimiters, colon and at sign pass", "/a,b/c@d/e:f/!$&'()*+=", "a,b|c@d|e:f|!$&'()*+="},
		{"raw brackets pass", "/a[0]", "a[0]"},
		{"an escaped space decodes", "/my%20flow", "my flow"},
		{"escapes of characters that have no raw spelling decode", "/%22%3C%3E%5E%60%7B%7C%7D", "\"<>^`{|}"},
		{"an escaped comma decodes", "/a%2Cb", "a,b"},
		{"an escaped at sign decodes", "/user%40example.com", "user@example.com"},
		{"an escaped colon decodes", "/a%3Ab", "a:b"},
		{"an escaped plus decodes to a plus", "/c%2B%2B", "c++"},
		{"escaped brackets decode", "/%5B0%5D", "[0]"},
		{"a two-byte letter decodes", "/caf%C3%A9", "café"},
		{"lower-case hex digits decode alike", "/caf%c3%a9", "café"},
		{"a three-byte sign decodes", "/%E2%82%AC", "€"},
		{"a four-byte emoji decodes", "/%F0%9F%98%80", "😀"},
		{"a CJK word decodes", "/%E6%97%A5%E6%9C%AC", "日本"},
		{"the first code point after the C1 controls and no-break space passes", "/%C2%A1", "¡"},
		{"a micro sign, whose NFKC form is Greek, passes", "/%C2%B5", "µ"},
		{"a hyphen just after the bidirectional marks passes", "/a%E2%80%90b", "a‐b"},
		{"a fullwidth parenthesis whose NFKC form is not ASCII passes", "/%EF%BD%9F", "｟"},
		{"a halfwidth full stop, whose NFKC form is CJK, passes", "/%EF%BD%A1", "｡"},
		{"the replacement character passes", "/%EF%BF%BD", "\ufffd"},
		{"a private-use code point passes", "/%EE%80%80", "\ue000"},
		{"the last private-use code point passes", "/%F4%8F%BF%BD", "\U0010fffd"},
		{"only segments with escapes are decoded", "/a/my%20flow/b", "a|my flow|b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			segs, err := Split(c.path)
			if err != nil || strings.Join(segs, "|") != c.want {
				t.Fatalf("Split(%q) = %q, %v; want %q", c.path, segs, err, c.want)
			}
		})
	}
}

// TestPlainPathBytesArePathBytesWithoutDotAndPercent pins Split's shortcut: a path made only of
// plainPathBytes is returned as split, without looking for dot segments or escapes, which is right
// only while plainPathBytes holds exactly the allowed raw bytes other than "." and "%".
func TestPlainPathBytesArePathBytesWithoutDotAndPercent(t *testing.T) {
	var want []byte
	for b := 0; b < 256; b++ {
		if b != '.' && b != '%' && strings.IndexByte(pathBytes, byte(b)) >= 0 {
			want = append(want, byte(b))
		}
	}
	var got []byte
	for b := 0; b < 256; b++ {
		if strings.IndexByte(plainPathBytes, byte(b)) >= 0 {
			got = append(got, byte(b))
		}
	}
	if string(got) != string(want) {
		t.Fatalf("plainPathBytes holds %q\nwant %q", got, want)
	}
}

func TestSplitReadsPlainAndCheckedPathsAlike(t *testing.T) {
	cases := []struct {
		name, path string
		want       []string
	}{
		{"a plain path splits on slashes", "/orgs/acme/workflows/w1/run", []string{"orgs", "acme", "workflows", "w1", "run"}},
		{"a plain path keeps its trailing empty segment", "/a/b/", []string{"a", "b", ""}},
		{"the root is one empty segment", "/", []string{""}},
		{"a dot inside a segment takes the checked path and splits alike", "/v1.0/file.json", []string{"v1.0", "file.json"}},
		{"an escape takes the checked path and is decoded", "/a%20b/c", []string{"a b", "c"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Split(c.path)
			if err != nil {
				t.Fatalf("Split(%q): %v", c.path, err)
			}
			if strings.Join(got, "\x00") != strings.Join(c.want, "\x00") || len(got) != len(c.want) {
				t.Fatalf("Split(%q) = %q, want %q", c.path, got, c.want)
			}
		})
	}
}
