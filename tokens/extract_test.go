package tokens

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestExtractFromCookiesReadsWhatNetHTTPReads(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		want  string
		err   error
	}{
		{"a session cookie among others is found", []string{"a=1; session=tok; b=2"}, "tok", nil},
		{"a quoted cookie value is unquoted", []string{`session="tok"`}, "tok", nil},
		{"spaces around the name are trimmed as net/http trims them", []string{"a=1;  session =tok"}, "tok", nil},
		{"the cookie is found on a second Cookie line", []string{"a=1", "b=2; session=tok"}, "tok", nil},
		{"a cookie whose name ends with the name is another cookie", []string{"my_session=tok"}, "", ErrNoToken},
		{"a cookie whose name starts with the name is another cookie", []string{"sessionid=tok"}, "", ErrNoToken},
		{"the name inside another cookie's value is no cookie", []string{"a=session=tok"}, "", ErrNoToken},
		{"the name in a value before the real cookie is skipped", []string{"a=xsession; session=tok"}, "tok", nil},
		{"a value with a backslash is skipped as net/http skips it", []string{`session=a\b`}, "", ErrNoToken},
		{"a value with a non-ASCII byte is skipped", []string{"session=t\u00e9k"}, "", ErrNoToken},
		{"a skipped value does not count as a second token", []string{`session=a\b; session=tok`}, "tok", nil},
		{"a bare name is an empty cookie, so no token", []string{"session"}, "", ErrNoToken},
		{"two cookies of the name are refused", []string{"session=a; session=b"}, "", ErrMultipleTokens},
		{"the same cookie twice is refused too", []string{"session=tok", "session=tok"}, "", ErrMultipleTokens},
		{"more cookie pairs than net/http reads are refused", []string{strings.Repeat("a=1;", maxCookiePairs) + "session=tok"}, "", ErrMalformed},
	}
	sources := []Source{{Kind: "cookie", Name: "session"}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://example.test/", nil)
			req.Header["Cookie"] = c.lines
			got, err := Extract(req, sources)
			if got != c.want || err != c.err {
				t.Fatalf("got %q, %v; want %q, %v", got, err, c.want, c.err)
			}
			if c.err == ErrMalformed {
				return // net/http reads no cookie at all there
			}
			var reference []string
			for _, ck := range req.Cookies() {
				if ck.Name == "session" {
					reference = append(reference, ck.Value)
				}
			}
			ours, _ := cookieValues(c.lines, "session")
			if !reflect.DeepEqual(ours, reference) {
				t.Fatalf("cookieValues = %q, net/http reads %q", ours, reference)
			}
		})
	}
}

func TestExtractFromTheQuery(t *testing.T) {
	long := strings.Repeat("x", maxRawQuery)
	cases := []struct {
		name  string
		query string
		want  string
		err   error
	}{
		{"the parameter is found", "a=1&access_token=tok", "tok", nil},
		{"an escaped parameter name is found as URL.Query finds it", "access%5Ftoken=tok", "tok", nil},
		{"a pair holding a semicolon is skipped as URL.Query skips it", "access_token=tok;x=1", "", ErrNoToken},
		{"two values are refused", "access_token=a&access_token=b", "", ErrMultipleTokens},
		{"a long query that cannot hold the parameter is not parsed", "q=" + long, "", ErrNoToken},
		{"a long query that names the parameter is refused before parsing", "q=" + long + "&access_token=tok", "", ErrTooLarge},
		{"a long query with escapes is refused before unescaping", "q=%41" + long, "", ErrTooLarge},
		{"a query exactly at the bound is parsed", "access_token=tok&q=" + long[:maxRawQuery-len("access_token=tok&q=")], "tok", nil},
	}
	sources := []Source{{Kind: "query", Name: "access_token"}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://example.test/", nil)
			req.URL.RawQuery = c.query
			got, err := Extract(req, sources)
			if got != c.want || err != c.err {
				t.Fatalf("got %q, %v; want %q, %v", got, err, c.want, c.err)
			}
		})
	}
}

func TestExtractRefusesATokenOverTheCap(t *testing.T) {
	big := strings.Repeat("a", MaxTokenSize+1)
	cases := []struct {
		name   string
		source Source
		setup  func(*http.Request)
		err    error
	}{
		{"a bearer token over 8 KiB is refused", Source{Kind: "header", Name: "Authorization"},
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+big) }, ErrTooLarge},
		{"a bearer token of exactly 8 KiB is passed on", Source{Kind: "header", Name: "Authorization"},
			func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+big[1:]) }, nil},
		{"a cookie token over 8 KiB is refused", Source{Kind: "cookie", Name: "session"},
			func(r *http.Request) { r.Header.Set("Cookie", "session="+big) }, ErrTooLarge},
		{"a query token over 8 KiB is refused", Source{Kind: "query", Name: "access_token"},
			func(r *http.Request) { r.URL.RawQuery = "access_token=" + big }, ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://example.test/", nil)
			c.setup(req)
			if _, err := Extract(req, []Source{c.source}); err != c.err {
				t.Fatalf("got %v, want %v", err, c.err)
			}
		})
	}
}

func TestParseSourceRefusesCookieNamesNoCookieCarries(t *testing.T) {
	cases := []struct {
		name string
		in   string
		ok   bool
	}{
		{"a token cookie name is accepted", "cookie:__Host-session", true},
		{"a cookie name with a space is refused", "cookie:my session", false},
		{"a cookie name with an equals sign is refused", "cookie:a=b", false},
		{"a cookie name with a semicolon is refused", "cookie:a;b", false},
		{"a query name with a space is accepted", "query:my param", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseSource(c.in); (err == nil) != c.ok {
				t.Fatalf("ParseSource(%q): %v", c.in, err)
			}
		})
	}
}

func TestASingleHeaderSourceReadsEverySpellingOfTheSchemeAsTheGeneralLoop(t *testing.T) {
	cases := []struct {
		name  string
		value string
		want  string
		err   error
	}{
		{"Bearer as clients spell it is stripped", "Bearer tok", "tok", nil},
		{"a lower-case scheme is stripped too", "bearer tok", "tok", nil},
		{"an upper-case scheme is stripped too", "BEARER tok", "tok", nil},
		{"a tab after the scheme separates it", "Bearer\ttok", "tok", nil},
		{"spaces after the scheme are trimmed", "Bearer   tok ", "tok", nil},
		{"the scheme alone is malformed", "Bearer", "", ErrMalformed},
		{"the scheme and white space only is malformed", "Bearer    ", "", ErrMalformed},
		{"a scheme glued to the token is no bearer token", "Bearertok", "", ErrNoToken},
		{"another scheme carries no bearer token", "Basic dXNlcg==", "", ErrNoToken},
		{"a token may start with the first visible ASCII character", "Bearer !tok", "!tok", nil},
		{"a token may start with the last visible ASCII character", "Bearer ~tok", "~tok", nil},
		{"a token starting with DEL is read by the general rule", "Bearer \x7ftok", "\x7ftok", nil},
		{"a no-break space after the scheme is trimmed", "Bearer \u00a0tok", "tok", nil},
		{"a next-line character after the scheme is trimmed", "Bearer \u0085tok", "tok", nil},
		{"an ideographic space after the scheme is trimmed", "Bearer \u3000tok", "tok", nil},
		{"a non-ASCII letter starting the token is kept", "Bearer \u00e9tok", "\u00e9tok", nil},
		{"a form feed after the scheme is trimmed", "Bearer \ftok", "tok", nil},
		{"a token of the cap is read", "Bearer " + strings.Repeat("t", MaxTokenSize), strings.Repeat("t", MaxTokenSize), nil},
		{"a token over the cap is refused", "Bearer " + strings.Repeat("t", MaxTokenSize+1), "", ErrTooLarge},
		{"a token over the cap after more white space is refused", "Bearer  " + strings.Repeat("t", MaxTokenSize+1), "", ErrTooLarge},
	}
	sources := []Source{{Kind: "header", Name: "Authorization"}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "http://example.test/", nil)
			req.Header["Authorization"] = []string{c.value}
			got, err := Extract(req, sources)
			if got != c.want || err != c.err {
				t.Fatalf("Extract = %q, %v; want %q, %v", got, err, c.want, c.err)
			}
			loop, loopErr := extract(req, sources)
			if got != loop || err != loopErr {
				t.Fatalf("Extract = %q, %v; the general loop reads %q, %v", got, err, loop, loopErr)
			}
		})
	}
}
