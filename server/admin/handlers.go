package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/server/store"
)

// --- permissions

func (s *Server) listPermissions(w http.ResponseWriter, r *http.Request, _ identity) {
	list, err := s.store.ListPermissions(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(list))
}

func (s *Server) getPermission(w http.ResponseWriter, r *http.Request, _ identity) {
	p, err := s.store.GetPermission(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeObject(w, http.StatusOK, p, p.Version, "")
}

func (s *Server) createPermission(w http.ResponseWriter, r *http.Request, id identity) {
	var in store.Permission
	if p := decode(r, &in); p != nil {
		writeProblem(w, p)
		return
	}
	out, err := s.store.CreatePermission(r.Context(), id.actor(), in)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeObject(w, http.StatusCreated, out, out.Version, "/v1/permissions/"+url.PathEscape(out.Name))
}

func (s *Server) updatePermission(w http.ResponseWriter, r *http.Request, id identity) {
	var in store.Permission
	name := r.PathValue("name")
	version, p := writeInput(r, &in)
	if p == nil {
		p = sameKey("name", in.Name, name)
	}
	if p != nil {
		writeProblem(w, p)
		return
	}
	in.Name = name
	out, err := s.store.UpdatePermission(r.Context(), id.actor(), in, version)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeObject(w, http.StatusOK, out, out.Version, "")
}

func (s *Server) deletePermission(w http.ResponseWriter, r *http.Request, id identity) {
	version, p := ifMatch(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if err := s.store.DeletePermission(r.Context(), id.actor(), r.PathValue("name"), version); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// --- roles

func (s *Server) listRoles(w http.ResponseWriter, r *http.Request, _ identity) {
	list, err := s.store.ListRoles(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(list))
}

func (s *Server) getRole(w http.ResponseWriter, r *http.Request, _ identity) {
	role, err := s.store.GetRole(r.Context(), r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeObject(w, http.StatusOK, role, role.Version, "")
}

func (s *Server) createRole(w http.ResponseWriter, r *http.Request, id identity) {
	var in store.Role
	if p := decode(r, &in); p != nil {
		writeProblem(w, p)
		return
	}
	out, err := s.store.CreateRole(r.Context(), id.actor(), in)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeObject(w, http.StatusCreated, out, out.Version, "/v1/roles/"+url.PathEscape(out.Name))
}

func (s *Server) updateRole(w http.ResponseWriter, r *http.Request, id identity) {
	var in store.Role
	name := r.PathValue("name")
	version, p := writeInput(r, &in)
	if p == nil {
		p = sameKey("name", in.Name, name)
	}
	if p != nil {
		writeProblem(w, p)
		return
	}
	in.Name = name
	out, err := s.store.UpdateRole(r.Context(), id.actor(), in, version)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeObject(w, http.StatusOK, out, out.Version, "")
}

func (s *Server) deleteRole(w http.ResponseWriter, r *http.Request, id identity) {
	version, p := ifMatch(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	if err := s.store.DeleteRole(r.Context(), id.actor(), r.PathValue("name"), version); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) addRolePermission(w http.ResponseWriter, r *http.Request, id identity) {
	s.editRole(w, r, id, true)
}

func (s *Server) removeRolePermission(w http.ResponseWriter, r *http.Request, id identity) {
	s.editRole(w, r, id, false)
}

// editRole adds or removes one permission of a role: read, change, write with the version read.
// With If-Match the version must be the one read (412 otherwise); without it a concurrent change
// of the role is retried (the edit commutes with any other).
func (s *Server) editRole(w http.ResponseWriter, r *http.Request, id identity, add bool) {
	want, p := ifMatch(r)
	if p != nil {
		writeProblem(w, p)
		return
	}
	name, perm := r.PathValue("name"), r.PathValue("permission")
	for attempt := 0; ; attempt++ {
		role, err := s.store.GetRole(r.Context(), name)
		if err != nil {
			s.fail(w, err)
			return
		}
		if want != 0 && role.Version != want {
			writeProblem(w, problem(http.StatusPreconditionFailed, "If-Match", "role "+strconv.Quote(name)+" is at version "+strconv.FormatInt(role.Version, 10)+", not "+strconv.FormatInt(want, 10)))
			return
		}
		perms, changed := editList(role.Permissions, perm, add)
		if !changed {
			if !add {
				writeProblem(w, problem(http.StatusNotFound, "permission", "role "+strconv.Quote(name)+" does not grant "+strconv.Quote(perm)))
				return
			}
			writeObject(w, http.StatusOK, role, role.Version, "")
			return
		}
		role.Permissions = perms
		out, err := s.store.UpdateRole(r.Context(), id.actor(), role, role.Version)
		var se *store.Error
		if err != nil && errors.As(err, &se) && se.Status == http.StatusPreconditionFailed && want == 0 && attempt < 5 {
			continue
		}
		if err != nil {
			s.fail(w, err)
			return
		}
		writeObject(w, http.StatusOK, out, out.Version, "")
		return
	}
}

func editList(list []string, v string, add bool) ([]string, bool) {
	out := make([]string, 0, len(list)+1)
	found := false
	for _, e := range list {
		if e == v {
			found = true
			if !add {
				continue
			}
		}
		out = append(out, e)
	}
	if add && !found {
		return append(out, v), true
	}
	return out, found && !add
}

// --- subjects

func (s *Server) listSubjects(w http.ResponseWriter, r *http.Request, _ identity) {
	list, err := s.store.ListSubjects(r.Context())
	if err != nil {
		s.fail(w, err)
		return
	}
	if q := r.URL.Query(); q.Has("issuer") {
		iss := q.Get("issuer")
		kept := list[:0]
		for _, sub := range list {
			if sub.Issuer == iss {
				kept = append(kept, sub)
			}
		}
		list = kept
	}
	writeJSON(w, http.StatusOK, nonNil(list))
}

func (s *Server) getSubject(w http.ResponseWriter, r *http.Request, _ identity) {
	iss, p := query(r, "issuer")
	if p != nil {
		writeProblem(w, p)
		return
	}
	sub, err := s.store.GetSubject(r.Context(), r.PathValue("id"), iss)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeObject(w, http.StatusOK, sub, sub.Version, "")
}

func (s *Server) createSubject(w http.ResponseWriter, r *http.Request, id identity) {
	var in store.Subject
	if p := decode(r, &in); p != nil {
		writeProblem(w, p)
		return
	}
	out, err := s.store.CreateSubject(r.Context(), id.actor(), in)
	if err != nil {
		s.fail(w, err)
		return
	}
	loc := "/v1/subjects/" + url.PathEscape(out.ID)
	if out.Issuer != "" {
		loc += "?issuer=" + url.QueryEscape(out.Issuer)
	}
	writeObject(w, http.StatusCreated, out, out.Version, loc)
}

func (s *Server) updateSubject(w http.ResponseWriter, r *http.Request, id identity) {
	var in store.Subject
	sid := r.PathValue("id")
	iss, p := query(r, "issuer")
	var version int64
	if p == nil {
		version, p = writeInput(r, &in)
	}
	if p == nil {
		p = sameKey("id", in.ID, sid)
	}
	if p == nil {
		p = sameKey("issuer", in.Issuer, iss)
	}
	if p != nil {
		writeProblem(w, p)
		return
	}
	in.ID, in.Issuer = sid, iss
	out, err := s.store.UpdateSubject(r.Context(), id.actor(), in, version)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeObject(w, http.StatusOK, out, out.Version, "")
}

func (s *Server) deleteSubject(w http.ResponseWriter, r *http.Request, id identity) {
	iss, p := query(r, "issuer")
	var version int64
	if p == nil {
		version, p = ifMatch(r)
	}
	if p != nil {
		writeProblem(w, p)
		return
	}
	if err := s.store.DeleteSubject(r.Context(), id.actor(), r.PathValue("id"), iss, version); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// --- assignments, every org (admin org)

func (s *Server) listAllAssignments(w http.ResponseWriter, r *http.Request, _ identity) {
	f, p := assignmentFilter(r, true)
	if p != nil {
		writeProblem(w, p)
		return
	}
	s.listAssignments(w, r, f)
}

func (s *Server) listAssignments(w http.ResponseWriter, r *http.Request, f store.AssignmentFilter) {
	list, err := s.store.ListAssignments(r.Context(), f)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(list))
}

func (s *Server) createAnyAssignment(w http.ResponseWriter, r *http.Request, id identity) {
	s.createAssignment(w, r, id, "")
}

func (s *Server) createOrgAssignment(w http.ResponseWriter, r *http.Request, id identity) {
	s.createAssignment(w, r, id, r.PathValue("org"))
}

// createAssignment creates an assignment; org, when not "", is the org of the route (the body's
// org must be absent or equal).
func (s *Server) createAssignment(w http.ResponseWriter, r *http.Request, id identity, org string) {
	var in store.Assignment
	p := decode(r, &in)
	if p == nil && org != "" {
		p = sameKey("org", in.Org, org)
		in.Org = org
	}
	if p == nil && in.ID != 0 {
		p = problem(http.StatusUnprocessableEntity, "id", "an assignment's id is chosen by the store")
	}
	if p != nil {
		writeProblem(w, p)
		return
	}
	out, err := s.store.CreateAssignment(r.Context(), id.actor(), in)
	if err != nil {
		s.fail(w, err)
		return
	}
	loc := "/v1/assignments/" + strconv.FormatInt(out.ID, 10)
	if org != "" {
		loc = "/v1/orgs/" + url.PathEscape(org) + "/assignments/" + strconv.FormatInt(out.ID, 10)
	}
	writeObject(w, http.StatusCreated, out, out.Version, loc)
}

func (s *Server) getAnyAssignment(w http.ResponseWriter, r *http.Request, _ identity) {
	s.getAssignment(w, r, "")
}

func (s *Server) getOrgAssignment(w http.ResponseWriter, r *http.Request, _ identity) {
	s.getAssignment(w, r, r.PathValue("org"))
}

func (s *Server) getAssignment(w http.ResponseWriter, r *http.Request, org string) {
	a, p := s.assignmentIn(r, org)
	if p != nil {
		s.storeError(p)
		writeProblem(w, p)
		return
	}
	writeObject(w, http.StatusOK, a, a.Version, "")
}

// assignmentIn reads the path's assignment; with org set, one of another org is "not found"
// (an org admin learns nothing of other orgs' ids).
func (s *Server) assignmentIn(r *http.Request, org string) (store.Assignment, *Problem) {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || n < 1 {
		return store.Assignment{}, problem(http.StatusBadRequest, "id", "want an assignment id (a whole number from 1), not "+strconv.Quote(r.PathValue("id")))
	}
	a, err := s.store.GetAssignment(r.Context(), n)
	if err != nil {
		return store.Assignment{}, fromError(err)
	}
	if org != "" && a.Org != org {
		return store.Assignment{}, problem(http.StatusNotFound, "id", "no assignment "+strconv.FormatInt(n, 10)+" in org "+strconv.Quote(org))
	}
	return a, nil
}

func (s *Server) updateAnyAssignment(w http.ResponseWriter, r *http.Request, id identity) {
	s.updateAssignment(w, r, id, "")
}

func (s *Server) updateOrgAssignment(w http.ResponseWriter, r *http.Request, id identity) {
	s.updateAssignment(w, r, id, r.PathValue("org"))
}

// updateAssignment replaces an assignment. Under an org route the one read must be in that org and
// stays there; the write is conditional on the version read, so the check and the write see the
// same object (a concurrent change is a 412).
func (s *Server) updateAssignment(w http.ResponseWriter, r *http.Request, id identity, org string) {
	var in store.Assignment
	want, p := writeInput(r, &in)
	var cur store.Assignment
	if p == nil {
		cur, p = s.assignmentIn(r, org)
	}
	if p == nil && in.ID != 0 && in.ID != cur.ID {
		p = problem(http.StatusUnprocessableEntity, "id", "the body names assignment "+strconv.FormatInt(in.ID, 10)+", the path "+strconv.FormatInt(cur.ID, 10))
	}
	if p == nil && org != "" {
		p = sameKey("org", in.Org, org)
		in.Org = org
	}
	if p == nil {
		p = versionMatches(want, cur.Version)
	}
	if p != nil {
		s.storeError(p)
		writeProblem(w, p)
		return
	}
	in.ID = cur.ID
	out, err := s.store.UpdateAssignment(r.Context(), id.actor(), in, cur.Version)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeObject(w, http.StatusOK, out, out.Version, "")
}

func (s *Server) deleteAnyAssignment(w http.ResponseWriter, r *http.Request, id identity) {
	s.deleteAssignment(w, r, id, "")
}

func (s *Server) deleteOrgAssignment(w http.ResponseWriter, r *http.Request, id identity) {
	s.deleteAssignment(w, r, id, r.PathValue("org"))
}

func (s *Server) deleteAssignment(w http.ResponseWriter, r *http.Request, id identity, org string) {
	want, p := ifMatch(r)
	var cur store.Assignment
	if p == nil {
		cur, p = s.assignmentIn(r, org)
	}
	if p == nil {
		p = versionMatches(want, cur.Version)
	}
	if p != nil {
		s.storeError(p)
		writeProblem(w, p)
		return
	}
	if err := s.store.DeleteAssignment(r.Context(), id.actor(), cur.ID, cur.Version); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func versionMatches(want, have int64) *Problem {
	if want != 0 && want != have {
		return problem(http.StatusPreconditionFailed, "If-Match", "the object is at version "+strconv.FormatInt(have, 10)+", not "+strconv.FormatInt(want, 10))
	}
	return nil
}

// --- one org

func (s *Server) listOrgAssignments(w http.ResponseWriter, r *http.Request, _ identity) {
	f, p := assignmentFilter(r, false)
	if p != nil {
		writeProblem(w, p)
		return
	}
	f.Org = r.PathValue("org")
	s.listAssignments(w, r, f)
}

func (s *Server) can(w http.ResponseWriter, r *http.Request, _ identity) {
	q, p := queryOnly(r, "issuer", "resource")
	if p != nil {
		writeProblem(w, p)
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		resource = "/"
	}
	a, err := s.store.Can(r.Context(), r.PathValue("subject"), q.Get("issuer"), r.PathValue("org"), resource)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) whoCan(w http.ResponseWriter, r *http.Request, _ identity) {
	if _, p := queryOnly(r); p != nil {
		writeProblem(w, p)
		return
	}
	list, err := s.store.WhoCan(r.Context(), r.PathValue("permission"), r.PathValue("org"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(list))
}

func (s *Server) orgChanges(w http.ResponseWriter, r *http.Request, _ identity) {
	f, p := changeFilter(r, false)
	if p != nil {
		writeProblem(w, p)
		return
	}
	f.Org = r.PathValue("org")
	s.changes(w, r, f)
}

func (s *Server) allChanges(w http.ResponseWriter, r *http.Request, _ identity) {
	f, p := changeFilter(r, true)
	if p != nil {
		writeProblem(w, p)
		return
	}
	s.changes(w, r, f)
}

func (s *Server) changes(w http.ResponseWriter, r *http.Request, f store.ChangeFilter) {
	list, err := s.store.Changes(r.Context(), f)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, nonNil(list))
}

// --- export and import

func (s *Server) export(w http.ResponseWriter, r *http.Request, _ identity) {
	doc, rev, err := s.store.Document(r.Context(), store.DocumentOptions{})
	if err != nil {
		s.fail(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Gatehouse-Revision", strconv.FormatInt(rev, 10))
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc)
}

func (s *Server) importDocument(w http.ResponseWriter, r *http.Request, id identity) {
	for _, perm := range importPermissions {
		if !id.holds(perm) {
			w.Header().Set("WWW-Authenticate", s.challenge(perm))
			writeProblem(w, problem(http.StatusForbidden, "", "an import replaces permissions, roles, subjects and assignments: it needs "+strconv.Quote(perm)+" too"))
			return
		}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !yamlOrJSON(ct) {
		writeProblem(w, problem(http.StatusUnsupportedMediaType, "Content-Type", "want application/json or application/yaml, not "+strconv.Quote(ct)))
		return
	}
	data, p := readBody(r, maxImport)
	if p != nil {
		writeProblem(w, p)
		return
	}
	res, err := s.store.Import(r.Context(), id.actor(), data)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func yamlOrJSON(ct string) bool {
	mt := strings.ToLower(strings.TrimSpace(strings.Split(ct, ";")[0]))
	switch mt {
	case "application/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain":
		return true
	}
	return strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+yaml")
}

// --- helpers

// writeInput reads If-Match and the body of a PUT.
func writeInput(r *http.Request, v interface{}) (int64, *Problem) {
	version, p := ifMatch(r)
	if p != nil {
		return 0, p
	}
	return version, decode(r, v)
}

// sameKey refuses a body that names another object than the path ("" in the body: the path's).
func sameKey(field, body, path string) *Problem {
	if body != "" && body != path {
		return problem(http.StatusUnprocessableEntity, field, "the body names "+strconv.Quote(body)+", the path "+strconv.Quote(path))
	}
	return nil
}

// writeObject answers one object with its ETag (and Location on 201).
func writeObject(w http.ResponseWriter, status int, v interface{}, version int64, location string) {
	w.Header().Set("ETag", etag(version))
	if location != "" {
		w.Header().Set("Location", location)
	}
	writeJSON(w, status, v)
}

// query reads one optional query parameter, refusing every other and a repeated one.
func query(r *http.Request, name string) (string, *Problem) {
	q, p := queryOnly(r, name)
	if p != nil {
		return "", p
	}
	return q.Get(name), nil
}

// queryOnly parses the query, refusing parameters other than names, and repeated ones.
func queryOnly(r *http.Request, names ...string) (url.Values, *Problem) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, problem(http.StatusBadRequest, "", "malformed query: "+err.Error())
	}
	for k, v := range q {
		known := false
		for _, n := range names {
			known = known || k == n
		}
		if !known {
			return nil, problem(http.StatusBadRequest, k, "unknown query parameter (this route takes "+list(names)+")")
		}
		if len(v) > 1 {
			return nil, problem(http.StatusBadRequest, k, "given more than once")
		}
	}
	return q, nil
}

func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func assignmentFilter(r *http.Request, withOrg bool) (store.AssignmentFilter, *Problem) {
	names := []string{"subject", "issuer", "role"}
	if withOrg {
		names = append(names, "org")
	}
	q, p := queryOnly(r, names...)
	if p != nil {
		return store.AssignmentFilter{}, p
	}
	return store.AssignmentFilter{Subject: q.Get("subject"), Issuer: q.Get("issuer"), Role: q.Get("role"), Org: q.Get("org")}, nil
}

func changeFilter(r *http.Request, withOrg bool) (store.ChangeFilter, *Problem) {
	names := []string{"after", "limit", "kind"}
	if withOrg {
		names = append(names, "org")
	}
	q, p := queryOnly(r, names...)
	if p != nil {
		return store.ChangeFilter{}, p
	}
	f := store.ChangeFilter{Org: q.Get("org"), Kind: q.Get("kind")}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return f, problem(http.StatusBadRequest, "after", "want the seq of the last change seen (a whole number, 0 or more), not "+strconv.Quote(v))
		}
		f.After = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, problem(http.StatusBadRequest, "limit", "want a whole number from 1 to 1000, not "+strconv.Quote(v))
		}
		f.Limit = n
	}
	switch f.Kind {
	case "", store.KindPermission, store.KindRole, store.KindSubject, store.KindAssignment, store.KindSetting:
	default:
		return f, problem(http.StatusBadRequest, "kind", "want permission, role, subject, assignment or setting, not "+strconv.Quote(f.Kind))
	}
	return f, nil
}

// nonNil makes an empty list answer [] rather than null.
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
