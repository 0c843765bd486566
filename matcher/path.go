package matcher

import (
	"errors"
	"net/url"
	"strings"
)

// controls are the C0 control characters and DEL.
const controls = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"

// ErrUnsafePath means the request path has a form that a backend could read differently from the
// matcher. Such requests are refused (400) rather than normalized: Gatehouse never authorizes one
// form of a path and forwards another.
var ErrUnsafePath = errors.New("unsafe request path")

// Split checks the escaped request path (as Traefik forwards it, url.URL.EscapedPath) and returns
// its decoded segments; a trailing slash yields a final empty segment ("/a/" → ["a", ""]).
//
// Refused: a path not starting with "/"; empty segments ("//"); dot segments ("." and "..");
// backslashes; ";" (path parameters); control characters; and percent-escapes of "/", "\", ";",
// "%", ".", of any unreserved character (RFC 3986 §2.3: their decoded form is a different spelling
// of the same path) and of control characters, as well as malformed escapes. What remains has a
// single meaning: every other escape decodes to a character that cannot change the path's
// structure, so matcher and backend agree.
func Split(escaped string) ([]string, error) {
	if escaped == "" || escaped[0] != '/' || strings.Contains(escaped, "//") || strings.ContainsAny(escaped, "\\;") {
		return nil, ErrUnsafePath
	}
	if strings.Contains(escaped, "/.") {
		if err := checkDots(escaped); err != nil {
			return nil, err
		}
	}
	if strings.ContainsAny(escaped, controls) {
		return nil, ErrUnsafePath
	}
	segs := strings.Split(escaped[1:], "/")
	if strings.IndexByte(escaped, '%') < 0 {
		return segs, nil
	}
	for i, s := range segs {
		if strings.IndexByte(s, '%') < 0 {
			continue
		}
		d, err := decode(s)
		if err != nil {
			return nil, err
		}
		segs[i] = d
	}
	return segs, nil
}

func checkDots(p string) error {
	for _, s := range strings.Split(p[1:], "/") {
		if s == "." || s == ".." {
			return ErrUnsafePath
		}
	}
	return nil
}

// decode percent-decodes one segment after refusing escapes that could change its meaning.
func decode(s string) (string, error) {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", ErrUnsafePath
		}
		b := unhex(s[i+1])<<4 | unhex(s[i+2])
		if b < 0x20 || b == 0x7f || isUnreserved(b) || strings.IndexByte("/\\;%", b) >= 0 {
			return "", ErrUnsafePath
		}
	}
	d, err := url.PathUnescape(s)
	if err != nil {
		return "", ErrUnsafePath
	}
	return d, nil
}

func isUnreserved(b byte) bool {
	return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '-' || b == '.' || b == '_' || b == '~'
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
