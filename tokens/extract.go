package tokens

import (
	"errors"
	"net/http"
	"net/textproto"
	"strings"
)

// Source is one place a token may come from: a header, a cookie or a query parameter.
type Source struct {
	Kind string // "header", "cookie" or "query"
	Name string // canonical header name, cookie name or parameter name
}

// ParseSource parses "header:Authorization", "cookie:session" or "query:access_token".
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
	case "cookie", "query":
		return Source{Kind: kind, Name: name}, nil
	}
	return Source{}, errors.New("unknown source kind " + quote(kind) + ": want header, cookie or query")
}

// Extract returns the one token the request carries. Two values in one source, or different
// tokens in two sources, are ErrMultipleTokens; no token anywhere is ErrNoToken.
func Extract(req *http.Request, sources []Source) (string, error) {
	token := ""
	for _, src := range sources {
		t, err := fromSource(req, src)
		if err != nil {
			return "", err
		}
		if t == "" {
			continue
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

func fromSource(req *http.Request, src Source) (string, error) {
	var values []string
	switch src.Kind {
	case "header":
		values = req.Header[src.Name]
	case "cookie":
		for _, c := range req.Cookies() {
			if c.Name == src.Name {
				values = append(values, c.Value)
			}
		}
	case "query":
		if req.URL.RawQuery != "" {
			values = req.URL.Query()[src.Name]
		}
	}
	if len(values) == 0 {
		return "", nil
	}
	if len(values) > 1 {
		return "", ErrMultipleTokens
	}
	v := strings.TrimSpace(values[0])
	if src.Kind != "header" {
		return v, nil
	}
	return bearer(v, src.Name == "Authorization")
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
			q := req.URL.Query()
			if _, ok := q[src.Name]; ok {
				q.Del(src.Name)
				req.URL.RawQuery = q.Encode()
				req.RequestURI = req.URL.RequestURI()
			}
		}
	}
}

func removeCookie(req *http.Request, name string) {
	cookies := req.Cookies()
	var kept []string
	for _, c := range cookies {
		if c.Name != name {
			kept = append(kept, c.Name+"="+c.Value)
		}
	}
	if len(kept) == len(cookies) {
		return
	}
	req.Header.Del("Cookie")
	if len(kept) > 0 {
		req.Header.Set("Cookie", strings.Join(kept, "; "))
	}
}
