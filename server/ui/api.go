package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/server/admin"
	"github.com/gatehouse-dev/gatehouse/server/audit"
	"github.com/gatehouse-dev/gatehouse/server/review"
)

// Routes are the admin API routes the UI reads decisions and reviews through, for
// admin.Options.Routes. The admin middleware authorizes them like its own (gatehouse:audit:read):
//
//	GET /v1/orgs/{org}/decisions?subject=&route=&permission=&decision=&from=&to=&cursor=&limit=
//	GET /v1/orgs/{org}/decisions/summary?subject=&route=&permission=&decision=&from=&to=&buckets=&top=
//	    in {org} (an org admin or auditor sees only decisions whose org is theirs; a platform admin every org's)
//	GET /v1/decisions?org=&...             and GET /v1/decisions/summary?org=&...   in the admin org: every org
//	GET /v1/reviews/latest                 in the admin org: the latest kept access review (it spans every org)
func Routes(db *audit.DB) []admin.Route {
	const perm = "gatehouse:audit:read"
	filters := []string{"subject", "route", "permission", "decision", "from", "to"}
	page := append(append([]string(nil), filters...), "cursor", "limit")
	sum := append(append([]string(nil), filters...), "buckets", "top")
	return []admin.Route{
		{Method: "GET", Path: "/v1/orgs/{org}/decisions", Permission: perm, InOrg: true, Query: page, Handler: decisions(db, true)},
		{Method: "GET", Path: "/v1/orgs/{org}/decisions/summary", Permission: perm, InOrg: true, Query: sum, Handler: summary(db, true)},
		{Method: "GET", Path: "/v1/decisions", Permission: perm, Query: append(page, "org"), Handler: decisions(db, false)},
		{Method: "GET", Path: "/v1/decisions/summary", Permission: perm, Query: append(sum, "org"), Handler: summary(db, false)},
		{Method: "GET", Path: "/v1/reviews/latest", Permission: perm, Handler: latestReview(db)},
	}
}

// badInput is a 400 naming the query parameter.
type badInput struct{ field, detail string }

func (e *badInput) Error() string { return e.field + ": " + e.detail }

func filterOf(r *http.Request, inOrg bool, now time.Time) (audit.Filter, error) {
	q := r.URL.Query()
	f := audit.Filter{Subject: q.Get("subject"), Route: q.Get("route"), Permission: q.Get("permission"), Decision: q.Get("decision"), Org: q.Get("org")}
	if inOrg {
		f.Org = r.PathValue("org")
	}
	if f.Decision != "" && f.Decision != "allow" && f.Decision != "deny" {
		return f, &badInput{"decision", "must be allow or deny"}
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(t.name); v != "" {
			tm, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return f, &badInput{t.name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"}
			}
			*t.dst = tm
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, &badInput{"from", "must be before to"}
	}
	return f, nil
}

func intParam(r *http.Request, name string, def, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, &badInput{name, "must be a whole number from 1 to " + strconv.Itoa(max)}
	}
	return n, nil
}

func decisions(db *audit.DB, inOrg bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := filterOf(r, inOrg, time.Now())
		if err != nil {
			writeAPIError(w, err)
			return
		}
		limit, err := intParam(r, "limit", 50, audit.MaxPage)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		cursor := r.URL.Query().Get("cursor")
		if cursor != "" {
			if _, _, err := audit.ParseCursor(cursor); err != nil {
				writeAPIError(w, &badInput{"cursor", err.Error()})
				return
			}
		}
		p, err := db.Decisions(r.Context(), f, cursor, limit)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		writeAPIJSON(w, p)
	})
}

func summary(db *audit.DB, inOrg bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now().UTC()
		f, err := filterOf(r, inOrg, now)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		if f.To.IsZero() {
			f.To = now
		}
		if f.From.IsZero() {
			f.From = f.To.Add(-24 * time.Hour)
		}
		if !f.From.Before(f.To) {
			writeAPIError(w, &badInput{"from", "must be before to"})
			return
		}
		buckets, err := intParam(r, "buckets", 24, 500)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		top, err := intParam(r, "top", 5, 100)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		s, err := db.Summarize(r.Context(), f, buckets, top)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		writeAPIJSON(w, s)
	})
}

// Review is the latest kept access review, as GET /v1/reviews/latest answers it.
type Review struct {
	ID       int64            `json:"id"`
	At       time.Time        `json:"at"`
	Since    time.Time        `json:"since"`
	Counts   map[string]int   `json:"counts"`
	Findings []review.Finding `json:"findings"`
}

func latestReview(db *audit.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var rv Review
		var counts []byte
		err := db.Pool().QueryRow(ctx, `SELECT id, at, since, counts FROM reviews ORDER BY at DESC, id DESC LIMIT 1`).Scan(&rv.ID, &rv.At, &rv.Since, &counts)
		if errors.Is(err, pgx.ErrNoRows) {
			writeProblemJSON(w, http.StatusNotFound, "no access review has been kept yet (gatehouse review, or serve --review-every)", "")
			return
		}
		if err != nil {
			writeAPIError(w, err)
			return
		}
		_ = json.Unmarshal(counts, &rv.Counts)
		rows, err := db.Pool().Query(ctx, `SELECT key, class, severity, title, evidence FROM review_findings WHERE review_id = $1
			ORDER BY CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 WHEN 'low' THEN 2 ELSE 3 END, key`, rv.ID)
		if err != nil {
			writeAPIError(w, err)
			return
		}
		defer rows.Close()
		rv.Findings = []review.Finding{}
		for rows.Next() {
			var f review.Finding
			var ev []byte
			if err := rows.Scan(&f.Key, &f.Class, &f.Severity, &f.Title, &ev); err != nil {
				writeAPIError(w, err)
				return
			}
			_ = json.Unmarshal(ev, &f.Evidence)
			rv.Findings = append(rv.Findings, f)
		}
		if err := rows.Err(); err != nil {
			writeAPIError(w, err)
			return
		}
		rv.At, rv.Since = rv.At.UTC(), rv.Since.UTC()
		writeAPIJSON(w, rv)
	})
}

func writeAPIJSON(w http.ResponseWriter, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

func writeAPIError(w http.ResponseWriter, err error) {
	var bi *badInput
	if errors.As(err, &bi) {
		writeProblemJSON(w, http.StatusBadRequest, bi.detail, bi.field)
		return
	}
	w.Header().Set("Retry-After", "1")
	writeProblemJSON(w, http.StatusServiceUnavailable, "the audit store is unavailable", "")
}

func writeProblemJSON(w http.ResponseWriter, status int, detail, field string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	p := map[string]interface{}{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail}
	if field != "" {
		p["field"] = field
	}
	_ = json.NewEncoder(w).Encode(p)
}
