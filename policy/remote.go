package policy

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/tokens"
)

// Fetching from the control plane (docs/control-plane.md).
const (
	// RemoteMaxBody is the largest bundle accepted: 64 MiB, about 600,000 assignments in the
	// control plane's serialization, far past the size where a bundle stops being the right tool
	// (see BENCHMARKS.md); a larger body is refused and the last good bundle kept.
	RemoteMaxBody = 64 << 20
	// RemoteTimeout bounds one bundle fetch, body included; the request that fetches waits at
	// most this long (the others keep the bundle in force, or wait for the first one).
	RemoteTimeout = 10 * time.Second
	// BundleType and AssignmentsType are the typ of signed bundles and per-subject answers.
	BundleType      = "gatehouse-bundle+jws"
	AssignmentsType = "gatehouse-assignments+jws"

	remoteIdle = 10 * time.Minute
)

// Remote is one middleware's view of a bundle the control plane serves at a URL. The fetcher and
// the parsed bundle are shared (see SharedRemote); the interval is the middleware's own: Current
// re-checks the bundle when it is older than that, so policyReload bounds how long the middleware
// serves a bundle the control plane no longer says. Fetches happen on the request path, one at a
// time, never in a goroutine of their own. Safe for concurrent use.
type Remote struct {
	entry    *remoteEntry
	interval time.Duration
	released bool // guarded by remotesMu
}

// remoteEntry is the shared fetcher of one URL, key set and credential.
type remoteEntry struct {
	id         string
	url        string
	credential string
	keys       []*tokens.Key // nil: the bundle must be application/json
	refs       int           // guarded by remotesMu

	mu        sync.Mutex
	current   *Policy // nil until the first good bundle
	etag      string
	rev       int64     // the rev of the last signed bundle accepted, -1 before one
	checkedAt time.Time // start of the last attempt
	fetching  chan struct{}
	fetches   int
	usedAt    time.Time
	lastErr   string
}

var (
	remotesMu sync.Mutex
	remotes   = map[string]*remoteEntry{}
)

// SharedRemote returns a Remote of the bundle at rawURL, verified with keys (nil: unsigned JSON
// only; keyText names them in the registry) and fetched with credential as a Bearer token (or,
// CredentialFilePrefix and a path, the token that file holds at each fetch). Every
// Remote of the same URL, keys and credential shares one fetcher and one parsed bundle. It makes
// no request: the first Current fetches. Release gives the reference back; entries unused for 10
// minutes leave the registry at the next SharedRemote.
func SharedRemote(rawURL string, keys []*tokens.Key, keyText, credential string, interval time.Duration) *Remote {
	id := rawURL + "\x00" + keyText + "\x00" + credential
	now := time.Now()
	remotesMu.Lock()
	defer remotesMu.Unlock()
	sweepRemotes(now)
	e := remotes[id]
	if e == nil {
		e = &remoteEntry{id: id, url: rawURL, keys: keys, credential: credential, rev: -1, usedAt: now}
		remotes[id] = e
	}
	e.refs++
	e.mu.Lock()
	e.usedAt = now
	e.mu.Unlock()
	return &Remote{entry: e, interval: interval}
}

func sweepRemotes(now time.Time) {
	var idle []string
	for id, e := range remotes {
		e.mu.Lock()
		if now.Sub(e.usedAt) > remoteIdle && e.fetching == nil {
			idle = append(idle, id)
		}
		e.mu.Unlock()
	}
	for _, id := range idle {
		delete(remotes, id)
	}
}

// Release gives back the reference SharedRemote took; safe more than once, on nil, and from
// context.AfterFunc's goroutine.
func (r *Remote) Release() {
	defer func() { _ = recover() }()
	if r == nil || r.entry == nil {
		return
	}
	remotesMu.Lock()
	defer remotesMu.Unlock()
	if r.released {
		return
	}
	r.released = true
	e := r.entry
	e.refs--
	if e.refs <= 0 && remotes[e.id] == e {
		delete(remotes, e.id)
	}
}

// SharedRemoteCount returns the number of bundle fetchers in the registry.
func SharedRemoteCount() int {
	remotesMu.Lock()
	defer remotesMu.Unlock()
	return len(remotes)
}

// Current returns the bundle in force, or nil when none arrived yet (the middleware answers 503).
func (r *Remote) Current(now time.Time) *Policy { return CurrentRemote(r, now) }

// CurrentRemote is Current as a plain function, for the request path (under Yaegi a method call
// costs several function calls). When the shared bundle was last checked longer ago than r's
// interval and no fetch is under way, this caller fetches (If-None-Match) and the others keep the
// bundle in force; before the first bundle, callers wait for the fetch under way (at most
// RemoteTimeout) and get nil if it failed. A failed attempt is retried after the interval.
func CurrentRemote(r *Remote, now time.Time) *Policy {
	e := r.entry
	e.mu.Lock()
	e.usedAt = now
	p := e.current
	ch := e.fetching
	due := ch == nil && (e.checkedAt.IsZero() || now.Sub(e.checkedAt) >= r.interval)
	if due {
		ch = make(chan struct{})
		e.fetching = ch
		e.checkedAt = now
		e.fetches++
	}
	e.mu.Unlock()
	if due {
		return refreshBundle(e, ch)
	}
	if p == nil && ch != nil {
		<-ch
		e.mu.Lock()
		p = e.current
		e.mu.Unlock()
	}
	return p
}

// HasBundle reports whether a bundle arrived (without fetching).
func HasBundle(r *Remote) bool {
	r.entry.mu.Lock()
	defer r.entry.mu.Unlock()
	return r.entry.current != nil
}

// URL returns the bundle's URL.
func (r *Remote) URL() string { return r.entry.url }

// RemoteFetches returns how many fetches the shared bundle behind r made (for tests).
func RemoteFetches(r *Remote) int {
	r.entry.mu.Lock()
	defer r.entry.mu.Unlock()
	return r.entry.fetches
}

// refreshBundle performs one fetch and publishes what it got; it returns the bundle in force after.
// It recovers its own panics (the last good bundle stays).
func refreshBundle(e *remoteEntry, ch chan struct{}) (current *Policy) {
	defer func() {
		if r := recover(); r != nil {
			reportRemote(e, "bundle fetch failed: "+panicMessage(r))
		}
		e.mu.Lock()
		e.fetching = nil
		current = e.current
		e.mu.Unlock()
		close(ch)
	}()
	e.mu.Lock()
	etag := e.etag
	rev := e.rev
	have := e.current != nil
	e.mu.Unlock()
	if !have {
		etag = ""
	}
	res, err := fetchDocument(e.url, e.credential, etag, e.keys != nil)
	if err != nil {
		reportRemote(e, err.Error())
		return
	}
	if res.status == http.StatusNotModified {
		if !have {
			reportRemote(e, "GET "+e.url+": 304 Not Modified, but no bundle is held")
			return
		}
		e.mu.Lock()
		e.lastErr = ""
		e.mu.Unlock()
		return
	}
	payload, newRev, err := openDocument(res, e.keys, BundleType)
	if err != nil {
		reportRemote(e, "bundle refused: "+err.Error())
		return
	}
	if e.keys != nil && newRev < rev {
		reportRemote(e, "bundle refused: rev "+strconv.FormatInt(newRev, 10)+" is older than rev "+strconv.FormatInt(rev, 10)+", already accepted (rollback)")
		return
	}
	next, err := ParseJSON(payload)
	if err != nil {
		reportRemote(e, "bundle refused: "+err.Error())
		return
	}
	e.mu.Lock()
	e.current = next
	e.etag = res.etag
	if e.keys != nil {
		e.rev = newRev
	}
	e.lastErr = ""
	e.mu.Unlock()
	line := `{"gatehouse":"policy","url":` + jsonQuote(e.url) + `,"event":"loaded"`
	if res.revision != "" {
		line += `,"revision":` + jsonQuote(res.revision)
	}
	_, _ = os.Stderr.WriteString(line + "}\n")
	return
}

// reportRemote writes one error line per new error (a repeated one is not written again until a
// fetch succeeds), saying what the middleware does meanwhile.
func reportRemote(e *remoteEntry, msg string) {
	e.mu.Lock()
	repeat := e.lastErr == msg
	e.lastErr = msg
	kept := e.current != nil
	e.mu.Unlock()
	if repeat {
		return
	}
	then := "no bundle yet: protected routes answer 503"
	if kept {
		then = "keeping the last good bundle"
	}
	_, _ = os.Stderr.WriteString(`{"gatehouse":"policy","url":` + jsonQuote(e.url) + `,"error":` + jsonQuote(msg) + `,"then":` + jsonQuote(then) + "}\n")
}

// fetched is one answer of the control plane.
type fetched struct {
	status      int
	body        []byte
	contentType string // media type, lower case, without parameters
	etag        string
	revision    string // Gatehouse-Revision
}

// CredentialFilePrefix marks a credential read from a file at every fetch (policyCredentialFile):
// "file:" and the path. A Bearer token (token68) never holds a colon, so the two cannot be confused.
const CredentialFilePrefix = "file:"

// ReadCredential reads a Bearer credential from path (at most 64 KiB; surrounding whitespace,
// such as the final newline, is dropped) and checks it is an RFC 7235 token68.
func ReadCredential(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.Size() > 64<<10 {
		return "", errors.New(path + ": larger than 64 KiB")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	c := strings.TrimSpace(string(b))
	if !IsToken68(c) {
		return "", errors.New(path + ": not a bearer token (RFC 6750 token68: letters, digits, -._~+/ and trailing =)")
	}
	return c, nil
}

// IsToken68 reports whether s is an RFC 7235 token68, the syntax of a Bearer credential (RFC 6750
// §2.1): no space, no control byte, nothing a header could be split on.
func IsToken68(s string) bool {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
	end := len(strings.TrimRight(s, "="))
	if end == 0 {
		return false
	}
	return strings.Trim(s[:end], chars) == ""
}

// remoteClient follows no redirect: the credential goes to the configured host only, and a
// redirect is reported as the status it is.
var remoteClient = &http.Client{CheckRedirect: refuseRedirect}

func refuseRedirect(req *http.Request, via []*http.Request) error { return http.ErrUseLastResponse }

// fetchDocument GETs rawURL with the credential and If-None-Match (when etag is set), within
// RemoteTimeout, reading at most RemoteMaxBody bytes. Only 200 and 304 are answers.
func fetchDocument(rawURL, credential, etag string, signed bool) (*fetched, error) {
	return fetchWithin(rawURL, rawURL, credential, etag, signed, RemoteTimeout, RemoteMaxBody)
}

// fetchWithin is fetchDocument with its bounds; errors name the URL as name (a lookup names its
// template, so that an outage is one message whatever the subject).
func fetchWithin(rawURL, name, credential, etag string, signed bool, timeout time.Duration, maxBody int64) (*fetched, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	if signed {
		req.Header.Set("Accept", "application/jose")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	if strings.HasPrefix(credential, CredentialFilePrefix) {
		// Read at every fetch, so that a rotated token is used without a restart.
		c, err := ReadCredential(credential[len(CredentialFilePrefix):])
		if err != nil {
			return nil, errors.New("policyCredentialFile: " + err.Error())
		}
		credential = c
	}
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := remoteClient.Do(req)
	if err != nil {
		if ue, isURLError := err.(*url.Error); isURLError {
			return nil, errors.New("GET " + name + ": " + ue.Err.Error())
		}
		return nil, errors.New("GET " + name + ": " + err.Error())
	}
	defer resp.Body.Close()
	res := &fetched{status: resp.StatusCode, etag: resp.Header.Get("ETag"), revision: resp.Header.Get("Gatehouse-Revision")}
	if resp.StatusCode == http.StatusNotModified {
		return res, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New("GET " + name + ": status " + strconv.Itoa(resp.StatusCode) + problemDetail(resp.Body))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, errors.New("GET " + name + ": reading the body: " + err.Error())
	}
	if int64(len(body)) > maxBody {
		return nil, errors.New("GET " + name + ": body larger than " + strconv.FormatInt(maxBody, 10) + " bytes")
	}
	res.body = body
	ct := resp.Header.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	res.contentType = strings.ToLower(strings.TrimSpace(ct))
	return res, nil
}

// problemDetail returns ": <detail>" of an RFC 9457 problem body, bounded, or "".
func problemDetail(body io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(body, 4096))
	var problem map[string]interface{}
	if json.Unmarshal(b, &problem) != nil {
		return ""
	}
	detail, isString := problem["detail"].(string)
	if !isString || detail == "" {
		return ""
	}
	if len(detail) > 200 {
		detail = detail[:200]
	}
	return ": " + detail
}

// openDocument returns the JSON document of an answer: the body of application/json when no key
// is configured, or the verified payload of an application/jose JWS of typ when keys are, with the
// JWS header's rev (-1 unsigned).
func openDocument(res *fetched, keys []*tokens.Key, typ string) ([]byte, int64, error) {
	if keys == nil {
		if res.contentType != "application/json" {
			return nil, -1, errors.New("Content-Type " + strconv.Quote(res.contentType) + ": without policyKey only application/json is accepted")
		}
		return res.body, -1, nil
	}
	if res.contentType != "application/jose" {
		return nil, -1, errors.New("Content-Type " + strconv.Quote(res.contentType) + ": policyKey is set, so only a signed application/jose document is accepted")
	}
	header, payload, err := tokens.VerifyJWS(strings.TrimSpace(string(res.body)), keys, typ)
	if err != nil {
		return nil, -1, err
	}
	n, isNumber := header["rev"].(json.Number)
	if !isNumber {
		return nil, -1, errors.New("the JWS header has no numeric rev")
	}
	rev, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || rev < 0 {
		return nil, -1, errors.New("the JWS rev " + strconv.Quote(n.String()) + " is not a whole number, 0 or more")
	}
	return payload, rev, nil
}
