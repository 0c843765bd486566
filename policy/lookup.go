package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/tokens"
)

// Per-subject assignments from the control plane (docs/control-plane.md, assignmentsURL), for
// subjects whose assignments do not fit in a token or a bundle.
const (
	// LookupTimeout bounds one per-subject fetch; the requests of that subject wait at most this long.
	LookupTimeout = 5 * time.Second
	// LookupMaxBody is the largest per-subject answer accepted (about 10,000 assignments), which
	// with assignmentsCacheSize bounds the cache's memory.
	LookupMaxBody = 1 << 20
	// lookupRetry is how long after a failed fetch a subject is not fetched again (its requests
	// get the stale entry or 503 meanwhile), so that a control plane that hangs costs each
	// subject one wait per second, not one per request.
	lookupRetry = time.Second
)

// LookupSettings bound a Lookup's cache.
type LookupSettings struct {
	TTL        time.Duration // an entry is fresh for this long after its fetch
	Stale      time.Duration // after TTL, an entry still serves this long while fetching it fails
	MaxEntries int           // subjects cached; an arbitrary entry is evicted to make room
}

// Lookup is one middleware's handle on the per-subject assignments behind a URL template
// ({subject} and optionally {issuer}). The cache is shared by every Lookup of the same template,
// keys, credential and settings. Safe for concurrent use.
type Lookup struct {
	shared   *lookupState
	released bool // guarded by lookupsMu
}

type lookupState struct {
	id         string
	template   string
	credential string
	keys       []*tokens.Key
	settings   LookupSettings
	refs       int // guarded by lookupsMu

	mu      sync.Mutex
	m       map[string]*subjectEntry // issuer + "\x00" + subject
	usedAt  time.Time
	lastErr string
	fetches int

	indexBase *Policy             // the base policy index was built for
	index     map[string][]string // subject → its keys in indexBase.grants
}

// subjectEntry is what is known of one subject. Fields are guarded by lookupState.mu.
type subjectEntry struct {
	docs     []assignmentDocument // the last good answer's assignments (checked against its subject and issuer)
	raw      string               // their canonical JSON: an answer with the same raw changes nothing
	rev      int64                // the last signed answer's rev, -1 before one
	goodAt   time.Time            // when the last good answer was fetched; zero: never
	failedAt time.Time
	fetching chan struct{}

	base       *Policy // the policy derived was built on
	derivedRaw string  // the raw derived was built from
	derived    *Policy
}

var (
	lookupsMu sync.Mutex
	lookups   = map[string]*lookupState{}
)

// SharedLookup returns a Lookup of template (checked by the caller: an absolute http(s) URL with
// {subject}), fetched with credential and verified with keys (nil: unsigned JSON; keyText names
// them in the registry). It makes no request.
func SharedLookup(template string, keys []*tokens.Key, keyText, credential string, s LookupSettings) *Lookup {
	if s.MaxEntries < 1 {
		s.MaxEntries = 1
	}
	id := template + "\x00" + keyText + "\x00" + credential + "\x00" + strconv.FormatInt(int64(s.TTL), 10) + " " +
		strconv.FormatInt(int64(s.Stale), 10) + " " + strconv.Itoa(s.MaxEntries)
	now := time.Now()
	lookupsMu.Lock()
	defer lookupsMu.Unlock()
	var idle []string
	for k, st := range lookups {
		st.mu.Lock()
		if now.Sub(st.usedAt) > remoteIdle {
			idle = append(idle, k)
		}
		st.mu.Unlock()
	}
	for _, k := range idle {
		delete(lookups, k)
	}
	st := lookups[id]
	if st == nil {
		st = &lookupState{id: id, template: template, credential: credential, keys: keys, settings: s, m: map[string]*subjectEntry{}}
		lookups[id] = st
	}
	st.refs++
	st.mu.Lock()
	st.usedAt = now
	st.mu.Unlock()
	return &Lookup{shared: st}
}

// Release gives back the reference SharedLookup took; safe more than once, on nil, and from
// context.AfterFunc's goroutine.
func (l *Lookup) Release() {
	defer func() { _ = recover() }()
	if l == nil || l.shared == nil {
		return
	}
	lookupsMu.Lock()
	defer lookupsMu.Unlock()
	if l.released {
		return
	}
	l.released = true
	st := l.shared
	st.refs--
	if st.refs <= 0 && lookups[st.id] == st {
		delete(lookups, st.id)
	}
}

// LookupFetches returns how many fetches the cache behind l made (for tests).
func LookupFetches(l *Lookup) int {
	l.shared.mu.Lock()
	defer l.shared.mu.Unlock()
	return l.shared.fetches
}

// SubjectPolicy returns base with the assignments the control plane holds for (issuer, subject)
// added, or nil when nothing usable is known of the subject and the control plane cannot be asked
// (the middleware answers 503). An entry is fresh for TTL; after that the subject's requests wait
// for one fetch (single flight), and if it fails the entry serves until TTL + Stale. The policy
// returned is the same pointer for as long as the subject's assignments and base do not change,
// so decisions cached under it stay valid; a change gives a new pointer, which revokes them.
func SubjectPolicy(l *Lookup, base *Policy, issuer, subject string, now time.Time) *Policy {
	s := l.shared
	key := issuer + "\x00" + subject
	s.mu.Lock()
	s.usedAt = now
	e := s.m[key]
	if e != nil && e.fetching == nil && e.base == base && e.derivedRaw == e.raw && !e.goodAt.IsZero() && now.Sub(e.goodAt) < s.settings.TTL {
		p := e.derived
		s.mu.Unlock()
		return p
	}
	s.mu.Unlock()
	return subjectSlow(s, base, issuer, subject, key, now)
}

func subjectSlow(s *lookupState, base *Policy, issuer, subject, key string, now time.Time) *Policy {
	s.mu.Lock()
	e := s.m[key]
	if e == nil {
		for len(s.m) >= s.settings.MaxEntries {
			for k := range s.m {
				delete(s.m, k)
				break
			}
		}
		e = &subjectEntry{rev: -1}
		s.m[key] = e
	}
	fresh := !e.goodAt.IsZero() && now.Sub(e.goodAt) < s.settings.TTL
	if ch := e.fetching; ch != nil {
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	} else if !fresh && (e.failedAt.IsZero() || now.Sub(e.failedAt) >= lookupRetry) {
		ch := make(chan struct{})
		e.fetching = ch
		s.fetches++
		s.mu.Unlock()
		fetchSubject(s, e, issuer, subject, ch)
		s.mu.Lock()
	}
	if e.goodAt.IsZero() || now.Sub(e.goodAt) >= s.settings.TTL+s.settings.Stale {
		s.mu.Unlock()
		return nil
	}
	if e.base == base && e.derivedRaw == e.raw && e.derived != nil {
		p := e.derived
		s.mu.Unlock()
		return p
	}
	docs := e.docs
	raw := e.raw
	keys := s.index[subject]
	if s.indexBase != base {
		keys = nil
	}
	indexed := s.indexBase == base
	s.mu.Unlock()
	if !indexed {
		keys = indexBase(s, base)[subject]
	}
	derived, err := deriveSubject(base, keys, subject, issuer, docs)
	if err != nil {
		reportLookup(s, subject, "the control plane's assignments for the subject do not fit the policy in force: "+err.Error())
		return nil
	}
	s.mu.Lock()
	if e.raw == raw {
		e.base = base
		e.derivedRaw = raw
		e.derived = derived
	}
	s.mu.Unlock()
	return derived
}

// indexBase records, for base, the grant keys of every subject (one pass over base's assignments
// per policy, so that deriving a subject's policy does not scan them).
func indexBase(s *lookupState, base *Policy) map[string][]string {
	index := map[string][]string{}
	if base != nil {
		for k := range base.grants {
			i := strings.IndexByte(k, 0)
			index[k[:i]] = append(index[k[:i]], k)
		}
	}
	s.mu.Lock()
	s.indexBase = base
	s.index = index
	s.mu.Unlock()
	return index
}

// fetchSubject fetches one subject's assignments and publishes the answer into e (under s.mu),
// then closes ch. It recovers its own panics.
func fetchSubject(s *lookupState, e *subjectEntry, issuer, subject string, ch chan struct{}) {
	ok := false
	defer func() {
		if r := recover(); r != nil {
			reportLookup(s, subject, "subject lookup failed: "+panicMessage(r))
		}
		s.mu.Lock()
		e.fetching = nil
		if !ok {
			e.failedAt = time.Now()
		}
		s.mu.Unlock()
		close(ch)
	}()
	target := strings.Replace(s.template, "{subject}", url.PathEscape(subject), -1)
	target = strings.Replace(target, "{issuer}", url.QueryEscape(issuer), -1)
	res, err := fetchWithin(target, s.template, s.credential, "", s.keys != nil, LookupTimeout, LookupMaxBody)
	if err == nil && res.status != 200 {
		err = errors.New("GET " + s.template + ": status " + strconv.Itoa(res.status))
	}
	if err != nil {
		reportLookup(s, subject, "subject lookup failed: "+err.Error())
		return
	}
	payload, rev, err := openDocument(res, s.keys, AssignmentsType)
	if err != nil {
		reportLookup(s, subject, "subject lookup refused: "+err.Error())
		return
	}
	wantIssuer := ""
	if strings.Contains(s.template, "{issuer}") {
		wantIssuer = issuer
	}
	docs, raw, err := parseSubjectAnswer(payload, subject, wantIssuer)
	if err != nil {
		reportLookup(s, subject, "subject lookup refused: "+err.Error())
		return
	}
	s.mu.Lock()
	if s.keys != nil && rev < e.rev {
		s.mu.Unlock()
		reportLookup(s, subject, "subject lookup refused: rev "+strconv.FormatInt(rev, 10)+" is older than rev "+strconv.FormatInt(e.rev, 10)+", already accepted (rollback)")
		return
	}
	e.docs = docs
	e.raw = raw
	if s.keys != nil {
		e.rev = rev
	}
	e.goodAt = time.Now()
	e.failedAt = time.Time{}
	s.lastErr = ""
	s.mu.Unlock()
	ok = true
}

// reportLookup writes one error line per new error of the cache (the subject is the first one
// that met it).
func reportLookup(s *lookupState, subject, msg string) {
	s.mu.Lock()
	repeat := s.lastErr == msg
	s.lastErr = msg
	s.mu.Unlock()
	if !repeat {
		_, _ = os.Stderr.WriteString(`{"gatehouse":"assignments","url":` + jsonQuote(s.template) + `,"subject":` + jsonQuote(subject) + `,"error":` + jsonQuote(msg) + "}\n")
	}
}

var subjectMembers = map[string]bool{"subject": true, "issuer": true, "rev": true, "assignments": true}

// parseSubjectAnswer reads a per-subject answer: its subject must be subject, its issuer issuer
// (absent when issuer is ""), and each assignment's subject the same, its issuer (when present)
// the same. It returns the assignments and their canonical JSON. An assignment that names no
// issuer stays unqualified: it counts as a policy's unqualified assignment does (for no token when
// several issuers are trusted), whatever issuer the request named.
func parseSubjectAnswer(payload []byte, subject, issuer string) ([]assignmentDocument, string, error) {
	var raw map[string]interface{}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&raw); err != nil {
		return nil, "", errors.New("malformed JSON: " + err.Error())
	}
	var rest interface{}
	if dec.Decode(&rest) != io.EOF || raw == nil {
		return nil, "", errors.New("the answer must be one JSON object")
	}
	var problems []string
	problems = unknownMembers(problems, "", raw, subjectMembers)
	gotSubject, _ := raw["subject"].(string)
	gotIssuer, issuerIsString := raw["issuer"].(string)
	if gotSubject != subject {
		problems = append(problems, "the answer is for subject "+strconv.Quote(gotSubject)+", not "+strconv.Quote(subject))
	}
	switch {
	case issuer == "" && raw["issuer"] != nil:
		problems = append(problems, "the answer names an issuer, but the request named none")
	case issuer != "" && (!issuerIsString || gotIssuer != issuer):
		problems = append(problems, "the answer is for issuer "+strconv.Quote(gotIssuer)+", not "+strconv.Quote(issuer))
	}
	if raw["assignments"] == nil {
		problems = append(problems, "the answer has no assignments list")
	}
	docs, problems := jsonAssignments(problems, "assignments", raw["assignments"])
	for i := range docs {
		where := "assignments[" + strconv.Itoa(i) + "]"
		if docs[i].Subject != subject {
			problems = append(problems, where+": subject "+strconv.Quote(docs[i].Subject)+" is not the requested subject")
		}
		own := "" // a failed comma-ok in a loop keeps the previous value under Yaegi
		ownIsString := false
		own, ownIsString = docs[i].Issuer.(string)
		if docs[i].Issuer != nil && (!ownIsString || own != issuer) {
			problems = append(problems, where+": issuer "+strconv.Quote(own)+" is not the requested issuer")
		}
	}
	if len(problems) > 0 {
		return nil, "", errors.New(strings.Join(problems, "; "))
	}
	canonical, err := json.Marshal(raw["assignments"])
	if err != nil {
		return nil, "", err
	}
	return docs, string(canonical), nil
}

// deriveSubject returns base with docs (one subject's assignments) added to baseKeys' grants
// (base's grant keys of that subject). base's permissions and roles are shared, not copied; every
// assignment is checked by the rules of Parse (role known to base, scope, values).
func deriveSubject(base *Policy, baseKeys []string, subject, issuer string, docs []assignmentDocument) (*Policy, error) {
	if base == nil {
		return nil, errors.New("no policy to add assignments to")
	}
	p := &Policy{permissions: base.permissions, roles: base.roles, joined: base.joined, grants: make(map[string][]grant, len(baseKeys)+len(docs)),
		unqualified: base.unqualified, issuers: base.issuers}
	for _, k := range baseKeys {
		p.grants[k] = append([]grant(nil), base.grants[k]...)
	}
	var problems []string
	for i, a := range docs {
		where := "assignments[" + strconv.Itoa(i) + "]"
		own, found := base.checkAssignment(where, a)
		if len(found) > 0 {
			problems = append(problems, found...)
			continue
		}
		scopes, _ := parseScopes(a.Scope) // checked by checkAssignment
		key := a.Subject + "\x00" + a.Org
		p.grants[key] = append(p.grants[key], grant{role: a.Role, issuer: own, perms: base.roles[a.Role], scopes: scopes})
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return p, nil
}

// WithSubjectAssignments returns base with the assignments of a per-subject answer (doc, the JSON
// of GET /v1/subjects/{subject}/assignments) added for subject. The answer must be for subject and,
// when issuer is not "", for issuer; every assignment must name subject and fit base (known role,
// valid scope and values), or the whole answer is refused. base is not changed.
func WithSubjectAssignments(base *Policy, subject, issuer string, doc []byte) (*Policy, error) {
	docs, _, err := parseSubjectAnswer(doc, subject, issuer)
	if err != nil {
		return nil, errors.New("policy: " + err.Error())
	}
	var keys []string
	if base != nil {
		for k := range base.grants {
			if strings.HasPrefix(k, subject+"\x00") {
				keys = append(keys, k)
			}
		}
	}
	p, err := deriveSubject(base, keys, subject, issuer, docs)
	if err != nil {
		return nil, errors.New("policy: " + err.Error())
	}
	return p, nil
}
