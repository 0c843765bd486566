package ui

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/audit"
	"github.com/gatehouse-dev/gatehouse/server/store"
)

// orgOf is the org a page is about: the org query parameter, else the signed-in user's.
func orgOf(r *http.Request, s *session) string {
	if q := r.URL.Query(); q.Has("org") {
		return strings.TrimSpace(q.Get("org"))
	}
	return s.org
}

// orgPath is an org route of the admin API.
func orgPath(org, rest string) string { return "/v1/orgs/" + url.PathEscape(org) + rest }

// --- dashboard: the chart and the top denied subjects and routes of the last 24 hours.

type dashboardData struct {
	Summary audit.Summary
	Chart   chart
	AllOrgs bool
}

func (u *UI) dashboard(w http.ResponseWriter, r *http.Request, s *session) {
	org := orgOf(r, s)
	var sum audit.Summary
	path := "/v1/decisions/summary"
	if org != "" {
		path = orgPath(org, "/decisions/summary")
	}
	if _, err := u.call(r.Context(), r, s, "GET", path, nil, 0, &sum); err != nil {
		u.fail(w, r, s, err)
		return
	}
	u.render(w, http.StatusOK, "dashboard", view{Title: "Overview", Nav: "dashboard", User: s, Org: org,
		Data: dashboardData{Summary: sum, Chart: newChart(sum), AllOrgs: org == ""}})
}

// --- roles: the matrix, its confirmation and the save.

type rolesData struct {
	Permissions []string
	Roles       []store.Role
	System      int // control-plane roles not shown (they are not edited here)
}

func (u *UI) roleCatalogue(ctx context.Context, r *http.Request, s *session) (rolesData, error) {
	var perms []store.Permission
	var roles []store.Role
	if _, err := u.call(ctx, r, s, "GET", "/v1/permissions", nil, 0, &perms); err != nil {
		return rolesData{}, err
	}
	if _, err := u.call(ctx, r, s, "GET", "/v1/roles", nil, 0, &roles); err != nil {
		return rolesData{}, err
	}
	d := rolesData{}
	for _, p := range perms {
		if !strings.HasPrefix(p.Name, store.SystemPermissionPrefix) {
			d.Permissions = append(d.Permissions, p.Name)
		}
	}
	for _, ro := range roles {
		if strings.HasPrefix(ro.Name, store.SystemRolePrefix) {
			d.System++
			continue
		}
		d.Roles = append(d.Roles, ro)
	}
	return d, nil
}

func (u *UI) rolesPage(w http.ResponseWriter, r *http.Request, s *session) {
	d, err := u.roleCatalogue(r.Context(), r, s)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	v := view{Title: "Roles", Nav: "roles", User: s, Org: orgOf(r, s), Data: d}
	if saved := r.URL.Query().Get("saved"); saved != "" {
		v.Notice = "Role " + saved + " saved."
	}
	u.render(w, http.StatusOK, "roles", v)
}

type roleReviewData struct {
	Role           store.Role
	Permissions    []string // the new list
	Added, Removed []string
	Affected       []store.Assignment
	Subjects       []string // distinct affected subjects
	AffectedError  *shown   // the assignments could not be listed
}

// chosen is the permission list a role form sends (each once, sorted).
func chosen(r *http.Request) []string {
	set := map[string]bool{}
	for _, p := range r.PostForm["permission"] {
		if p = strings.TrimSpace(p); p != "" {
			set[p] = true
		}
	}
	return sorted(set)
}

func (u *UI) roleReview(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	var role store.Role
	if _, err := u.call(r.Context(), r, s, "GET", "/v1/roles/"+url.PathEscape(name), nil, 0, &role); err != nil {
		u.fail(w, r, s, err)
		return
	}
	if v := r.PostForm.Get("version"); v != strconv.FormatInt(role.Version, 10) {
		u.render(w, http.StatusPreconditionFailed, "error", view{Title: titleFor(412), User: s, Problem: &shown{Title: titleFor(412), Status: 412,
			Detail: "Role " + name + " changed since this page was loaded (version " + v + ", now " + strconv.FormatInt(role.Version, 10) + "). Nothing was saved; open the roles page again to see the current permissions."}})
		return
	}
	next := chosen(r)
	d := roleReviewData{Role: role, Permissions: next}
	old := map[string]bool{}
	for _, p := range role.Permissions {
		old[p] = true
	}
	now := map[string]bool{}
	for _, p := range next {
		now[p] = true
		if !old[p] {
			d.Added = append(d.Added, p)
		}
	}
	for _, p := range role.Permissions {
		if !now[p] {
			d.Removed = append(d.Removed, p)
		}
	}
	if _, err := u.call(r.Context(), r, s, "GET", "/v1/assignments?role="+url.QueryEscape(name), nil, 0, &d.Affected); err != nil {
		if ae, ok := err.(*apiError); ok {
			d.AffectedError = describe(ae)
		} else {
			u.fail(w, r, s, err)
			return
		}
	}
	subs := map[string]bool{}
	for _, a := range d.Affected {
		label := a.Subject
		if a.Issuer != "" {
			label += " (" + a.Issuer + ")"
		}
		subs[label] = true
	}
	d.Subjects = sorted(subs)
	u.render(w, http.StatusOK, "rolereview", view{Title: "Confirm the change to role " + name, Nav: "roles", User: s, Org: orgOf(r, s), Data: d})
}

func (u *UI) roleSave(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	version, err := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	if err != nil || version < 1 {
		u.renderError(w, r, s, http.StatusBadRequest, "Refused: the form names no version", "Nothing was saved. Open the roles page again.")
		return
	}
	var role store.Role
	if _, err := u.call(r.Context(), r, s, "GET", "/v1/roles/"+url.PathEscape(name), nil, 0, &role); err != nil {
		u.fail(w, r, s, err)
		return
	}
	body := map[string]interface{}{"name": name, "description": role.Description, "permissions": chosen(r)}
	if _, err := u.call(r.Context(), r, s, "PUT", "/v1/roles/"+url.PathEscape(name), body, version, nil); err != nil {
		u.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, Prefix+"roles?saved="+url.QueryEscape(name), http.StatusSeeOther)
}

// --- subjects and assignments of an org.

type subjectRow struct {
	Subject, Issuer string
	Assignments     []store.Assignment
}

type subjectsData struct {
	Rows  []subjectRow
	Roles []string
}

func (u *UI) subjectsPage(w http.ResponseWriter, r *http.Request, s *session) {
	org := orgOf(r, s)
	if org == "" {
		u.renderError(w, r, s, http.StatusBadRequest, "Choose an org", "Assignments are listed per org: give one in the org field.")
		return
	}
	var list []store.Assignment
	if _, err := u.call(r.Context(), r, s, "GET", orgPath(org, "/assignments"), nil, 0, &list); err != nil {
		u.fail(w, r, s, err)
		return
	}
	d := subjectsData{}
	var roles []store.Role
	if _, err := u.call(r.Context(), r, s, "GET", "/v1/roles", nil, 0, &roles); err == nil {
		for _, ro := range roles {
			d.Roles = append(d.Roles, ro.Name)
		}
	}
	by := map[[2]string]*subjectRow{}
	for _, a := range list {
		k := [2]string{a.Subject, a.Issuer}
		if by[k] == nil {
			by[k] = &subjectRow{Subject: a.Subject, Issuer: a.Issuer}
		}
		by[k].Assignments = append(by[k].Assignments, a)
	}
	for _, row := range by {
		d.Rows = append(d.Rows, *row)
	}
	sort.Slice(d.Rows, func(i, j int) bool {
		if d.Rows[i].Subject != d.Rows[j].Subject {
			return d.Rows[i].Subject < d.Rows[j].Subject
		}
		return d.Rows[i].Issuer < d.Rows[j].Issuer
	})
	v := view{Title: "Subjects and assignments in " + org, Nav: "subjects", User: s, Org: org, Data: d}
	switch q := r.URL.Query(); {
	case q.Get("added") != "":
		v.Notice = "Assignment " + q.Get("added") + " added."
	case q.Get("removed") != "":
		v.Notice = "Assignment " + q.Get("removed") + " removed."
	}
	u.render(w, http.StatusOK, "subjects", v)
}

func (u *UI) assignmentAdd(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	org := strings.TrimSpace(f.Get("org"))
	body := map[string]interface{}{"subject": strings.TrimSpace(f.Get("subject")), "role": strings.TrimSpace(f.Get("role"))}
	if iss := strings.TrimSpace(f.Get("issuer")); iss != "" {
		body["issuer"] = iss
	}
	if sc := strings.Fields(strings.ReplaceAll(f.Get("scope"), ",", " ")); len(sc) > 0 {
		body["scope"] = sc
	}
	var a store.Assignment
	if _, err := u.call(r.Context(), r, s, "POST", orgPath(org, "/assignments"), body, 0, &a); err != nil {
		u.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, Prefix+"subjects?org="+url.QueryEscape(org)+"&added="+strconv.FormatInt(a.ID, 10), http.StatusSeeOther)
}

func (u *UI) assignmentRemove(w http.ResponseWriter, r *http.Request, s *session) {
	f := r.PostForm
	org := strings.TrimSpace(f.Get("org"))
	id, err := strconv.ParseInt(f.Get("id"), 10, 64)
	version, verr := strconv.ParseInt(f.Get("version"), 10, 64)
	if err != nil || verr != nil {
		u.renderError(w, r, s, http.StatusBadRequest, "Refused: the form names no assignment", "Nothing was removed. Open the subjects page again.")
		return
	}
	if _, err := u.call(r.Context(), r, s, "DELETE", orgPath(org, "/assignments/"+strconv.FormatInt(id, 10)), nil, version, nil); err != nil {
		u.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, Prefix+"subjects?org="+url.QueryEscape(org)+"&removed="+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

// --- what can this subject do; who can do this.

type canData struct {
	Subject, Issuer, Resource string
	Access                    *store.Access
}

func (u *UI) canPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	org := orgOf(r, s)
	d := canData{Subject: strings.TrimSpace(q.Get("subject")), Issuer: strings.TrimSpace(q.Get("issuer")), Resource: strings.TrimSpace(q.Get("resource"))}
	v := view{Title: "What can this subject do", Nav: "can", User: s, Org: org, Data: &d}
	if d.Subject != "" && org != "" {
		p := url.Values{}
		if d.Issuer != "" {
			p.Set("issuer", d.Issuer)
		}
		if d.Resource != "" {
			p.Set("resource", d.Resource)
		}
		path := orgPath(org, "/subjects/"+url.PathEscape(d.Subject)+"/can")
		if len(p) > 0 {
			path += "?" + p.Encode()
		}
		var a store.Access
		if _, err := u.call(r.Context(), r, s, "GET", path, nil, 0, &a); err != nil {
			ae, ok := err.(*apiError)
			if !ok {
				u.fail(w, r, s, err)
				return
			}
			v.Problem = describe(ae)
			u.render(w, ae.status, "can", v)
			return
		}
		d.Access = &a
	}
	u.render(w, http.StatusOK, "can", v)
}

type whoCanData struct {
	Permission  string
	Permissions []string
	Holders     []store.Holder
	Asked       bool
}

func (u *UI) whoCanPage(w http.ResponseWriter, r *http.Request, s *session) {
	org := orgOf(r, s)
	d := &whoCanData{Permission: strings.TrimSpace(r.URL.Query().Get("permission"))}
	v := view{Title: "Who can do this", Nav: "whocan", User: s, Org: org, Data: d}
	var perms []store.Permission
	if _, err := u.call(r.Context(), r, s, "GET", "/v1/permissions", nil, 0, &perms); err != nil {
		u.fail(w, r, s, err)
		return
	}
	for _, p := range perms {
		if !strings.HasPrefix(p.Name, store.SystemPermissionPrefix) {
			d.Permissions = append(d.Permissions, p.Name)
		}
	}
	if d.Permission != "" && org != "" {
		d.Asked = true
		if _, err := u.call(r.Context(), r, s, "GET", orgPath(org, "/whocan/"+url.PathEscape(d.Permission)), nil, 0, &d.Holders); err != nil {
			ae, ok := err.(*apiError)
			if !ok {
				u.fail(w, r, s, err)
				return
			}
			v.Problem = describe(ae)
			u.render(w, ae.status, "whocan", v)
			return
		}
	}
	u.render(w, http.StatusOK, "whocan", v)
}

// --- decisions.

type decisionsData struct {
	Filter             map[string]string // the form's values
	Page               audit.Page
	Summary            audit.Summary
	Chart              chart
	NextURL, FirstURL  string
	Cursor             string
	AllOrgs            bool
	FromInput, ToInput string
}

// datetime-local inputs: minutes, no zone (read as UTC).
const localMinute = "2006-01-02T15:04"

func (u *UI) decisionsPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	org := orgOf(r, s)
	d := decisionsData{Filter: map[string]string{}, AllOrgs: org == ""}
	api := url.Values{}
	for _, k := range []string{"subject", "route", "permission", "decision"} {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			d.Filter[k] = v
			api.Set(k, v)
		}
	}
	for _, k := range []string{"from", "to"} {
		v := strings.TrimSpace(q.Get(k))
		if v == "" {
			continue
		}
		t, err := time.Parse(localMinute, v)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, v); err != nil {
				u.render(w, http.StatusBadRequest, "error", view{Title: "Refused: the input is not valid", User: s, Problem: &shown{Title: "Refused: the input is not valid", Field: k, Status: 400,
					Detail: k + " must be a date and time such as 2026-01-02T15:04 (UTC)"}})
				return
			}
		}
		d.Filter[k] = t.UTC().Format(localMinute)
		api.Set(k, t.UTC().Format(time.RFC3339))
	}
	base := "/v1/decisions"
	if org != "" {
		base = orgPath(org, "/decisions")
	} else {
		api.Del("org")
	}
	if err := (func() error {
		if _, err := u.call(r.Context(), r, s, "GET", base+"/summary?"+api.Encode(), nil, 0, &d.Summary); err != nil {
			return err
		}
		page := url.Values{}
		for k, v := range api {
			page[k] = v
		}
		if c := q.Get("cursor"); c != "" {
			page.Set("cursor", c)
			d.Cursor = c
		}
		page.Set("limit", "50")
		_, err := u.call(r.Context(), r, s, "GET", base+"?"+page.Encode(), nil, 0, &d.Page)
		return err
	})(); err != nil {
		u.fail(w, r, s, err)
		return
	}
	d.Chart = newChart(d.Summary)
	self := url.Values{}
	for k, v := range d.Filter {
		self.Set(k, v)
	}
	self.Set("org", org)
	d.FirstURL = Prefix + "decisions?" + self.Encode()
	if d.Page.Next != "" {
		self.Set("cursor", d.Page.Next)
		d.NextURL = Prefix + "decisions?" + self.Encode()
	}
	u.render(w, http.StatusOK, "decisions", view{Title: "Decisions", Nav: "decisions", User: s, Org: org, Data: d})
}

// --- change log.

type changesData struct {
	Changes  []store.Change
	NextURL  string
	FirstURL string
	Kind     string
	AllOrgs  bool
}

func (u *UI) changesPage(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	org := orgOf(r, s)
	d := changesData{Kind: q.Get("kind"), AllOrgs: org == ""}
	api := url.Values{"limit": {"50"}}
	if d.Kind != "" {
		api.Set("kind", d.Kind)
	}
	if a := q.Get("after"); a != "" {
		api.Set("after", a)
	}
	path := "/v1/changes?"
	if org != "" {
		path = orgPath(org, "/changes?")
	}
	if _, err := u.call(r.Context(), r, s, "GET", path+api.Encode(), nil, 0, &d.Changes); err != nil {
		u.fail(w, r, s, err)
		return
	}
	self := url.Values{"org": {org}}
	if d.Kind != "" {
		self.Set("kind", d.Kind)
	}
	d.FirstURL = Prefix + "changes?" + self.Encode()
	if len(d.Changes) == 50 {
		self.Set("after", strconv.FormatInt(d.Changes[len(d.Changes)-1].Seq, 10))
		d.NextURL = Prefix + "changes?" + self.Encode()
	}
	u.render(w, http.StatusOK, "changes", view{Title: "Change log", Nav: "changes", User: s, Org: org, Data: d})
}

// --- the latest access review.

func (u *UI) reviewPage(w http.ResponseWriter, r *http.Request, s *session) {
	var rv Review
	if _, err := u.call(r.Context(), r, s, "GET", "/v1/reviews/latest", nil, 0, &rv); err != nil {
		if ae, ok := err.(*apiError); ok && ae.status == http.StatusNotFound {
			u.render(w, http.StatusOK, "review", view{Title: "Latest access review", Nav: "review", User: s, Org: orgOf(r, s), Problem: &shown{Title: "No review yet", Detail: ae.p.Detail, Status: 404}})
			return
		}
		u.fail(w, r, s, err)
		return
	}
	u.render(w, http.StatusOK, "review", view{Title: "Latest access review", Nav: "review", User: s, Org: orgOf(r, s), Data: rv})
}
