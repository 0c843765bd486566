package tokens

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// controls are the C0 control characters (HTAB, CR, LF and NUL among them) and DEL.
const controls = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"

// ValidValue reports whether s may be forwarded as a single-valued identity header (X-Auth-Subject,
// X-Auth-Org, X-Auth-Issuer): after net/http writes it and the backend reads it, it reads back byte
// for byte, and no reader can take it for another value or for an absent header. This is the one
// rule; Gatehouse refuses a token whose value breaks it (ErrClaimValue) instead of trimming, since
// trimming would merge distinct users ("admin " and "admin"). s must be:
//
//   - non-empty: an empty field reads like an absent one (http.Header.Get returns "" for both);
//   - valid UTF-8: a backend that decodes the bytes would replace the invalid ones;
//   - free of C0 control characters and DEL: net/http writes CR and LF as spaces, and refuses a
//     request whose field carries any other control but HTAB (they are outside the field-value
//     grammar, RFC 9110 §5.5); HTAB survives net/http but is refused with the rest, since
//     backends and logs take it for a separator;
//   - unpadded: its first and its last rune are not white space, meaning any rune for which
//     unicode.IsSpace holds (SP, NEL U+0085, NBSP U+00A0, U+1680, U+2000 to U+200A, U+2028,
//     U+2029, U+202F, U+205F, U+3000) and U+FEFF. net/http and every RFC 9110 parser strip SP and
//     HTAB around a field value (RFC 9110 §5.5); Unicode white space survives net/http but not the
//     trim functions backends apply (Go's strings.TrimSpace, Python's str.strip, .NET's Trim, and
//     JavaScript's String.prototype.trim, which also strips U+FEFF).
//
// White space inside the value is kept ("Jane Doe"). Where the rule is stricter than net/http's own
// round trip (an empty value, invalid UTF-8, an inner HTAB, Unicode white space at either end), it
// is for the readers named.
func ValidValue(s string) bool {
	if s != "" && strings.Trim(s, visibleASCII) == "" {
		return true // the common case, decided in one call: non-empty, visible ASCII only
	}
	return validValue(s)
}

// validValue is ValidValue for the values that are not all visible ASCII (a separate function, so
// that the common case does not pay for its variables under Yaegi).
func validValue(s string) bool {
	if s == "" || strings.ContainsAny(s, controls) || !utf8.ValidString(s) {
		return false
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	return !padding(first) && !padding(last)
}

// ValidListElement reports whether s may be forwarded as one element of a comma-separated identity
// header (X-Auth-Roles, X-Auth-Permissions): joined with "," and written by net/http, then split by
// an RFC 9110 §5.6.1 list parser (split on commas, OWS trimmed, empty elements dropped, quoted-strings
// unquoted as §5.6.4 describes), it reads back as the same element, byte for byte. s must satisfy
// ValidValue and must not contain a comma (it would split the element) or a double quote (a parser
// may start a quoted-string there, swallowing the commas that follow, or drop the quotes).
func ValidListElement(s string) bool {
	if s != "" && strings.Trim(s, visibleListASCII) == "" {
		return true // the common case, decided in one call: non-empty, visible ASCII but comma and quote
	}
	return ValidValue(s) && !strings.ContainsAny(s, `,"`)
}

// visibleASCII holds the visible ASCII characters, U+0021 to U+007E: a non-empty value made of them
// alone satisfies ValidValue (no control, valid UTF-8, no white space at all). visibleListASCII
// leaves out the comma and the double quote, for ValidListElement. Both are strings, not arrays
// (Yaegi copies an array on every index), and serve as strings.Trim cutsets: one compiled call.
const (
	visibleASCII     = "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
	visibleListASCII = "!#$%&'()*+-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~"
)

// padding reports whether a reader may trim r from either end of a value.
func padding(r rune) bool { return r == '\uFEFF' || unicode.IsSpace(r) }

// listClaim reads a list claim: an array of strings, or one string split on sep ("," for role
// lists, " " for an OAuth scope, RFC 6749 §3.3: scope-token *( SP scope-token )). Absent (or null)
// reads as no elements. Every element must satisfy ValidListElement: no white space is tolerated
// around a separator ("a, b" and "a  b" are refused, not trimmed) and no element may be empty
// ("", "a,,b", " a"). It returns the elements, sorted and deduplicated, and false, or true when the
// claim is refused (refused rather than ok, so that callers test it without a !: under Yaegi each
// ! is one more slot in their frame).
func listClaim(raw interface{}, sep string) ([]string, bool) {
	// s and ok serve the string and element assertions and the element loop (under Yaegi a fresh
	// variable is one more slot, and so is a var statement's zero value); s is read only when ok:
	// Yaegi leaves s unchanged when an assertion fails.
	var list []string
	s, ok := raw.(string)
	if ok {
		list = split(s, sep)
	} else if arr, ok := raw.([]interface{}); ok {
		list = make([]string, len(arr))
		for i, e := range arr {
			if s, ok = e.(string); ok {
				list[i] = s
			} else {
				return nil, true
			}
		}
	} else if raw != nil {
		return nil, true
	}
	if len(list) == 0 {
		return nil, false
	}
	for _, s = range list {
		if trim(s, visibleListASCII) != "" {
			if ValidListElement(s) {
				// valid (the empty branch spares the frame a !)
			} else {
				return nil, true
			}
		}
		if s == "" {
			return nil, true // ValidListElement's common case written out, without || or &&
		}
	}
	if len(list) == 1 {
		return list, false
	}
	return SortedSet(list), false
}

// SortedSet returns the sorted, deduplicated elements of list.
func SortedSet(list []string) []string {
	if len(list) < 2 {
		return list
	}
	cp := make([]string, len(list))
	copy(cp, list)
	sort.Strings(cp)
	out := cp[:1]
	for _, s := range cp[1:] {
		if s != out[len(out)-1] {
			out = append(out, s)
		}
	}
	return out
}

// stringArray converts a JSON array whose elements must all be strings.
func stringArray(v []interface{}) ([]string, bool) {
	list := make([]string, 0, len(v))
	for _, e := range v {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		list = append(list, s)
	}
	return list, true
}
