// Package review is Gatehouse's access review: it reads the control plane's policy (server/store)
// and the audit events gateways wrote (server/audit) and reports findings, each with a severity and
// the evidence for it. Each review is kept, so the next one tells which findings are new, which are
// still open and which were resolved. docs/review.md lists the finding classes.
package review

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/server/check"
	"github.com/gatehouse-dev/gatehouse/server/store"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// Severities, from the most severe.
const (
	High   = "high"
	Medium = "medium"
	Low    = "low"
	Info   = "info"
)

var rank = map[string]int{High: 3, Medium: 2, Low: 1, Info: 0}

// ParseSeverity checks a severity name (for --fail-on).
func ParseSeverity(s string) (string, error) {
	if _, ok := rank[s]; !ok {
		return "", fmt.Errorf("severity %q: want high, medium, low or info", s)
	}
	return s, nil
}

// AtLeast reports whether severity s is at least min.
func AtLeast(s, min string) bool { return rank[s] >= rank[min] }

// Finding classes (docs/review.md).
const (
	ClassUnusedAssignment     = "unused-assignment"
	ClassUnheldRole           = "unheld-role"
	ClassUngrantedPermission  = "ungranted-permission"
	ClassUnrequiredPermission = "unrequired-permission"
	ClassPermissionOutlier    = "permission-outlier"
	ClassServiceNewRoute      = "service-new-route"
	ClassDenialBurst          = "denial-burst"
	ClassUnknownIssuer        = "unknown-issuer"
	ClassCrossTenant          = "cross-tenant"
	ClassDeniedPermission     = "denied-permission"
)

// Finding is one thing a reviewer should look at.
type Finding struct {
	Key      string                 `json:"key"` // the same finding in two reviews has the same key
	Class    string                 `json:"class"`
	Severity string                 `json:"severity"`
	Title    string                 `json:"title"`
	Evidence map[string]interface{} `json:"evidence"`
	// Status is "new" (not in the previous review) or "open" (in it too); FirstSeen is the time of
	// the oldest kept review that had it.
	Status    string    `json:"status,omitempty"`
	FirstSeen time.Time `json:"firstSeen,omitempty"`
}

// Options tune a review. Zero values take the defaults.
type Options struct {
	Now          time.Time     `json:"now"`
	UnusedDays   int           `json:"unusedDays"`   // an assignment unused this many days is a finding (default 30); also the window read
	BurstCount   int           `json:"burstCount"`   // denials of one subject or client within BurstWindow that make a burst (default 20)
	BurstWindow  time.Duration `json:"burstWindow"`  // default 1 minute
	RecentWindow time.Duration `json:"recentWindow"` // service accounts: routes of this last period compared with the rest (default 24h)
	// Routes are route lines (METHOD PATH REQUIREMENT) the gateways enforce, from --routes; nil
	// when none were given (then no permission is reported as required by no route).
	Routes []string `json:"-"`
	// RoutesFrom names where Routes came from, for the report.
	RoutesFrom string `json:"routesFrom,omitempty"`

	anyAge bool // tests at scale: assignments made just now count as old
}

func (o *Options) defaults() {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC()
	if o.UnusedDays <= 0 {
		o.UnusedDays = 30
	}
	if o.BurstCount <= 0 {
		o.BurstCount = 20
	}
	if o.BurstWindow <= 0 {
		o.BurstWindow = time.Minute
	}
	if o.RecentWindow <= 0 {
		o.RecentWindow = 24 * time.Hour
	}
}

// Report is a review's result.
type Report struct {
	ID       int64          `json:"id,omitempty"` // the kept review's id (0 when not kept)
	At       time.Time      `json:"at"`
	Since    time.Time      `json:"since"` // the audit events read are from Since to At
	Options  Options        `json:"options"`
	Events   int64          `json:"events"` // audit events in the window
	Findings []Finding      `json:"findings"`
	Resolved []Finding      `json:"resolved"`           // in the previous review, not in this one
	Previous int64          `json:"previous,omitempty"` // the previous review's id
	Counts   map[string]int `json:"counts"`             // findings by severity
	Notes    []string       `json:"notes,omitempty"`    // what could not be reviewed, and why
}

// Worst is the highest severity among the findings ("" when none).
func (r *Report) Worst() string {
	worst := ""
	for _, f := range r.Findings {
		if worst == "" || rank[f.Severity] > rank[worst] {
			worst = f.Severity
		}
	}
	return worst
}

// Fails reports whether a finding is at least min severe (--fail-on).
func (r *Report) Fails(min string) bool {
	w := r.Worst()
	return w != "" && AtLeast(w, min)
}

// Run reviews the store's policy against the audit events in pool (the same database) and returns
// the report, not kept (see Save).
func Run(ctx context.Context, st *store.Store, pool *pgxpool.Pool, o Options) (*Report, error) {
	o.defaults()
	r := &Report{At: o.Now, Since: o.Now.Add(-time.Duration(o.UnusedDays) * 24 * time.Hour), Options: o, Counts: map[string]int{}}
	rv := &reviewer{ctx: ctx, st: st, pool: pool, o: o, r: r}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE time >= $1 AND time <= $2`, r.Since, r.At).Scan(&r.Events); err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	for _, step := range []func() error{rv.policyObjects, rv.unusedAssignments, rv.outliers, rv.serviceRoutes, rv.bursts, rv.unknownIssuers, rv.denials} {
		if err := step(); err != nil {
			return nil, fmt.Errorf("review: %w", err)
		}
	}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if rank[a.Severity] != rank[b.Severity] {
			return rank[a.Severity] > rank[b.Severity]
		}
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		return a.Key < b.Key
	})
	for _, f := range r.Findings {
		r.Counts[f.Severity]++
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	r.Resolved = []Finding{}
	return r, nil
}

type reviewer struct {
	ctx  context.Context
	st   *store.Store
	pool *pgxpool.Pool
	o    Options
	r    *Report

	roles       []store.Role
	assignments []store.Assignment
}

func (rv *reviewer) add(f Finding) { rv.r.Findings = append(rv.r.Findings, f) }

func (rv *reviewer) note(s string) { rv.r.Notes = append(rv.r.Notes, s) }

func system(role string) bool { return strings.HasPrefix(role, store.SystemRolePrefix) }

func key(parts ...string) string {
	for i, p := range parts {
		parts[i] = strconv.Quote(p)
	}
	return strings.Join(parts, " ")
}

// who names a subject with its issuer.
func who(subject, issuer string) string {
	if issuer == "" {
		return subject
	}
	return subject + " (" + issuer + ")"
}

// policyObjects: roles nobody holds, permissions no role grants, permissions no route requires.
func (rv *reviewer) policyObjects() error {
	var err error
	if rv.roles, err = rv.st.ListRoles(rv.ctx); err != nil {
		return err
	}
	if rv.assignments, err = rv.st.ListAssignments(rv.ctx, store.AssignmentFilter{}); err != nil {
		return err
	}
	perms, err := rv.st.ListPermissions(rv.ctx)
	if err != nil {
		return err
	}
	held := map[string]int{}
	for _, a := range rv.assignments {
		held[a.Role]++
	}
	granted := map[string][]string{}
	for _, role := range rv.roles {
		for _, p := range role.Permissions {
			granted[p] = append(granted[p], role.Name)
		}
		if system(role.Name) || held[role.Name] > 0 {
			continue
		}
		rv.add(Finding{Key: key(ClassUnheldRole, role.Name), Class: ClassUnheldRole, Severity: Low,
			Title:    "role " + role.Name + " is assigned to nobody",
			Evidence: map[string]interface{}{"role": role.Name, "permissions": nonNil(role.Permissions), "assignments": 0}})
	}
	required := map[string][]string{}
	if rv.o.Routes != nil {
		table, errs := matcher.Compile(rv.o.Routes)
		if len(errs) > 0 {
			return errors.New("--routes: " + strings.Join(errs, "; "))
		}
		for _, rt := range table.Routes {
			required[rt.Requirement] = append(required[rt.Requirement], rt.Text)
		}
	} else {
		rv.note("no route tables (--routes): permissions that no route requires are not reported")
	}
	for _, p := range perms {
		if strings.HasPrefix(p.Name, store.SystemPermissionPrefix) {
			continue
		}
		if len(granted[p.Name]) == 0 {
			rv.add(Finding{Key: key(ClassUngrantedPermission, p.Name), Class: ClassUngrantedPermission, Severity: Low,
				Title:    "permission " + p.Name + " is granted by no role",
				Evidence: map[string]interface{}{"permission": p.Name, "description": p.Description}})
		}
		if rv.o.Routes != nil && len(required[p.Name]) == 0 {
			rv.add(Finding{Key: key(ClassUnrequiredPermission, p.Name), Class: ClassUnrequiredPermission, Severity: Low,
				Title:    "permission " + p.Name + " is required by no route",
				Evidence: map[string]interface{}{"permission": p.Name, "grantedBy": nonNil(granted[p.Name]), "routes": len(rv.o.Routes), "routesFrom": rv.o.RoutesFrom}})
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (rv *reviewer) rolePerms() map[string][]string {
	m := map[string][]string{}
	for _, r := range rv.roles {
		m[r.Name] = r.Permissions
	}
	return m
}

// assignedAt returns, per assignment id, when it took its present form (its last create or
// update in the change log).
func (rv *reviewer) assignedAt() (map[int64]time.Time, error) {
	out := map[int64]time.Time{}
	var after int64
	for {
		page, err := rv.st.Changes(rv.ctx, store.ChangeFilter{After: after, Limit: 1000, Kind: store.KindAssignment})
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			after = c.Seq
			if c.Action == "delete" {
				continue
			}
			if id, err := strconv.ParseInt(c.Key, 10, 64); err == nil {
				out[id] = c.At
			}
		}
		if len(page) < 1000 {
			return out, nil
		}
	}
}

// unusedAssignments: an assignment at least UnusedDays old whose subject made no allowed decision
// in its org, in the window, that needed one of its role's permissions.
func (rv *reviewer) unusedAssignments() error {
	var anyAllow bool
	if err := rv.pool.QueryRow(rv.ctx, `SELECT EXISTS (SELECT 1 FROM audit_events WHERE decision = 'allow' AND time >= $1 AND time <= $2)`, rv.r.Since, rv.r.At).Scan(&anyAllow); err != nil {
		return err
	}
	if !anyAllow {
		rv.note("no allowed decision in the audit events of the window (the gateways' auditAllowed is off, or nothing was ingested): unused assignments are not reported")
		return nil
	}
	since, err := rv.assignedAt()
	if err != nil {
		return err
	}
	perms := rv.rolePerms()
	for _, a := range rv.assignments {
		if system(a.Role) {
			continue
		}
		if at, ok := since[a.ID]; ok && at.After(rv.r.Since) && !rv.o.anyAge {
			continue // younger than the window
		}
		var used bool
		var last *time.Time
		err := rv.pool.QueryRow(rv.ctx, `SELECT
				EXISTS (SELECT 1 FROM audit_events WHERE decision = 'allow' AND subject = $1 AND org = $2 AND permission = ANY($3)
					AND time >= $4 AND time <= $5 AND ($6 = '' OR issuer = $6)),
				(SELECT max(time) FROM audit_events WHERE decision = 'allow' AND subject = $1 AND org = $2 AND time >= $4 AND time <= $5 AND ($6 = '' OR issuer = $6))`,
			a.Subject, a.Org, perms[a.Role], rv.r.Since, rv.r.At, a.Issuer).Scan(&used, &last)
		if err != nil {
			return err
		}
		if used {
			continue
		}
		ev := map[string]interface{}{"assignment": a.ID, "subject": a.Subject, "issuer": a.Issuer, "org": a.Org, "role": a.Role,
			"scope": nonNil(a.Scopes), "rolePermissions": nonNil(perms[a.Role]), "days": rv.o.UnusedDays}
		if last != nil {
			ev["lastAllowedInOrg"] = last.UTC()
		} else {
			ev["lastAllowedInOrg"] = "none in the window"
		}
		rv.add(Finding{Key: key(ClassUnusedAssignment, a.Subject, a.Issuer, a.Org, a.Role, strings.Join(a.Scopes, ",")), Class: ClassUnusedAssignment, Severity: Medium,
			Title:    fmt.Sprintf("%s has not used role %s in org %s for %d days", who(a.Subject, a.Issuer), a.Role, a.Org, rv.o.UnusedDays),
			Evidence: ev})
	}
	return nil
}

// outliers: a subject holding more permissions in an org than every other holder of one of its
// roles there.
func (rv *reviewer) outliers() error {
	perms := rv.rolePerms()
	type holder struct{ subject, issuer, org string }
	held := map[holder]map[string]bool{}
	holders := map[[2]string][]holder{} // (org, role) → holders
	for _, a := range rv.assignments {
		if system(a.Role) {
			continue
		}
		h := holder{a.Subject, a.Issuer, a.Org}
		if held[h] == nil {
			held[h] = map[string]bool{}
		}
		for _, p := range perms[a.Role] {
			held[h][p] = true
		}
		k := [2]string{a.Org, a.Role}
		dup := false
		for _, x := range holders[k] {
			dup = dup || x == h
		}
		if !dup {
			holders[k] = append(holders[k], h)
		}
	}
	flagged := map[holder]bool{}
	keys := make([][2]string, 0, len(holders))
	for k := range holders {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+"\x00"+keys[i][1] < keys[j][0]+"\x00"+keys[j][1] })
	for _, k := range keys {
		hs := holders[k]
		if len(hs) < 2 {
			continue
		}
		sort.Slice(hs, func(i, j int) bool { return len(held[hs[i]]) > len(held[hs[j]]) })
		top, next := hs[0], hs[1]
		if len(held[top]) <= len(held[next]) || flagged[top] {
			continue
		}
		flagged[top] = true
		peers := map[string]bool{}
		for _, h := range hs[1:] {
			for p := range held[h] {
				peers[p] = true
			}
		}
		var extra []string
		for p := range held[top] {
			if !peers[p] {
				extra = append(extra, p)
			}
		}
		sort.Strings(extra)
		rv.add(Finding{Key: key(ClassPermissionOutlier, top.subject, top.issuer, top.org), Class: ClassPermissionOutlier, Severity: Medium,
			Title: fmt.Sprintf("%s holds %d permissions in org %s, more than any other holder of role %s (at most %d)", who(top.subject, top.issuer), len(held[top]), top.org, k[1], len(held[next])),
			Evidence: map[string]interface{}{"subject": top.subject, "issuer": top.issuer, "org": top.org, "role": k[1], "permissions": len(held[top]),
				"peers": len(hs) - 1, "peersMost": len(held[next]), "onlyThisSubject": nonNil(extra)}})
	}
	return nil
}

// serviceRoutes: a service account using, in the last RecentWindow, a route it did not use before
// in the window.
func (rv *reviewer) serviceRoutes() error {
	subjects, err := rv.st.ListSubjects(rv.ctx)
	if err != nil {
		return err
	}
	recent := rv.o.Now.Add(-rv.o.RecentWindow)
	if !recent.After(rv.r.Since) {
		return nil
	}
	for _, s := range subjects {
		if s.Kind != "service" {
			continue
		}
		rows, err := rv.pool.Query(rv.ctx, `SELECT route, count(*) FILTER (WHERE time < $3), count(*) FILTER (WHERE time >= $3), min(time) FILTER (WHERE time >= $3),
				array_agg(DISTINCT decision) FILTER (WHERE time >= $3)
			FROM audit_events WHERE subject = $1 AND ($2 = '' OR issuer = $2) AND time >= $4 AND time <= $5 AND route <> ''
			GROUP BY route ORDER BY route`, s.ID, s.Issuer, recent, rv.r.Since, rv.r.At)
		if err != nil {
			return err
		}
		type use struct {
			route         string
			before, after int64
			first         *time.Time
			decisions     []string
		}
		var uses []use
		for rows.Next() {
			var u use
			if err := rows.Scan(&u.route, &u.before, &u.after, &u.first, &u.decisions); err != nil {
				rows.Close()
				return err
			}
			uses = append(uses, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		var usual []string
		for _, u := range uses {
			if u.before > 0 {
				usual = append(usual, u.route)
			}
		}
		if len(usual) == 0 {
			continue // no baseline: nothing is unusual yet
		}
		for _, u := range uses {
			if u.before > 0 || u.after == 0 {
				continue
			}
			rv.add(Finding{Key: key(ClassServiceNewRoute, s.ID, s.Issuer, u.route), Class: ClassServiceNewRoute, Severity: Medium,
				Title: fmt.Sprintf("service account %s used route %q, outside its usual routes", who(s.ID, s.Issuer), u.route),
				Evidence: map[string]interface{}{"subject": s.ID, "issuer": s.Issuer, "route": u.route, "requests": u.after, "firstSeen": u.first.UTC(),
					"decisions": u.decisions, "usualRoutes": usual, "since": rv.r.Since, "recentFrom": recent}})
		}
	}
	return nil
}

// bursts: a subject (verified) or a client address denied BurstCount times within BurstWindow.
func (rv *reviewer) bursts() error {
	rows, err := rv.pool.Query(rv.ctx, `WITH d AS (
			SELECT time, CASE WHEN subject <> '' THEN 'subject' ELSE 'client' END AS kind,
				CASE WHEN subject <> '' THEN subject ELSE btrim(regexp_replace(client, ':[0-9]+$', ''), '[]') END AS who,
				CASE WHEN subject <> '' THEN issuer ELSE '' END AS issuer
			FROM audit_events WHERE decision <> 'allow' AND time >= $1 AND time <= $2
		), w AS (
			SELECT kind, who, issuer, time, count(*) OVER (PARTITION BY kind, who, issuer ORDER BY time RANGE BETWEEN $3::interval PRECEDING AND CURRENT ROW) AS n
			FROM d
		)
		SELECT kind, who, issuer, max(n), (array_agg(time ORDER BY n DESC, time))[1], count(*)
		FROM w GROUP BY kind, who, issuer HAVING max(n) >= $4 ORDER BY kind, who, issuer`,
		rv.r.Since, rv.r.At, rv.o.BurstWindow, rv.o.BurstCount)
	if err != nil {
		return err
	}
	type burst struct {
		kind, who, issuer string
		peak, total       int64
		end               time.Time
	}
	var found []burst
	for rows.Next() {
		var b burst
		if err := rows.Scan(&b.kind, &b.who, &b.issuer, &b.peak, &b.end, &b.total); err != nil {
			rows.Close()
			return err
		}
		found = append(found, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, b := range found {
		start := b.end.Add(-rv.o.BurstWindow)
		cond := "subject = $1 AND issuer = $2"
		if b.kind == "client" {
			cond = "subject = '' AND btrim(regexp_replace(client, ':[0-9]+$', ''), '[]') = $1 AND $2 = ''"
		}
		routes, err := top(rv.ctx, rv.pool, "route", cond+" AND decision <> 'allow' AND time >= $3 AND time <= $4", b.who, b.issuer, start, b.end)
		if err != nil {
			return err
		}
		reasons, err := top(rv.ctx, rv.pool, "reason", cond+" AND decision <> 'allow' AND time >= $3 AND time <= $4", b.who, b.issuer, start, b.end)
		if err != nil {
			return err
		}
		name := b.who
		if b.kind == "subject" {
			name = who(b.who, b.issuer)
		}
		ev := map[string]interface{}{b.kind: b.who, "denials": b.peak, "within": rv.o.BurstWindow.String(), "from": start, "to": b.end.UTC(),
			"deniedInWindow": b.total, "routes": routes, "reasons": reasons}
		if b.kind == "subject" {
			ev["issuer"] = b.issuer
		}
		rv.add(Finding{Key: key(ClassDenialBurst, b.kind, b.who, b.issuer), Class: ClassDenialBurst, Severity: High,
			Title:    fmt.Sprintf("%s %s was denied %d times within %s (a possible probe)", b.kind, name, b.peak, rv.o.BurstWindow),
			Evidence: ev})
	}
	return nil
}

// top returns the three most frequent values of column among the rows matching cond ($1..$4),
// as "value (count)".
func top(ctx context.Context, pool *pgxpool.Pool, column, cond string, args ...interface{}) ([]string, error) {
	rows, err := pool.Query(ctx, `SELECT `+column+`, count(*) FROM audit_events WHERE `+cond+` GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3`, args...)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for rows.Next() {
		var v string
		var n int64
		if err := rows.Scan(&v, &n); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, fmt.Sprintf("%s (%d)", v, n))
	}
	rows.Close()
	return out, rows.Err()
}

// unknownIssuers: tokens refused because their issuer is not trusted, per client address.
func (rv *reviewer) unknownIssuers() error {
	rows, err := rv.pool.Query(rv.ctx, `SELECT btrim(regexp_replace(client, ':[0-9]+$', ''), '[]') AS host, count(*), min(time), max(time),
			array_agg(DISTINCT route ORDER BY route), array_agg(DISTINCT middleware ORDER BY middleware)
		FROM audit_events WHERE decision <> 'allow' AND time >= $1 AND time <= $2 AND reason = $3
		GROUP BY 1 ORDER BY 1`, rv.r.Since, rv.r.At, tokens.ErrIssuer.Error())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var host string
		var n int64
		var first, last time.Time
		var routes, mws []string
		if err := rows.Scan(&host, &n, &first, &last, &routes, &mws); err != nil {
			return err
		}
		rv.add(Finding{Key: key(ClassUnknownIssuer, host), Class: ClassUnknownIssuer, Severity: Medium,
			Title: fmt.Sprintf("client %s presented %d tokens from an issuer no gateway trusts", host, n),
			Evidence: map[string]interface{}{"client": host, "requests": n, "first": first.UTC(), "last": last.UTC(), "routes": routes, "gateways": mws,
				"reason": tokens.ErrIssuer.Error()}})
	}
	return rows.Err()
}

// crossTenantReason is how policy.Decide begins the reason of a token addressing another org
// than its own (the tenant guard).
const crossTenantReason = "token of org "

// denials: verified subjects denied a permission (the policy said no), and tokens addressing
// another tenant's org.
func (rv *reviewer) denials() error {
	rows, err := rv.pool.Query(rv.ctx, `SELECT subject, issuer, org, permission, starts_with(reason, $3) AS cross, count(*), min(time), max(time),
			array_agg(DISTINCT route ORDER BY route), (array_agg(reason ORDER BY time))[1], array_agg(DISTINCT path ORDER BY path)
		FROM audit_events WHERE decision <> 'allow' AND status = 403 AND subject <> '' AND time >= $1 AND time <= $2
		GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`, rv.r.Since, rv.r.At, crossTenantReason)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var subject, issuer, org, perm, reason string
		var cross bool
		var n int64
		var first, last time.Time
		var routes, paths []string
		if err := rows.Scan(&subject, &issuer, &org, &perm, &cross, &n, &first, &last, &routes, &reason, &paths); err != nil {
			return err
		}
		if len(paths) > 5 {
			paths = append(paths[:5], "…")
		}
		ev := map[string]interface{}{"subject": subject, "issuer": issuer, "org": org, "permission": perm, "requests": n,
			"first": first.UTC(), "last": last.UTC(), "routes": routes, "paths": paths, "reason": reason}
		if cross {
			rv.add(Finding{Key: key(ClassCrossTenant, subject, issuer, org, perm), Class: ClassCrossTenant, Severity: High,
				Title:    fmt.Sprintf("%s (a token of org %s) tried another org's %s %s", who(subject, issuer), org, orAny(perm), times(n)),
				Evidence: ev})
			continue
		}
		rv.add(Finding{Key: key(ClassDeniedPermission, subject, issuer, org, perm), Class: ClassDeniedPermission, Severity: Low,
			Title:    fmt.Sprintf("%s was denied %s in org %s %s", who(subject, issuer), orAny(perm), org, times(n)),
			Evidence: ev})
	}
	return rows.Err()
}

func times(n int64) string {
	if n == 1 {
		return "once"
	}
	return strconv.FormatInt(n, 10) + " times"
}

func orAny(perm string) string {
	if perm == "" {
		return "a route"
	}
	return perm
}

// RoutesFromFile reads the route tables of the gatehouse middlewares in a file `gatehouse check`
// reads (a compose file, a Traefik dynamic configuration, a Kubernetes manifest, a Gatehouse YAML).
func RoutesFromFile(path string) ([]string, error) {
	mws, findings, err := check.Load(path)
	if err != nil {
		return nil, err
	}
	var routes []string
	for _, m := range mws {
		if m.Config != nil {
			routes = append(routes, m.Config.Routes...)
		}
	}
	if len(routes) == 0 {
		msg := "no gatehouse routes found"
		for _, f := range findings {
			if f.Severity == check.Error {
				msg += "; " + f.String()
			}
		}
		return nil, errors.New(msg)
	}
	return routes, nil
}
