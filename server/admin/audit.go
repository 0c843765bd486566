package admin

import "net/http"

// auditBatch hands an authorized POST /v1/audit to the audit ingestion handler (Options.Audit).
func (s *Server) auditBatch(w http.ResponseWriter, r *http.Request, _ identity) {
	if s.audit == nil {
		writeProblem(w, problem(http.StatusNotFound, "", "audit ingestion is not enabled on this control plane"))
		return
	}
	s.audit.ServeHTTP(w, r)
}
