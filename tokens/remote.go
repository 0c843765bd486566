package tokens

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"
)

// RemoteSettings tune how a remote key set is fetched.
type RemoteSettings struct {
	Cooldown time.Duration // minimum time between two fetches of one URL, whatever the request rate
	Refresh  time.Duration // age after which a use triggers a background refresh
	Timeout  time.Duration // HTTP timeout of one fetch
	MaxBody  int64         // largest accepted response body
}

// DefaultRemoteSettings are the defaults: 10 s cooldown, 15 min refresh, 5 s timeout, 1 MiB body.
var DefaultRemoteSettings = RemoteSettings{Cooldown: 10 * time.Second, Refresh: 15 * time.Minute, Timeout: 5 * time.Second, MaxBody: 1 << 20}

// RemoteSet is a JWKS fetched from a URL, or from the jwks_uri of an issuer's OIDC discovery
// document. It is shared by every middleware instance that names the same source (see SharedJWKS)
// and safe for concurrent use. It never fetches on creation; it fetches on first use, on an unknown
// kid (one fetch in flight, at most one per Cooldown) and in the background when older than Refresh.
// It keeps the last good keys when the endpoint fails. It starts no long-lived goroutine.
type RemoteSet struct {
	source  string // the JWKS URL, or the issuer for discovery
	viaOIDC bool

	mu        sync.Mutex
	settings  RemoteSettings
	jwksURL   string
	byKid     map[string][]*Key
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
	registry   = map[string]*RemoteSet{}
)

// SharedJWKS returns the process-wide key set of a JWKS URL, creating it (without fetching) if needed.
// The settings of the latest caller apply.
func SharedJWKS(url string, settings RemoteSettings) *RemoteSet {
	return shared("jwks "+url, url, false, settings)
}

// SharedDiscovery returns the process-wide key set of an issuer, found through OIDC discovery
// (issuer + "/.well-known/openid-configuration" → jwks_uri).
func SharedDiscovery(issuer string, settings RemoteSettings) *RemoteSet {
	return shared("oidc "+issuer, issuer, true, settings)
}

func shared(id, source string, viaOIDC bool, settings RemoteSettings) *RemoteSet {
	registryMu.Lock()
	defer registryMu.Unlock()
	s := registry[id]
	if s == nil {
		s = &RemoteSet{source: source, viaOIDC: viaOIDC}
		registry[id] = s
	}
	s.mu.Lock()
	s.settings = settings
	s.mu.Unlock()
	return s
}

// Candidates returns the keys that may verify a token with this kid and alg, fetching as the rules
// above allow. It returns ErrKeysUnavailable when no key was ever fetched, ErrUnknownKey otherwise.
func (s *RemoteSet) Candidates(kid, alg string, now time.Time) ([]*Key, error) {
	s.mu.Lock()
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

// match must be called with mu held.
func (s *RemoteSet) match(kid, alg string) []*Key {
	var out []*Key
	list := s.all
	if kid != "" {
		list = s.byKid[kid]
	}
	for _, k := range list {
		if k.Accepts(alg) {
			out = append(out, k)
		}
	}
	return out
}

// refetch fetches now unless the cooldown forbids it; if a fetch is already in flight it waits for
// it. It reports whether fresh data may be there.
func (s *RemoteSet) refetch(now time.Time) bool {
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

func (s *RemoteSet) refreshInBackground(now time.Time) {
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
func (s *RemoteSet) begin(now time.Time) chan struct{} {
	ch := make(chan struct{})
	s.fetching = ch
	s.attemptAt = now
	s.fetches++
	return ch
}

// fetch performs one fetch and publishes its result. It recovers its own panics: a panic in a
// goroutine would kill Traefik.
func (s *RemoteSet) fetch(done chan struct{}) {
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

func (s *RemoteSet) publish(keys []*Key, prints []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetching = nil
	if err != nil || len(keys) == 0 {
		if err != nil {
			s.lastErr = err.Error()
		}
		if s.viaOIDC {
			s.jwksURL = "" // discover again next time
		}
		_, _ = os.Stderr.WriteString(`{"gatehouse":"jwks","source":` + quote(s.source) + `,"error":` + quote(s.lastErr) + `,"keptKeys":` + itoa(len(s.all)) + "}\n")
		return
	}
	next := make(map[string]*Key, len(keys))
	byKid := make(map[string][]*Key, len(keys))
	for i, k := range keys {
		next[prints[i]] = k
		byKid[k.ID] = append(byKid[k.ID], k)
	}
	for fp, old := range s.prints {
		if next[fp] == nil {
			old.retire()
		}
	}
	s.all = keys
	s.byKid = byKid
	s.prints = next
	s.fetchedAt = s.attemptAt
	s.lastErr = ""
}

func (s *RemoteSet) download() ([]*Key, []string, error) {
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
