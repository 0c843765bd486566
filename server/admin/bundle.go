package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gatehouse-dev/gatehouse/server/store"
)

// built is one answer built for a revision: the body served (JSON, or its JWS) and its ETag.
type built struct {
	rev   int64
	etag  string // "\"<sha256 hex of the JSON document>\""
	body  []byte
	ctype string
}

// bundleCache keeps the last bundle built, with and without assignments. A request checks the
// store's revision (one cheap query) and rebuilds only when it moved; one build at a time per
// variant, the others wait for it.
type bundleCache struct {
	mu   [2]sync.Mutex
	last [2]*built
}

func (c *bundleCache) init() {}

func (s *Server) bundle(w http.ResponseWriter, r *http.Request, _ identity) {
	q, p := queryOnly(r, "assignments")
	if p != nil {
		writeProblem(w, p)
		return
	}
	variant := 0
	switch v := q.Get("assignments"); v {
	case "":
	case "none":
		variant = 1
	default:
		writeProblem(w, problem(http.StatusBadRequest, "assignments", `want "none" (the bundle without assignments), not `+strconv.Quote(v)))
		return
	}
	rev, err := s.revision(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	b, err := s.bundleFor(r, variant, rev)
	if err != nil {
		s.fail(w, err)
		return
	}
	h := w.Header()
	h.Set("ETag", b.etag)
	h.Set("Gatehouse-Revision", strconv.FormatInt(b.rev, 10))
	h.Set("Cache-Control", "no-cache")
	if noneMatch(r.Header.Values("If-None-Match"), b.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", b.ctype)
	h.Set("Content-Length", strconv.Itoa(len(b.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.body)
	}
}

// bundleFor returns the bundle of revision rev or later.
func (s *Server) bundleFor(r *http.Request, variant int, rev int64) (*built, error) {
	c := &s.bundles
	c.mu[variant].Lock()
	defer c.mu[variant].Unlock()
	if b := c.last[variant]; b != nil && b.rev >= rev {
		return b, nil
	}
	doc, docRev, err := s.store.Document(r.Context(), store.DocumentOptions{NoAssignments: variant == 1})
	if err != nil {
		return nil, err
	}
	b, err := s.seal(doc, docRev, TypBundle)
	if err != nil {
		return nil, err
	}
	s.metrics.BundleBuild(variant == 1)
	c.last[variant] = b
	return b, nil
}

// seal makes the answer for a JSON document: itself, or its JWS when the server signs.
func (s *Server) seal(doc []byte, rev int64, typ string) (*built, error) {
	sum := sha256.Sum256(doc)
	b := &built{rev: rev, etag: `"` + hex.EncodeToString(sum[:]) + `"`, body: doc, ctype: "application/json"}
	if s.key != nil {
		jws, err := s.key.Sign(typ, rev, doc)
		if err != nil {
			return nil, err
		}
		b.body, b.ctype = jws, "application/jose"
	}
	return b, nil
}

// noneMatch reports whether If-None-Match names etag (weak comparison, RFC 9110 Section 13.1.2).
func noneMatch(values []string, etag string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == etag || t == "*" {
				return true
			}
		}
	}
	return false
}

// subjectCacheSize bounds the per-subject answers kept (the whole cache is dropped when full).
const subjectCacheSize = 10000

// subjectCache keeps per-subject answers of the current revision.
type subjectCache struct {
	mu      sync.Mutex
	max     int
	rev     int64
	entries map[string]*built
}

func (c *subjectCache) init(max int) {
	c.max = max
	c.entries = map[string]*built{}
}

func (c *subjectCache) get(key string, rev int64) *built {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev != c.rev {
		return nil
	}
	return c.entries[key]
}

func (c *subjectCache) put(key string, b *built) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.rev < c.rev {
		return
	}
	if b.rev > c.rev || len(c.entries) >= c.max {
		c.entries = map[string]*built{}
		c.rev = b.rev
	}
	c.entries[key] = b
}

// subjectAnswer is the per-subject document (docs/control-plane.md).
type subjectAnswer struct {
	Subject     string             `json:"subject"`
	Issuer      string             `json:"issuer,omitempty"`
	Rev         int64              `json:"rev"`
	Assignments []policyAssignment `json:"assignments"`
}

// policyAssignment is an assignment with the fields of a policy document's.
type policyAssignment struct {
	Subject string   `json:"subject"`
	Issuer  string   `json:"issuer,omitempty"`
	Org     string   `json:"org"`
	Role    string   `json:"role"`
	Scope   []string `json:"scope,omitempty"`
}

func (s *Server) subjectAssignments(w http.ResponseWriter, r *http.Request, _ identity) {
	iss, p := query(r, "issuer")
	if p != nil {
		writeProblem(w, p)
		return
	}
	subject := r.PathValue("subject")
	rev, err := s.revision(r)
	if err != nil {
		s.fail(w, err)
		return
	}
	key := iss + "\x00" + subject
	b := s.subjects.get(key, rev)
	if b == nil {
		list, docRev, err := s.store.SubjectAssignments(r.Context(), subject, iss)
		if err != nil {
			s.fail(w, err)
			return
		}
		ans := subjectAnswer{Subject: subject, Issuer: iss, Rev: docRev, Assignments: []policyAssignment{}}
		for _, a := range list {
			ans.Assignments = append(ans.Assignments, policyAssignment{Subject: a.Subject, Issuer: a.Issuer, Org: a.Org, Role: a.Role, Scope: a.Scopes})
		}
		doc, err := json.Marshal(ans)
		if err != nil {
			s.fail(w, err)
			return
		}
		if b, err = s.seal(doc, docRev, TypAssignments); err != nil {
			s.fail(w, err)
			return
		}
		s.subjects.put(key, b)
	}
	h := w.Header()
	h.Set("ETag", b.etag)
	h.Set("Gatehouse-Revision", strconv.FormatInt(b.rev, 10))
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Type", b.ctype)
	h.Set("Content-Length", strconv.Itoa(len(b.body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.body)
}

// revision is the revision the request was authorized at (else the store's).
func (s *Server) revision(r *http.Request) (int64, error) {
	if rev, ok := requestRevision(r); ok {
		return rev, nil
	}
	return s.store.Revision(r.Context())
}
