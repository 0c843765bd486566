package matcher

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pathBytes are the bytes a path may hold raw: RFC 3986 §3.3 pchar without ";" (ALPHA DIGIT
// - . _ ~ ! $ & ' ( ) * + , = : @), the "[" and "]" that Go's URL.EscapedPath leaves raw, "/" and
// the "%" that starts an escape.
const pathBytes = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@[]/%"

// escapable are the ASCII characters whose percent-escape a segment may hold: those that never
// appear raw in a forwarded path and mean nothing to a router (space " < > ^ ` { | }), and the
// sub-delimiters, ":", "@", "[" and "]", whose escaped and raw forms RFC 3986 §2.2 keeps distinct.
const escapable = " \"<>^`{|}!$&'()*+,=:@[]"

// ErrUnsafePath means the request path has a form that a backend could read differently from the
// matcher. Such requests are refused (400) rather than normalized: Gatehouse never authorizes one
// form of a path and forwards another.
var ErrUnsafePath = errors.New("unsafe request path")

// Split checks the escaped request path (as Traefik forwards it, url.URL.EscapedPath) and returns
// its decoded segments; a trailing slash yields a final empty segment ("/a/" → ["a", ""]). It
// accepts a path only if every backend reads it as the same segments holding the same text, and
// refuses every other path with ErrUnsafePath instead of normalizing it. The rule:
//
//   - Raw bytes. The path starts with "/" and holds only ALPHA DIGIT - . _ ~ ! $ & ' ( ) * + , = :
//     @ [ ] / and "%" (RFC 3986 §3.3 pchar, less ";"). Refused raw: ";" (path parameters, which
//     Tomcat and Spring cut away), "\" (a separator on Windows and in some proxies), "?", "#",
//     space and " < > ^ ` { | }, controls, and every byte ≥ 0x80.
//   - Segments. No empty segment ("//"; only the last is empty, after a trailing "/") and no dot
//     segment ("." or "..", RFC 3986 §5.2.4).
//   - Escapes. "%" and two hex digits of either case. Passed: escapes of space and " < > ^ ` { | }
//     (they have no raw spelling), of ! $ & ' ( ) * + , = : @ [ ] (RFC 3986 §2.2 keeps the escape
//     distinct from the raw character) and of bytes ≥ 0x80 (see decoded text). Refused: malformed
//     escapes, escapes of unreserved characters (§2.3: "%61" is a second spelling of "a", "%2E" of
//     "."), of "/", "\", ";", "%", "?" and "#" (structure for a backend that decodes before it
//     routes; "%25" is a double encoding) and of controls.
//   - Decoded text. A segment with escaped bytes ≥ 0x80 must decode to valid UTF-8 (RFC 3629: no
//     overlong forms such as "%C0%AE", no surrogates, nothing above U+10FFFF) without C1 controls,
//     default-ignorable code points (U+00AD, U+200B, U+FEFF, ...), code points unassigned in the
//     Unicode version of unicode.go (14.0), or code points whose NFKC form (UAX #15) contains ASCII:
//     "%EF%BC%8F" (U+FF0F FULLWIDTH SOLIDUS) reads as "/" to a backend that normalizes.
//
// What passes has one reading: it decodes to the segments Split returns, and a backend that
// decodes it, NFKC-normalizes it or deletes invisible characters finds the same segment boundaries
// and the same ASCII characters. Two accepted paths decode alike only when they differ in the case
// of hex digits (RFC 3986 §6.2.2.1) or in escaping ! $ & ' ( ) * + , = : @ [ ].
//
// Split looks at escapes only in segments that contain a "%", and at code points only in segments
// that escape a byte ≥ 0x80.
func Split(escaped string) ([]string, error) {
	if escaped == "" {
		return nil, ErrUnsafePath
	}
	if escaped[0] != '/' {
		return nil, ErrUnsafePath
	}
	if strContains(escaped, "//") {
		return nil, ErrUnsafePath
	}
	if strTrimLeft(escaped, plainPathBytes) != "" {
		return splitChecked(escaped) // a "." or a "%" (or a refused byte)
	}
	return strSplit(escaped[1:], "/"), nil
}

// Split's compiled calls go through package variables: under Yaegi the selector of a package
// function (strings.Contains) is a frame slot, one allocation per call of the function that
// names it, run or not, where a package variable is none (Split: 15 slots -> 12; returning the
// split directly instead of through a local: 10).
var (
	strContains = strings.Contains
	strTrimLeft = strings.TrimLeft
	strSplit    = strings.Split
)

// plainPathBytes are pathBytes without "." and "%": a path made of them alone has neither dot
// segments nor escapes, so Split returns its segments as they are. Under Yaegi that common case
// is three compiled calls in a small frame (see docs/yaegi.md); splitChecked does the rest.
const plainPathBytes = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_~!$&'()*+,=:@[]/"

// splitChecked is Split for a path that starts with "/", has no empty segment, and holds a byte
// outside plainPathBytes.
func splitChecked(escaped string) ([]string, error) {
	if strings.TrimLeft(escaped, pathBytes) != "" {
		return nil, ErrUnsafePath
	}
	segs := strings.Split(escaped[1:], "/")
	if strings.Contains(escaped, "/.") && hasDotSegment(segs) {
		return nil, ErrUnsafePath
	}
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

func hasDotSegment(segs []string) bool {
	for _, s := range segs {
		if s == "." || s == ".." {
			return true
		}
	}
	return false
}

// decode percent-decodes one segment that contains a "%", refusing the escapes and decoded code
// points the rule in Split's comment refuses.
func decode(s string) (string, error) {
	high := false
	for i := strings.IndexByte(s, '%'); i >= 0; {
		if i+3 > len(s) {
			return "", ErrUnsafePath
		}
		b, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", ErrUnsafePath
		}
		if b >= utf8.RuneSelf {
			high = true
		} else if strings.IndexByte(escapable, byte(b)) < 0 {
			return "", ErrUnsafePath
		}
		next := strings.IndexByte(s[i+3:], '%')
		if next < 0 {
			break
		}
		i += 3 + next
	}
	d, err := url.PathUnescape(s)
	if err != nil {
		return "", ErrUnsafePath
	}
	if high && !validText(d) {
		return "", ErrUnsafePath
	}
	return d, nil
}

// validText reports whether a decoded segment is valid UTF-8 without refused code points.
func validText(d string) bool {
	if !utf8.ValidString(d) {
		return false
	}
	for _, r := range d {
		if r >= utf8.RuneSelf && refusedRune(r) {
			return false
		}
	}
	return true
}
