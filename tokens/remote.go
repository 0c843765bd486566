package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RemoteSettings tune how a remote key set is fetched.
type RemoteSettings struct {
	Cooldown time.Duration // minimum time between two fetches of one key set, whatever the request rate
	Refresh  time.Duration // age after which a use triggers a background refresh
	Timeout  time.Duration // HTTP timeout of one fetch
	MaxBody  int64         // largest accepted response body
}

// DefaultRemoteSettings are the defaults: 10 s cooldown, 15 min refresh, 5 s timeout, 1 MiB body.
var DefaultRemoteSettings = RemoteSettings{Cooldown: 10 * time.Second, Refresh: 15 * time.Minute, Timeout: 5 * time.Second, MaxBody: 1 << 20}

// RemoteSet is one middleware's handle on a JWKS fetched from a URL, or from the jwks_uri of an
// issuer's OIDC discovery document. The key set behind it is shared (see SharedJWKS) and safe for
// concurrent use. It never fetches on creation; it fetches on first use, on an unknown kid (one
// fetch in flight, at most one per Cooldown) and in the background when older than Refresh. It
// keeps the last good keys when the endpoint fails. It starts no long-lived goroutine.
type RemoteSet struct {
	shared   *remoteState
	released bool // guarded by registryMu
}

// remoteState is the key set of one source under one set of settings, shared by every RemoteSet
// that names both.
type remoteState struct {
	id       string // the registry key: kind, settings and source
	source   string // the JWKS URL, or the issuer for discovery
	viaOIDC  bool
	settings RemoteSettings // fixed at creation: a set never takes another middleware's settings
	refs     int            // RemoteSets not yet released; guarded by registryMu

	mu        sync.Mutex
	usedAt    time.Time // last Candidates or new reference, by registryClock
	jwksURL   string
	matches   map[string][]*Key // alg + "\x00" + kid → the keys match returns (kid "": all); read-only
	all       []*Key
	prints    map[string]*Key
	fetchedAt time.Time
	attemptAt time.Time
	fetching  chan struct{}
	fetches   int
	lastErr   string
}

var (
	registryMu sync.Mutex
	registry   = map[string]*remoteState{}

	// registryIdle is how long a shared key set may go unused (no Candidates call, no new
	// reference) before the next registry access drops it. Older Traefik versions never cancel
	// New's context, so Release may never come; this sweep bounds the registry there.
	registryIdle = time.Hour
	// registryClock is the registry's clock, replaced by tests.
	registryClock = time.Now
)

// SharedJWKS returns a handle on the process-wide key set of a JWKS URL under settings, creating the
// set (without fetching) if needed. Sets are shared per URL and per settings: two middlewares with
// the same URL and the same settings share one set and its fetches; with different settings
// (cooldown, refresh, timeout or body limit) each gets its own set that follows its own settings.
// The handle holds a reference on the set until Release. A set with no reference left, or unused
// for longer than an hour (no Candidates call through any handle, no new handle), leaves the
// registry; handles that still hold it keep working, and the next SharedJWKS starts a new set.
func SharedJWKS(url string, settings RemoteSettings) *RemoteSet {
	return shared("jwks", url, false, settings)
}

// SharedDiscovery returns a handle on the process-wide key set of an issuer, found through OIDC
// discovery (issuer + "/.well-known/openid-configuration" → jwks_uri), shared as SharedJWKS shares.
func SharedDiscovery(issuer string, settings RemoteSettings) *RemoteSet {
	return shared("oidc", issuer, true, settings)
}

// SharedSetCount returns the number of key sets in the registry, after dropping the idle ones.
func SharedSetCount() int {
	registryMu.Lock()
	defer registryMu.Unlock()
	sweepRegistry(registryClock())
	return len(registry)
}

func shared(kind, source string, viaOIDC bool, settings RemoteSettings) *RemoteSet {
	id := registryKey(kind, source, settings)
	now := registryClock()
	registryMu.Lock()
	defer registryMu.Unlock()
	sweepRegistry(now)
	st := registry[id]
	if st == nil {
		st = &remoteState{id: id, source: source, viaOIDC: viaOIDC, settings: settings}
		registry[id] = st
	}
	st.refs++
	st.mu.Lock()
	st.usedAt = now
	st.mu.Unlock()
	return &RemoteSet{shared: st}
}

// registryKey names a set by everything that shapes its fetching. The source comes last, so the
// fixed number of fields before it keeps the key unambiguous.
func registryKey(kind, source string, s RemoteSettings) string {
	return kind + " " + strconv.FormatInt(int64(s.Cooldown), 10) + " " + strconv.FormatInt(int64(s.Refresh), 10) + " " +
		strconv.FormatInt(int64(s.Timeout), 10) + " " + strconv.FormatInt(s.MaxBody, 10) + " " + source
}

// sweepRegistry drops the sets unused for longer than registryIdle. Call with registryMu held.
func sweepRegistry(now time.Time) {
	var idle []string
	for id, st := range registry {
		st.mu.Lock()
		if now.Sub(st.usedAt) > registryIdle {
			idle = append(idle, id)
		}
		st.mu.Unlock()
	}
	for _, id := range idle {
		delete(registry, id)
	}
}

// Release gives back the reference SharedJWKS or SharedDiscovery took. Once every handle on a set
// is released, the set leaves the registry; the handle keeps working, its set just is no longer
// shared (the next SharedJWKS of the same source and settings starts a new one). Release is safe to
// call more than once, on a nil RemoteSet, and from any goroutine: it never panics.
func (s *RemoteSet) Release() {
	defer func() { _ = recover() }() // called from context.AfterFunc's goroutine: a panic would kill Traefik
	if s == nil || s.shared == nil {
		return
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if s.released {
		return
	}
	s.released = true
	st := s.shared
	st.refs--
	if st.refs <= 0 && registry[st.id] == st {
		delete(registry, st.id)
	}
}

// Candidates returns the keys that may verify a token with this kid and alg, fetching as the rules
// above allow. It returns ErrKeysUnavailable when no key was ever fetched, ErrUnknownKey otherwise.
// The returned slice is shared: callers must not modify it.
func (s *RemoteSet) Candidates(kid, alg string, now time.Time) ([]*Key, error) {
	return remoteKeys(s, kid, alg, now)
}

// remoteKeys is Candidates as the verifier calls it on every request that uses a remote key set: a
// plain function with one lock and one map index when the keys are known (a method call, and each
// method it calls, costs several plain calls under Yaegi); everything else is candidates.
func remoteKeys(set *RemoteSet, kid, alg string, now time.Time) ([]*Key, error) {
	s := set.shared
	wall := registryClock()
	s.mu.Lock()
	s.usedAt = wall
	keys := s.matches[alg+"\x00"+kid]
	stale := len(keys) > 0 && now.Sub(s.fetchedAt) >= s.settings.Refresh
	s.mu.Unlock()
	if len(keys) == 0 {
		return s.candidates(kid, alg, now, wall)
	}
	if stale {
		s.refreshInBackground(now)
	}
	return keys, nil
}

func (s *remoteState) candidates(kid, alg string, now, wall time.Time) ([]*Key, error) {
	s.mu.Lock()
	s.usedAt = wall
	keys := s.match(kid, alg)
	stale := s.all != nil && now.Sub(s.fetchedAt) >= s.settings.Refresh
	s.mu.Unlock()
	if len(keys) > 0 {
		if stale {
			s.refreshInBackground(now)
		}
		return keys, nil
	}
	if s.refetch(now) {
		s.mu.Lock()
		keys = s.match(kid, alg)
		s.mu.Unlock()
		if len(keys) > 0 {
			return keys, nil
		}
	}
	s.mu.Lock()
	have := s.all != nil
	s.mu.Unlock()
	if !have {
		return nil, ErrKeysUnavailable
	}
	return nil, ErrUnknownKey
}

// match must be called with mu held. It returns the keys with this kid (every key when kid is
// empty) that accept alg, in the key set's order, from the index publish built.
func (s *remoteState) match(kid, alg string) []*Key {
	return s.matches[alg+"\x00"+kid]
}

// matchIndex builds the index match reads: for every algorithm, the keys of the set that accept it
// (under alg + "\x00"), and those of each kid (under alg + "\x00" + kid), in the set's order. An
// algorithm name holds no NUL, so the first NUL ends it. Its size is bounded by the key set's: at
// most two entries per key and algorithm the key accepts.
func matchIndex(keys []*Key) map[string][]*Key {
	index := map[string][]*Key{}
	for alg := range algFamily {
		for _, k := range keys {
			if !k.Accepts(alg) {
				continue
			}
			index[alg+"\x00"] = append(index[alg+"\x00"], k)
			if k.ID != "" {
				index[alg+"\x00"+k.ID] = append(index[alg+"\x00"+k.ID], k)
			}
		}
	}
	return index
}

// refetch fetches now unless the cooldown forbids it; if a fetch is already in flight it waits for
// it. It reports whether fresh data may be there.
func (s *remoteState) refetch(now time.Time) bool {
	s.mu.Lock()
	if ch := s.fetching; ch != nil {
		s.mu.Unlock()
		<-ch
		return true
	}
	if !s.attemptAt.IsZero() && now.Sub(s.attemptAt) < s.settings.Cooldown {
		s.mu.Unlock()
		return false
	}
	ch := s.begin(now)
	s.mu.Unlock()
	s.fetch(ch)
	return true
}

func (s *remoteState) refreshInBackground(now time.Time) {
	s.mu.Lock()
	if s.fetching != nil || now.Sub(s.attemptAt) < s.settings.Cooldown {
		s.mu.Unlock()
		return
	}
	ch := s.begin(now)
	s.mu.Unlock()
	go s.fetch(ch)
}

// begin must be called with mu held.
func (s *remoteState) begin(now time.Time) chan struct{} {
	ch := make(chan struct{})
	s.fetching = ch
	s.attemptAt = now
	s.fetches++
	return ch
}

// fetch performs one fetch and publishes its result. It recovers its own panics: a panic in a
// goroutine would kill Traefik.
func (s *remoteState) fetch(done chan struct{}) {
	var keys []*Key
	var prints []string
	err := errors.New("fetch panicked")
	defer func() {
		if r := recover(); r != nil {
			keys = nil
		}
		s.publish(keys, prints, err)
		close(done)
	}()
	keys, prints, err = s.download()
}

func (s *remoteState) publish(keys []*Key, prints []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetching = nil
	if err != nil {
		s.lastErr = err.Error()
		if s.viaOIDC {
			s.jwksURL = "" // discover again next time
		}
		_, _ = os.Stderr.WriteString(`{"gatehouse":"jwks","source":` + quote(s.source) + `,"error":` + quote(s.lastErr) + `,"keptKeys":` + itoa(len(s.all)) + "}\n")
		return
	}
	next := make(map[string]*Key, len(keys))
	for i, k := range keys {
		next[prints[i]] = k
	}
	for fp, old := range s.prints {
		if next[fp] == nil {
			old.retire()
		}
	}
	if len(keys) == 0 {
		keys = []*Key{} // fetched and empty: every token now fails with ErrUnknownKey, not ErrKeysUnavailable
		_, _ = os.Stderr.WriteString(`{"gatehouse":"jwks","source":` + quote(s.source) + `,"warning":"the key set holds no usable signature key"}` + "\n")
	}
	s.all = keys
	s.matches = matchIndex(keys)
	s.prints = next
	s.fetchedAt = s.attemptAt
	s.lastErr = ""
}

func (s *remoteState) download() ([]*Key, []string, error) {
	s.mu.Lock()
	settings, url, previous := s.settings, s.jwksURL, s.prints
	s.mu.Unlock()
	if !s.viaOIDC {
		url = s.source
	} else if url == "" {
		var err error
		if url, err = discover(s.source, settings); err != nil {
			return nil, nil, err
		}
		s.mu.Lock()
		s.jwksURL = url
		s.mu.Unlock()
	}
	body, err := get(url, settings)
	if err != nil {
		return nil, nil, err
	}
	return ParseJWKS(body, previous)
}

// discover reads the issuer's OpenID Provider metadata (OIDC Discovery 1.0 §4) and returns jwks_uri.
// The document's issuer must equal the configured issuer exactly (§4.3).
func discover(issuer string, settings RemoteSettings) (string, error) {
	body, err := get(strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", settings)
	if err != nil {
		return "", err
	}
	var doc map[string]interface{}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", errors.New("discovery document is not JSON")
	}
	iss, _ := doc["issuer"].(string)
	uri, _ := doc["jwks_uri"].(string)
	if iss != issuer {
		return "", errors.New("discovery document names issuer " + quote(iss))
	}
	if uri == "" {
		return "", errors.New("discovery document has no jwks_uri")
	}
	return uri, nil
}

func get(url string, settings RemoteSettings) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), settings.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New("GET " + url + ": status " + itoa(resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, settings.MaxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > settings.MaxBody {
		return nil, errors.New("GET " + url + ": body larger than " + itoa(int(settings.MaxBody)) + " bytes")
	}
	return body, nil
}
