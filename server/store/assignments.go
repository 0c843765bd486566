package store

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/jackc/pgx/v5"
)

const assignmentSelect = `SELECT id, subject, issuer, org, role, scopes, version FROM assignments`

func scanAssignment(row pgx.Row) (Assignment, error) {
	var a Assignment
	err := row.Scan(&a.ID, &a.Subject, &a.Issuer, &a.Org, &a.Role, &a.Scopes, &a.Version)
	if len(a.Scopes) == 0 {
		a.Scopes = nil
	}
	return a, err
}

func collectAssignments(rows pgx.Rows) ([]Assignment, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Assignment, error) { return scanAssignment(row) })
}

// sortAssignments puts list in document order: org, subject, issuer, role, scope.
func sortAssignments(list []Assignment) {
	sort.Slice(list, func(i, j int) bool { return lessAssignment(&list[i], &list[j]) })
}

func lessAssignment(a, b *Assignment) bool {
	switch {
	case a.Org != b.Org:
		return a.Org < b.Org
	case a.Subject != b.Subject:
		return a.Subject < b.Subject
	case a.Issuer != b.Issuer:
		return a.Issuer < b.Issuer
	case a.Role != b.Role:
		return a.Role < b.Role
	}
	for k := 0; k < len(a.Scopes) && k < len(b.Scopes); k++ {
		if a.Scopes[k] != b.Scopes[k] {
			return a.Scopes[k] < b.Scopes[k]
		}
	}
	if len(a.Scopes) != len(b.Scopes) {
		return len(a.Scopes) < len(b.Scopes)
	}
	return a.ID < b.ID
}

// ListAssignments returns the assignments f selects, in document order.
func (s *Store) ListAssignments(ctx context.Context, f AssignmentFilter) ([]Assignment, error) {
	var out []Assignment
	err := s.one(ctx, func(tx querier) error {
		rows, _ := tx.Query(ctx, assignmentSelect+` WHERE ($1 = '' OR subject = $1) AND ($2 = '' OR issuer = $2) AND ($3 = '' OR org = $3) AND ($4 = '' OR role = $4)`,
			f.Subject, f.Issuer, f.Org, f.Role)
		var err error
		out, err = collectAssignments(rows)
		return err
	})
	sortAssignments(out)
	if out == nil && err == nil {
		out = []Assignment{}
	}
	return out, err
}

func getAssignment(ctx context.Context, tx querier, id int64, lock bool) (Assignment, error) {
	sql := assignmentSelect + ` WHERE id = $1`
	if lock {
		sql += " FOR UPDATE"
	}
	a, err := scanAssignment(tx.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, notFound("id", "assignment")
	}
	return a, err
}

// GetAssignment returns one assignment (404 when unknown).
func (s *Store) GetAssignment(ctx context.Context, id int64) (Assignment, error) {
	var a Assignment
	err := s.one(ctx, func(tx querier) (err error) { a, err = getAssignment(ctx, tx, id, false); return })
	return a, err
}

// normalizeScopes checks scopes with policy's rules and returns them canonical ("/a/b", no
// trailing slash), sorted and deduplicated; nil for the whole org.
func normalizeScopes(scopes []string) ([]string, error) {
	if err := policy.CheckScopes(scopes); err != nil {
		return nil, unprocessable("scope", err.Error())
	}
	if scopes == nil {
		return nil, nil
	}
	out := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		segs, _ := policy.ParseScope(sc) // checked above
		out = append(out, "/"+strings.Join(segs, "/"))
	}
	return sortedSet(out), nil
}

// checkAssignment validates a with policy's value rules and returns it normalized.
func checkAssignment(a Assignment) (Assignment, error) {
	if err := checkValue("subject", a.Subject, true); err != nil {
		return a, err
	}
	if err := checkValue("issuer", a.Issuer, false); err != nil {
		return a, err
	}
	if err := checkValue("org", a.Org, true); err != nil {
		return a, err
	}
	if a.Role == "" {
		return a, unprocessable("role", "required")
	}
	if err := policy.CheckRoleName(a.Role); err != nil {
		return a, unprocessable("role", "unknown role "+strconv.Quote(a.Role))
	}
	scopes, err := normalizeScopes(a.Scopes)
	if err != nil {
		return a, err
	}
	a.Scopes = scopes
	return a, nil
}

// checkAssignmentInStore applies the rules that need the database: the role exists, and the
// platform-admin role only in the admin org.
func checkAssignmentInStore(ctx context.Context, tx pgx.Tx, a Assignment) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM roles WHERE name = $1)`, a.Role).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return unprocessable("role", "unknown role "+strconv.Quote(a.Role))
	}
	if a.Role == RolePlatformAdmin {
		org, err := adminOrg(ctx, tx)
		if err != nil {
			return err
		}
		if org == "" || a.Org != org {
			return unprocessable("org", RolePlatformAdmin+" may be assigned only in the admin org ("+strconv.Quote(org)+"; set by bootstrap)")
		}
	}
	return nil
}

// ensureSubject creates the subject (kind user) when the store does not know it, and logs it.
func ensureSubject(ctx context.Context, tx pgx.Tx, log *changeLog, actor, id, issuer string) error {
	tag, err := tx.Exec(ctx, `INSERT INTO subjects (id, issuer, kind) VALUES ($1, $2, 'user') ON CONFLICT DO NOTHING`, id, issuer)
	if err != nil || tag.RowsAffected() == 0 {
		return err
	}
	return log.add(actor, "create", KindSubject, subjectKey(id, issuer), "", nil, Subject{ID: id, Issuer: issuer, Kind: "user", Version: 1})
}

func scopesArg(scopes []string) []string {
	if scopes == nil {
		return []string{}
	}
	return scopes
}

// CreateAssignment assigns a role in an org, optionally within scopes (canonical, sorted, deduplicated); it creates the subject (kind user) when the store does not know it.
func (s *Store) CreateAssignment(ctx context.Context, actor string, a Assignment) (Assignment, error) {
	if err := checkActor(actor); err != nil {
		return Assignment{}, err
	}
	a, err := checkAssignment(a)
	if err != nil {
		return Assignment{}, err
	}
	err = s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		return createAssignment(ctx, tx, log, actor, &a)
	})
	if err != nil {
		return Assignment{}, err
	}
	return a, nil
}

func createAssignment(ctx context.Context, tx pgx.Tx, log *changeLog, actor string, a *Assignment) error {
	if err := checkAssignmentInStore(ctx, tx, *a); err != nil {
		return err
	}
	if err := ensureSubject(ctx, tx, log, actor, a.Subject, a.Issuer); err != nil {
		return err
	}
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO assignments (subject, issuer, org, role, scopes) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (subject, issuer, org, role, scopes) DO NOTHING RETURNING id`,
		a.Subject, a.Issuer, a.Org, a.Role, scopesArg(a.Scopes)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		var existing int64
		tx.QueryRow(ctx, `SELECT id FROM assignments WHERE subject = $1 AND issuer = $2 AND org = $3 AND role = $4 AND scopes = $5`,
			a.Subject, a.Issuer, a.Org, a.Role, scopesArg(a.Scopes)).Scan(&existing)
		return &Error{Status: 409, Detail: "the same assignment exists (id " + strconv.FormatInt(existing, 10) + ")"}
	}
	if err != nil {
		return err
	}
	a.ID, a.Version = id, 1
	return log.add(actor, "create", KindAssignment, strconv.FormatInt(id, 10), a.Org, nil, *a)
}

// UpdateAssignment replaces an assignment (a.ID names it). A move to another org is logged as a delete in the old org and a create in the new one.
func (s *Store) UpdateAssignment(ctx context.Context, actor string, a Assignment, ifVersion int64) (Assignment, error) {
	if err := checkActor(actor); err != nil {
		return Assignment{}, err
	}
	a, err := checkAssignment(a)
	if err != nil {
		return Assignment{}, err
	}
	err = s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		before, err := getAssignment(ctx, tx, a.ID, true)
		if err != nil {
			return err
		}
		if err := checkVersion("version", before.Version, ifVersion); err != nil {
			return err
		}
		if err := checkAssignmentInStore(ctx, tx, a); err != nil {
			return err
		}
		if err := keepAPlatformAdmin(ctx, tx, before, &a); err != nil {
			return err
		}
		if err := ensureSubject(ctx, tx, log, actor, a.Subject, a.Issuer); err != nil {
			return err
		}
		a.Version = before.Version + 1
		if _, err := tx.Exec(ctx, `UPDATE assignments SET subject = $2, issuer = $3, org = $4, role = $5, scopes = $6, version = $7 WHERE id = $1`,
			a.ID, a.Subject, a.Issuer, a.Org, a.Role, scopesArg(a.Scopes), a.Version); err != nil {
			return err
		}
		org := a.Org
		if before.Org != a.Org {
			// a move between orgs shows in both orgs' logs: as a delete in the old one and a create in the new one
			if err := log.add(actor, "delete", KindAssignment, strconv.FormatInt(a.ID, 10), before.Org, before, nil); err != nil {
				return err
			}
			return log.add(actor, "create", KindAssignment, strconv.FormatInt(a.ID, 10), org, nil, a)
		}
		return log.add(actor, "update", KindAssignment, strconv.FormatInt(a.ID, 10), org, before, a)
	})
	if err != nil {
		return Assignment{}, err
	}
	return a, nil
}

// DeleteAssignment deletes an assignment.
func (s *Store) DeleteAssignment(ctx context.Context, actor string, id int64, ifVersion int64) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		before, err := getAssignment(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if err := checkVersion("version", before.Version, ifVersion); err != nil {
			return err
		}
		if err := keepAPlatformAdmin(ctx, tx, before, nil); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM assignments WHERE id = $1`, id); err != nil {
			return err
		}
		return log.add(actor, "delete", KindAssignment, strconv.FormatInt(id, 10), before.Org, before, nil)
	})
}

// keepAPlatformAdmin refuses (409) to delete the last gatehouse-platform-admin assignment, or
// to change it into something else (after nil: a delete): nobody could administer the control
// plane any more, short of a new bootstrap with database access.
func keepAPlatformAdmin(ctx context.Context, tx pgx.Tx, before Assignment, after *Assignment) error {
	if before.Role != RolePlatformAdmin || (after != nil && after.Role == RolePlatformAdmin && after.Subject == before.Subject && after.Issuer == before.Issuer) {
		return nil
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM assignments WHERE role = $1`, RolePlatformAdmin).Scan(&n); err != nil {
		return err
	}
	if n <= 1 {
		return &Error{Status: 409, Field: "id", Detail: "the last " + RolePlatformAdmin + " assignment: assign the role to another subject first"}
	}
	return nil
}

// ---- bootstrap and settings

func adminOrg(ctx context.Context, tx querier) (string, error) {
	var org string
	err := tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = 'admin_org'`).Scan(&org)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return org, err
}

// AdminOrg returns the admin org Bootstrap set ("" before).
func (s *Store) AdminOrg(ctx context.Context) (string, error) {
	var org string
	err := s.one(ctx, func(tx querier) (err error) { org, err = adminOrg(ctx, tx); return })
	return org, err
}

type setting struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Bootstrap sets the admin org (once: a different one later is a 409) and assigns
// gatehouse-platform-admin to subject (of issuer, "" for any) there. Running it again with the
// same arguments changes nothing and returns the existing assignment.
func (s *Store) Bootstrap(ctx context.Context, actor, subject, issuer, org string) (Assignment, error) {
	if err := checkActor(actor); err != nil {
		return Assignment{}, err
	}
	a, err := checkAssignment(Assignment{Subject: subject, Issuer: issuer, Org: org, Role: RolePlatformAdmin})
	if err != nil {
		return Assignment{}, err
	}
	err = s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		current, err := adminOrg(ctx, tx)
		if err != nil {
			return err
		}
		switch {
		case current == "":
			if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('admin_org', $1)`, org); err != nil {
				return err
			}
			if err := log.add(actor, "create", KindSetting, "admin_org", "", nil, setting{"admin_org", org}); err != nil {
				return err
			}
		case current != org:
			return &Error{Status: 409, Field: "org", Detail: "the admin org is already " + strconv.Quote(current) + " (it is set once)"}
		}
		existing, err := getAssignmentBy(ctx, tx, a)
		if err == nil {
			a = existing
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return createAssignment(ctx, tx, log, actor, &a)
	})
	if err != nil {
		return Assignment{}, err
	}
	return a, nil
}

func getAssignmentBy(ctx context.Context, tx pgx.Tx, a Assignment) (Assignment, error) {
	return scanAssignment(tx.QueryRow(ctx, assignmentSelect+` WHERE subject = $1 AND issuer = $2 AND org = $3 AND role = $4 AND scopes = $5`,
		a.Subject, a.Issuer, a.Org, a.Role, scopesArg(a.Scopes)))
}

// ---- the change log

// Changes returns change-log entries in sequence order.
func (s *Store) Changes(ctx context.Context, f ChangeFilter) ([]Change, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		limit = 1000
	}
	var out []Change
	err := s.one(ctx, func(tx querier) error {
		rows, _ := tx.Query(ctx, `SELECT seq, at, actor, action, kind, key, coalesce(org, ''), before::text, after::text FROM change_log
			WHERE seq > $1 AND ($2 = '' OR org = $2) AND ($3 = '' OR kind = $3) ORDER BY seq LIMIT $4`, f.After, f.Org, f.Kind, limit)
		var err error
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Change, error) {
			var c Change
			var before, after *string
			err := row.Scan(&c.Seq, &c.At, &c.Actor, &c.Action, &c.Kind, &c.Key, &c.Org, &before, &after)
			if before != nil {
				c.Before = []byte(*before)
			}
			if after != nil {
				c.After = []byte(*after)
			}
			return c, err
		})
		return err
	})
	if out == nil && err == nil {
		out = []Change{}
	}
	return out, err
}

func revision(ctx context.Context, tx querier) (int64, error) {
	var rev int64
	err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM change_log`).Scan(&rev)
	return rev, err
}

// Revision returns the sequence number of the last change (0 when none).
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	err := s.one(ctx, func(tx querier) (err error) { rev, err = revision(ctx, tx); return })
	return rev, err
}
