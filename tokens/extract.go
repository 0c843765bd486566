package tokens

import (
	"errors"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Source is one place a token may come from: a header, a cookie or a query parameter.
type Source struct {
	Kind string // "header", "cookie" or "query"
	Name string // canonical header name, cookie name or parameter name
}

// ParseSource parses "header:Authorization", "cookie:session" or "query:access_token". A cookie
// name must be an RFC 6265 §4.1.1 cookie-name (an RFC 9110 §5.6.2 token), the only names a Cookie
// header can carry.
func ParseSource(s string) (Source, error) {
	kind, name, ok := strings.Cut(strings.TrimSpace(s), ":")
	kind = strings.ToLower(strings.TrimSpace(kind))
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return Source{}, errors.New("want header:NAME, cookie:NAME or query:NAME")
	}
	switch kind {
	case "header":
		return Source{Kind: kind, Name: textproto.CanonicalMIMEHeaderKey(name)}, nil
	case "cookie":
		if strings.Trim(name, tchars) != "" {
			return Source{}, errors.New("cookie name " + quote(name) + " is not a token (RFC 6265 §4.1.1)")
		}
		return Source{Kind: kind, Name: name}, nil
	case "query":
		return Source{Kind: kind, Name: name}, nil
	}
	return Source{}, errors.New("unknown source kind " + quote(kind) + ": want header, cookie or query")
}

// tchars are the characters of an RFC 9110 §5.6.2 token.
const tchars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

const (
	// maxCookiePairs bounds the cookie pairs read from one request, as net/http does since Go
	// 1.24.8 (GODEBUG httpcookiemaxnum=3000); a request with more is refused (ErrMalformed).
	maxCookiePairs = 3000
	// maxRawQuery bounds the raw query parsed for a query source: a longer query that may carry
	// the parameter is refused (ErrTooLarge) before any of it is unescaped or copied.
	maxRawQuery = 4 * MaxTokenSize
	// badCookieBytes may not appear in a cookie value (net/http's validCookieValueByte), besides
	// non-ASCII bytes.
	badCookieBytes = controls + "\"\\"
)

// Extract returns the one token the request carries. Two values in one source, or different
// tokens in two sources, are ErrMultipleTokens; no token anywhere is ErrNoToken; a token longer
// than MaxTokenSize is ErrTooLarge. The token is a substring of the request (a header, cookie or
// query value): Extract copies nothing, so an oversized one costs no more than a scan. A header
// source, the common case, is read here; cookies and queries in sourceValues.
//
// Under Yaegi, the most common configuration, one header source (Authorization by default), is
// read by HeaderToken, whose frame is a fraction of the general loop's (see docs/yaegi.md).
func Extract(req *http.Request, sources []Source) (string, error) {
	if len(sources) == 1 {
		if sources[0].Kind == "header" {
			return HeaderToken(req.Header[sources[0].Name], sources[0].Name == "Authorization")
		}
	}
	return extract(req, sources)
}

// HeaderToken is Extract for a single header source: values are the header's values
// (req.Header[name]), and authorization says whether it is Authorization, in which another scheme
// carries no bearer token. It answers what the general loop answers for that source, in the same
// order of checks. Code that knows its only source is one header may call it instead of Extract
// (under Yaegi, one call and Extract's frame fewer).
func HeaderToken(values []string, authorization bool) (string, error) {
	if len(values) != 1 {
		return noHeaderToken(values)
	}
	t := trimSpace(values[0])
	// "Bearer " and a token that starts with a visible ASCII character, spelt as nearly every client
	// sends it, is read here: the token is then t[7:], already trimmed (t is) and not empty (one
	// string comparison and a byte test; no compiled EqualFold or TrimSpace). The byte test is
	// '!' <= c <= '~' as one unsigned comparison. bearer reads the rest (other spellings of the
	// scheme, more white space), with the same result.
	if len(t) > 7 {
		if t[:7] == "Bearer " {
			if t[7]-'!' <= '~'-'!' {
				if len(t) > 7+MaxTokenSize {
					return "", ErrTooLarge
				}
				return t[7:], nil
			}
		}
	}
	t, err := bearer(t, authorization)
	switch err { // no slot for the comparison, as in verifyToken
	case nil:
	default:
		return "", err
	}
	if t == "" {
		return "", ErrNoToken
	}
	if len(t) > MaxTokenSize {
		return "", ErrTooLarge
	}
	return t, nil
}

// noHeaderToken is HeaderToken's answer for a header that is absent or repeated.
func noHeaderToken(values []string) (string, error) {
	if len(values) == 0 {
		return "", ErrNoToken
	}
	return "", ErrMultipleTokens
}

// extract is Extract for any list of sources.
func extract(req *http.Request, sources []Source) (string, error) {
	token := ""
	var values []string
	var err error
	var t string
	for _, src := range sources {
		if src.Kind == "header" {
			values = req.Header[src.Name]
		} else if values, err = sourceValues(req, src); err != nil {
			return "", err
		}
		if len(values) == 0 {
			continue
		}
		if len(values) > 1 {
			return "", ErrMultipleTokens
		}
		t = strings.TrimSpace(values[0])
		if src.Kind == "header" {
			if t, err = bearer(t, src.Name == "Authorization"); err != nil {
				return "", err
			}
		}
		if t == "" {
			continue
		}
		if len(t) > MaxTokenSize {
			return "", ErrTooLarge
		}
		if token != "" && t != token {
			return "", ErrMultipleTokens
		}
		token = t
	}
	if token == "" {
		return "", ErrNoToken
	}
	return token, nil
}

// sourceValues returns the values a cookie or query source carries.
func sourceValues(req *http.Request, src Source) ([]string, error) {
	switch src.Kind {
	case "cookie":
		return cookieValues(req.Header["Cookie"], src.Name)
	case "query":
		return queryValues(req.URL.RawQuery, src.Name)
	}
	return nil, nil
}

// cookieValues returns the values of the cookies named name, as net/http's Request.Cookies reads
// them (pairs split on ";", trimmed, name before the first "=", surrounding double quotes removed,
// a pair with a byte not allowed in a cookie value skipped), but without allocating a Cookie per
// pair: it visits only the pairs in which name occurs, and returns substrings of the header. It
// stops at the second value (ErrMultipleTokens follows).
func cookieValues(lines []string, name string) ([]string, error) {
	pairs := 0
	for _, line := range lines {
		pairs += strings.Count(line, ";") + 1
	}
	if pairs > maxCookiePairs {
		return nil, ErrMalformed
	}
	var values []string
	for _, line := range lines {
		rest := line
		for len(values) < 2 {
			i := strings.Index(rest, name)
			if i < 0 {
				break
			}
			start := strings.LastIndexByte(rest[:i], ';') + 1
			part := rest[start:]
			rest = ""
			if end := strings.IndexByte(part, ';'); end >= 0 {
				rest = part[end+1:]
				part = part[:end]
			}
			if v, ok := cookiePair(part, name); ok {
				values = append(values, v)
			}
		}
	}
	return values, nil
}

// cookiePair returns the value of one cookie pair if its name is name and its value is valid.
func cookiePair(part, name string) (string, bool) {
	n, v, _ := strings.Cut(textproto.TrimString(part), "=")
	if textproto.TrimString(n) != name {
		return "", false
	}
	if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	ascii := utf8.ValidString(v) && utf8.RuneCountInString(v) == len(v)
	return v, ascii && !strings.ContainsAny(v, badCookieBytes)
}

// queryValues returns the values of the query parameter name, as URL.Query reads them. A query
// in which name cannot occur (neither literally nor through %-escapes or "+") is not parsed; one
// that may carry it and exceeds maxRawQuery is refused before parsing.
func queryValues(raw, name string) ([]string, error) {
	if raw == "" || (!strings.Contains(raw, name) && !strings.ContainsAny(raw, "%+")) {
		return nil, nil
	}
	if len(raw) > maxRawQuery {
		return nil, ErrTooLarge
	}
	q, _ := url.ParseQuery(raw) // like URL.Query: malformed pairs are skipped
	return q[name], nil
}

// bearer strips the case-insensitive "Bearer" scheme (RFC 6750 §2.1). In Authorization another
// scheme (Basic, ...) carries no bearer token; in other headers the scheme is optional.
func bearer(v string, authorization bool) (string, error) {
	if len(v) >= 6 && strings.EqualFold(v[:6], "bearer") {
		if len(v) == 6 {
			return "", ErrMalformed
		}
		if v[6] == ' ' || v[6] == '\t' {
			t := strings.TrimSpace(v[7:])
			if t == "" {
				return "", ErrMalformed
			}
			return t, nil
		}
	}
	if authorization {
		return "", nil
	}
	return v, nil
}

// Remove deletes the token from every source, for forwardToken: false.
func Remove(req *http.Request, sources []Source) {
	for _, src := range sources {
		switch src.Kind {
		case "header":
			req.Header.Del(src.Name)
		case "cookie":
			removeCookie(req, src.Name)
		case "query":
			if values, _ := queryValues(req.URL.RawQuery, src.Name); len(values) > 0 {
				req.URL.RawQuery = withoutParam(req.URL.RawQuery, src.Name)
				req.RequestURI = req.URL.RequestURI()
			}
		}
	}
}

// withoutParam removes every name=value pair whose decoded name is name and keeps every other byte of
// the query as the client sent it (no re-encoding, no reordering: the backend reads the rest of the
// query exactly as it was).
func withoutParam(rawQuery, name string) string {
	pairs := strings.Split(rawQuery, "&")
	kept := pairs[:0]
	for _, pair := range pairs {
		key := pair
		if i := strings.IndexByte(pair, '='); i >= 0 {
			key = pair[:i]
		}
		if k, err := url.QueryUnescape(key); err == nil && k == name {
			continue
		}
		kept = append(kept, pair)
	}
	return strings.Join(kept, "&")
}

// removeCookie removes every cookie pair named name from the Cookie header lines and keeps every other
// pair as the client sent it (invalid pairs and quoting included: the backend reads the rest as it was).
func removeCookie(req *http.Request, name string) {
	lines := req.Header["Cookie"]
	if len(lines) == 0 {
		return
	}
	var out []string
	removed := false
	for _, line := range lines {
		var kept []string
		for _, pair := range strings.Split(line, ";") {
			n := pair
			if i := strings.IndexByte(pair, '='); i >= 0 {
				n = pair[:i]
			}
			if strings.TrimSpace(n) == name {
				removed = true
				continue
			}
			kept = append(kept, strings.TrimSpace(pair))
		}
		if len(kept) > 0 {
			out = append(out, strings.Join(kept, "; "))
		}
	}
	if !removed {
		return
	}
	if len(out) == 0 {
		delete(req.Header, "Cookie")
		return
	}
	req.Header["Cookie"] = out
}
