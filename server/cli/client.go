package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds what the CLI reads from one response: an export of 100,000 assignments is about
// 10 MiB, so this leaves room and still refuses a runaway peer.
const maxBody = 256 << 20

// Problem is an RFC 9457 problem as the admin API writes it (docs/control-plane.md, "Admin API").
type Problem struct {
	Type   string `json:"type,omitempty"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	Field  string `json:"field,omitempty"`
}

// Error prints the problem the way the CLI reports it: "<title>: <detail> (field <field>)".
func (p *Problem) Error() string {
	s := p.Title
	if s == "" {
		s = http.StatusText(p.Status)
	}
	if p.Detail != "" && p.Detail != s {
		s += ": " + p.Detail
	}
	if p.Field != "" {
		s += " (field " + p.Field + ")"
	}
	return s
}

// client is an HTTP client of the admin API, authenticated with the admin's JWT.
type client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// response is an answer the API gave with a 2xx status.
type response struct {
	status int
	header http.Header
	body   []byte
}

// etag returns the response's ETag, or "" when there is none.
func (r *response) etag() string { return r.header.Get("ETag") }

// beforeWrite runs just before a PUT or DELETE leaves: the tests make a concurrent change there,
// between the read whose version the write sends and the write itself.
var beforeWrite = func() {}

// do sends one request; a problem (or any non-2xx answer) comes back as an error. ifMatch, when
// not empty, is sent as If-Match (an ETag, quoted as the API wrote it).
func (c *client) do(ctx context.Context, method, path string, query url.Values, body []byte, contentType, ifMatch string) (*response, error) {
	u := *c.base
	plain, err := url.PathUnescape(path)
	if err != nil {
		return nil, err
	}
	u.Path = strings.TrimSuffix(c.base.Path, "/") + plain
	u.RawPath = strings.TrimSuffix(c.base.EscapedPath(), "/") + path
	u.RawQuery = ""
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json, application/problem+json")
	if body != nil {
		if contentType == "" {
			contentType = "application/json"
		}
		req.Header.Set("Content-Type", contentType)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	if method == http.MethodPut || method == http.MethodDelete {
		beforeWrite()
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, redact(u), unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, redact(u), err)
	}
	if len(raw) > maxBody {
		return nil, fmt.Errorf("%s %s: the answer is larger than %d MiB", method, redact(u), maxBody>>20)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, problemOf(resp, raw)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// seg escapes one path segment (a subject such as "svc/ci" stays one segment: path is always
// built from escaped segments, and do keeps that escaping as the URL's RawPath).
func seg(s string) string { return url.PathEscape(s) }

// problemOf turns a non-2xx answer into a *Problem: the API's own problem when it wrote one,
// otherwise the status and the first line of the body.
func problemOf(resp *http.Response, raw []byte) error {
	p := &Problem{}
	if strings.Contains(resp.Header.Get("Content-Type"), "json") && json.Unmarshal(raw, p) == nil && (p.Title != "" || p.Detail != "") {
		if p.Status == 0 {
			p.Status = resp.StatusCode
		}
		return p
	}
	p = &Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode)}
	if p.Title == "" {
		p.Title = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	p.Detail = printable(line)
	return p
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the method and URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errors.New("no answer within the timeout")
		}
		return ue.Err
	}
	return err
}

// redact returns the URL without user information, for messages.
func redact(u url.URL) string {
	u.User = nil
	return u.String()
}

// newClient checks the server URL and the token and returns a client.
func newClient(server, token string, timeout time.Duration) (*client, error) {
	if server == "" {
		return nil, usageError("no control plane: give --server URL or set GATEHOUSE_SERVER")
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageError(fmt.Sprintf("--server %q: want an absolute http:// or https:// URL", server))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, usageError(fmt.Sprintf("--server %q: a base URL has no query or fragment", server))
	}
	if token == "" {
		return nil, usageError("no admin token: give --token, --token-file or set GATEHOUSE_TOKEN")
	}
	for _, r := range token {
		if r < 0x21 || r > 0x7e {
			return nil, usageError("the admin token holds a space or a control byte: it must be one JWT")
		}
	}
	return &client{base: u, token: token, http: &http.Client{Timeout: timeout}}, nil
}

// usageError is a mistake in the command line: exit status 2.
type usageError string

func (e usageError) Error() string { return string(e) }
