// Package workflows is the demo's AI workflow API. It keeps workflows in memory, per org, and
// trusts only the identity headers Gatehouse sets (X-Auth-Subject, X-Auth-Org, X-Auth-Roles):
// it never sees a token it would have to verify. With RequireAssertion it also verifies the
// gateway's signed X-Auth-Assertion, so that a request that did not come through the gateway is
// refused even when it reaches the API. Every response says who did what in which org.
package workflows

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
)

// Workflow is one stored workflow.
type Workflow struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Owner   string   `json:"owner"`
	Shared  []string `json:"sharedWith,omitempty"`
	Runs    int      `json:"runs"`
	Deleted bool     `json:"-"`
}

// Service is the in-memory workflow store. Safe for concurrent use.
type Service struct {
	mu   sync.Mutex
	next int
	orgs map[string]map[string]*Workflow

	verifier *verifier // set by RequireAssertion
}

// New returns an empty service.
func New() *Service { return &Service{orgs: map[string]map[string]*Workflow{}} }

// Handler serves the workflow API behind the gateway.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orgs/{org}/workflows", s.guard(s.create))
	mux.HandleFunc("GET /orgs/{org}/workflows", s.guard(s.list))
	mux.HandleFunc("POST /orgs/{org}/workflows/{id}/run", s.guard(s.run))
	mux.HandleFunc("DELETE /orgs/{org}/workflows/{id}", s.guard(s.remove))
	mux.HandleFunc("POST /orgs/{org}/workflows/{id}/share", s.guard(s.share))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		reply(w, r, 200, "checked health", map[string]interface{}{"status": "ok"})
	})
	mux.HandleFunc("GET /me", s.guard(func(w http.ResponseWriter, r *http.Request) {
		reply(w, r, 200, "asked who they are", map[string]interface{}{"roles": r.Header.Get("X-Auth-Roles"), "permissions": r.Header.Get("X-Auth-Permissions")})
	}))
	return mux
}

func (s *Service) create(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body)
	if body.Name == "" {
		body.Name = "untitled"
	}
	s.mu.Lock()
	s.next++
	wf := &Workflow{ID: fmt.Sprintf("wf-%d", s.next), Name: body.Name, Owner: r.Header.Get("X-Auth-Subject")}
	org := r.PathValue("org")
	if s.orgs[org] == nil {
		s.orgs[org] = map[string]*Workflow{}
	}
	s.orgs[org][wf.ID] = wf
	s.mu.Unlock()
	reply(w, r, 201, "created workflow "+wf.ID, map[string]interface{}{"workflow": wf})
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var out []*Workflow
	for _, wf := range s.orgs[r.PathValue("org")] {
		out = append(out, wf)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	reply(w, r, 200, fmt.Sprintf("listed %d workflows", len(out)), map[string]interface{}{"workflows": out})
}

func (s *Service) find(w http.ResponseWriter, r *http.Request) *Workflow {
	wf := s.orgs[r.PathValue("org")][r.PathValue("id")]
	if wf == nil {
		reply(w, r, 404, "asked for a workflow that does not exist", nil)
	}
	return wf
}

func (s *Service) run(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if wf := s.find(w, r); wf != nil {
		wf.Runs++
		reply(w, r, 200, "ran workflow "+wf.ID, map[string]interface{}{"workflow": wf})
	}
}

func (s *Service) remove(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if wf := s.find(w, r); wf != nil {
		delete(s.orgs[r.PathValue("org")], wf.ID)
		reply(w, r, 200, "deleted workflow "+wf.ID, nil)
	}
}

func (s *Service) share(w http.ResponseWriter, r *http.Request) {
	var body struct {
		With string `json:"with"`
	}
	json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if wf := s.find(w, r); wf != nil {
		wf.Shared = append(wf.Shared, body.With)
		reply(w, r, 200, "shared workflow "+wf.ID+" with "+body.With, map[string]interface{}{"workflow": wf})
	}
}

// reply answers with who did what in which org, as the gateway told us.
func reply(w http.ResponseWriter, r *http.Request, status int, did string, extra map[string]interface{}) {
	out := map[string]interface{}{
		"who":  r.Header.Get("X-Auth-Subject"),
		"org":  r.Header.Get("X-Auth-Org"),
		"did":  did,
		"note": "identity from X-Auth-* headers set by Gatehouse",
	}
	if verified(r) {
		out["note"] = "identity from X-Auth-* headers set by Gatehouse, matching its signed X-Auth-Assertion"
	}
	if out["who"] == "" {
		out["who"] = "anonymous"
	}
	for k, v := range extra {
		out[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(out)
}

// refuse answers 401 to a request without a valid assertion. It names no identity: the headers
// of such a request are not believed.
func refuse(w http.ResponseWriter, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	json.NewEncoder(w).Encode(map[string]interface{}{"who": "anonymous", "detail": detail})
}
