package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/jackc/pgx/v5"
)

// isReserved reports whether name is reserved for the control plane's own entries: a permission
// or a role whose name starts with either prefix (so that no gateway permission or role is
// mistaken for one, or the other way round).
func isReserved(name string) bool {
	return strings.HasPrefix(name, SystemPermissionPrefix) || strings.HasPrefix(name, SystemRolePrefix)
}

func unprocessable(field, detail string) *Error {
	return &Error{Status: 422, Field: field, Detail: detail}
}

func checkActor(actor string) error {
	if actor == "" || policy.CheckAssignmentValue("actor", actor) != nil {
		return &Error{Status: 400, Field: "actor", Detail: "every change names who made it (a non-empty value without control characters)"}
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

func checkDescription(d string) error {
	if !utf8.ValidString(d) {
		return unprocessable("description", "not valid UTF-8")
	}
	if hasControl(d) {
		return unprocessable("description", "no control characters")
	}
	if len(d) > 1000 {
		return unprocessable("description", "at most 1000 bytes")
	}
	return nil
}

// changeLog collects a transaction's change-log entries; write appends them at the end, under
// the write lock, so that entries commit in sequence order.
type changeLog struct {
	pending [][]interface{} // the INSERT arguments of each entry
	locked  bool
}

// add records one entry; before and after are the objects (nil for none).
func (l *changeLog) add(actor, action, kind, key, org string, before, after interface{}) error {
	var b, a []byte
	var err error
	if before != nil {
		if b, err = json.Marshal(before); err != nil {
			return err
		}
	}
	if after != nil {
		if a, err = json.Marshal(after); err != nil {
			return err
		}
	}
	var orgArg interface{}
	if org != "" {
		orgArg = org
	}
	l.pending = append(l.pending, []interface{}{actor, action, kind, key, orgArg, nullJSON(b), nullJSON(a)})
	return nil
}

// flush takes the write lock (once a transaction) and appends the pending entries, in one round
// trip. From the lock to the commit the transaction only appends to the log, so it never waits
// for another writer while holding the lock: writes commit in sequence order without deadlocks.
func (l *changeLog) flush(ctx context.Context, tx pgx.Tx) error {
	b := &pgx.Batch{}
	if !l.locked {
		b.Queue("SELECT pg_advisory_xact_lock($1)", int64(writeLockKey))
	}
	if len(l.pending) > 0 {
		var sql strings.Builder
		sql.WriteString("INSERT INTO change_log (actor, action, kind, key, org, before, after) VALUES ")
		args := make([]interface{}, 0, 7*len(l.pending))
		for i, e := range l.pending {
			if i > 0 {
				sql.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&sql, "($%d, $%d, $%d, $%d, $%d, $%d::jsonb, $%d::jsonb)", n+1, n+2, n+3, n+4, n+5, n+6, n+7)
			args = append(args, e...)
		}
		b.Queue(sql.String(), args...)
	}
	if b.Len() == 0 {
		return nil
	}
	l.locked, l.pending = true, nil
	return tx.SendBatch(ctx, b).Close()
}

func nullJSON(b []byte) interface{} {
	if b == nil {
		return nil
	}
	return string(b)
}

// checkVersion returns the 412 Error when ifVersion is set and differs from the current version.
func checkVersion(field string, current, ifVersion int64) error {
	if ifVersion != 0 && ifVersion != current {
		return &Error{Status: 412, Field: field, Detail: "the object changed: version " + strconv.FormatInt(current, 10) + ", not " + strconv.FormatInt(ifVersion, 10) + " (read it again)"}
	}
	return nil
}

func notFound(field, what string) *Error {
	return &Error{Status: 404, Field: field, Detail: "no such " + what}
}

// ---- permissions

// ListPermissions returns every permission (the control plane's own included), sorted by name.
func (s *Store) ListPermissions(ctx context.Context) ([]Permission, error) {
	var out []Permission
	err := s.one(ctx, func(tx querier) error {
		rows, _ := tx.Query(ctx, `SELECT name, description, version FROM permissions ORDER BY name COLLATE "C"`)
		var err error
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Permission])
		return err
	})
	return out, err
}

func getPermission(ctx context.Context, q querier, name string, lock bool) (Permission, error) {
	sql := `SELECT name, description, version FROM permissions WHERE name = $1`
	if lock {
		sql += " FOR UPDATE"
	}
	var p Permission
	err := q.QueryRow(ctx, sql, name).Scan(&p.Name, &p.Description, &p.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, notFound("name", "permission")
	}
	return p, err
}

// GetPermission returns one permission (404 when unknown).
func (s *Store) GetPermission(ctx context.Context, name string) (Permission, error) {
	var p Permission
	err := s.one(ctx, func(tx querier) (err error) { p, err = getPermission(ctx, tx, name, false); return })
	return p, err
}

func checkPermissionWrite(name string) error {
	if !utf8.ValidString(name) {
		return unprocessable("name", "not valid UTF-8")
	}
	if err := policy.CheckPermissionName(name); err != nil {
		return unprocessable("name", err.Error())
	}
	if isReserved(name) {
		return unprocessable("name", "names starting "+SystemPermissionPrefix+" or "+SystemRolePrefix+" are the control plane's own and cannot be created, changed or deleted")
	}
	return nil
}

// CreatePermission declares a permission: its name must pass policy's rules and not be reserved (422), and be new (409).
func (s *Store) CreatePermission(ctx context.Context, actor string, p Permission) (Permission, error) {
	if err := checkActor(actor); err != nil {
		return Permission{}, err
	}
	if err := checkPermissionWrite(p.Name); err != nil {
		return Permission{}, err
	}
	if err := checkDescription(p.Description); err != nil {
		return Permission{}, err
	}
	p.Version = 1
	err := s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		if _, err := tx.Exec(ctx, `INSERT INTO permissions (name, description) VALUES ($1, $2)`, p.Name, p.Description); err != nil {
			return err
		}
		return log.add(actor, "create", KindPermission, p.Name, "", nil, p)
	})
	return p, err
}

// UpdatePermission changes a permission's description.
func (s *Store) UpdatePermission(ctx context.Context, actor string, p Permission, ifVersion int64) (Permission, error) {
	if err := checkActor(actor); err != nil {
		return Permission{}, err
	}
	if err := checkPermissionWrite(p.Name); err != nil {
		return Permission{}, err
	}
	if err := checkDescription(p.Description); err != nil {
		return Permission{}, err
	}
	var after Permission
	err := s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		before, err := getPermission(ctx, tx, p.Name, true)
		if err != nil {
			return err
		}
		if err := checkVersion("version", before.Version, ifVersion); err != nil {
			return err
		}
		after = Permission{Name: p.Name, Description: p.Description, Version: before.Version + 1}
		if _, err := tx.Exec(ctx, `UPDATE permissions SET description = $2, version = $3 WHERE name = $1`, p.Name, p.Description, after.Version); err != nil {
			return err
		}
		return log.add(actor, "update", KindPermission, p.Name, "", before, after)
	})
	return after, err
}

// DeletePermission deletes a permission no role grants (409 while one does).
func (s *Store) DeletePermission(ctx context.Context, actor, name string, ifVersion int64) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	if err := checkPermissionWrite(name); err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		before, err := getPermission(ctx, tx, name, true)
		if err != nil {
			return err
		}
		if err := checkVersion("version", before.Version, ifVersion); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT role FROM role_permissions WHERE permission = $1 ORDER BY role COLLATE "C" LIMIT 10`, name)
		roles, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(roles) > 0 {
			return &Error{Status: 409, Field: "name", Detail: "still granted by role " + quoteList(roles) + ": remove it from those roles first"}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM permissions WHERE name = $1`, name); err != nil {
			return err
		}
		return log.add(actor, "delete", KindPermission, name, "", before, nil)
	})
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// ---- roles

const roleSelect = `SELECT r.name, r.description,
	coalesce((SELECT array_agg(permission ORDER BY permission COLLATE "C") FROM role_permissions WHERE role = r.name), '{}'),
	r.version FROM roles r`

func scanRole(row pgx.Row) (Role, error) {
	var r Role
	err := row.Scan(&r.Name, &r.Description, &r.Permissions, &r.Version)
	return r, err
}

// ListRoles returns every role with its sorted permissions, sorted by name.
func (s *Store) ListRoles(ctx context.Context) ([]Role, error) {
	var out []Role
	err := s.one(ctx, func(tx querier) error {
		rows, _ := tx.Query(ctx, roleSelect+` ORDER BY r.name COLLATE "C"`)
		var err error
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (Role, error) { return scanRole(row) })
		return err
	})
	return out, err
}

func getRole(ctx context.Context, tx querier, name string, lock bool) (Role, error) {
	sql := roleSelect + ` WHERE r.name = $1`
	if lock {
		sql += " FOR UPDATE OF r"
	}
	r, err := scanRole(tx.QueryRow(ctx, sql, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, notFound("name", "role")
	}
	return r, err
}

// GetRole returns one role (404 when unknown).
func (s *Store) GetRole(ctx context.Context, name string) (Role, error) {
	var r Role
	err := s.one(ctx, func(tx querier) (err error) { r, err = getRole(ctx, tx, name, false); return })
	return r, err
}

func checkRoleWrite(name string) error {
	if !utf8.ValidString(name) {
		return unprocessable("name", "not valid UTF-8")
	}
	if err := policy.CheckRoleName(name); err != nil {
		return unprocessable("name", err.Error())
	}
	if isReserved(name) {
		return unprocessable("name", "names starting "+SystemPermissionPrefix+" or "+SystemRolePrefix+" are the control plane's own and cannot be created, changed or deleted")
	}
	return nil
}

// checkRolePermissions applies policy's role rules (unknown permission, roles inside roles,
// wildcards) to r with what the database declares, and returns r's permissions sorted and
// deduplicated.
func checkRolePermissions(ctx context.Context, tx pgx.Tx, r Role) ([]string, error) {
	perms := sortedSet(r.Permissions)
	for _, p := range perms {
		if isReserved(p) {
			return nil, unprocessable("permissions", strconv.Quote(p)+": the control plane's own permissions are granted only by its own roles")
		}
	}
	declared, roles := map[string]bool{}, map[string]bool{}
	rows, _ := tx.Query(ctx, `SELECT name FROM permissions WHERE name = ANY($1)`, perms)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		declared[n] = true
	}
	rows, _ = tx.Query(ctx, `SELECT name FROM roles WHERE name = ANY($1)`, append(perms, r.Name))
	names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		roles[n] = true
	}
	if err := policy.CheckRole(r.Name, r.Permissions, declared, roles); err != nil {
		return nil, unprocessable("permissions", err.Error())
	}
	return perms, nil
}

func sortedSet(list []string) []string {
	out := make([]string, 0, len(list))
	seen := map[string]bool{}
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// CreateRole creates a role granting declared permissions only (policy.CheckRole: no wildcard, no role inside a role, no unknown permission).
func (s *Store) CreateRole(ctx context.Context, actor string, r Role) (Role, error) {
	if err := checkActor(actor); err != nil {
		return Role{}, err
	}
	if err := checkRoleWrite(r.Name); err != nil {
		return Role{}, err
	}
	if err := checkDescription(r.Description); err != nil {
		return Role{}, err
	}
	var out Role
	err := s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		perms, err := checkRolePermissions(ctx, tx, r)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO roles (name, description) VALUES ($1, $2)`, r.Name, r.Description); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO role_permissions (role, permission) SELECT $1, unnest($2::text[])`, r.Name, perms); err != nil {
			return err
		}
		out = Role{Name: r.Name, Description: r.Description, Permissions: perms, Version: 1}
		return log.add(actor, "create", KindRole, r.Name, "", nil, out)
	})
	return out, err
}

// UpdateRole replaces a role's description and permission list.
func (s *Store) UpdateRole(ctx context.Context, actor string, r Role, ifVersion int64) (Role, error) {
	if err := checkActor(actor); err != nil {
		return Role{}, err
	}
	if err := checkRoleWrite(r.Name); err != nil {
		return Role{}, err
	}
	if err := checkDescription(r.Description); err != nil {
		return Role{}, err
	}
	var out Role
	err := s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		before, err := getRole(ctx, tx, r.Name, true)
		if err != nil {
			return err
		}
		if err := checkVersion("version", before.Version, ifVersion); err != nil {
			return err
		}
		perms, err := checkRolePermissions(ctx, tx, r)
		if err != nil {
			return err
		}
		out = Role{Name: r.Name, Description: r.Description, Permissions: perms, Version: before.Version + 1}
		if err := updateRole(ctx, tx, out); err != nil {
			return err
		}
		return log.add(actor, "update", KindRole, r.Name, "", before, out)
	})
	return out, err
}

func updateRole(ctx context.Context, tx pgx.Tx, r Role) error {
	if _, err := tx.Exec(ctx, `UPDATE roles SET description = $2, version = $3 WHERE name = $1`, r.Name, r.Description, r.Version); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM role_permissions WHERE role = $1 AND permission <> ALL($2::text[])`, r.Name, r.Permissions); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO role_permissions (role, permission) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING`, r.Name, r.Permissions)
	return err
}

// DeleteRole deletes a role nobody is assigned (409 while assigned).
func (s *Store) DeleteRole(ctx context.Context, actor, name string, ifVersion int64) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	if err := checkRoleWrite(name); err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		before, err := getRole(ctx, tx, name, true)
		if err != nil {
			return err
		}
		if err := checkVersion("version", before.Version, ifVersion); err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM assignments WHERE role = $1`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &Error{Status: 409, Field: "name", Detail: "still assigned (" + strconv.FormatInt(n, 10) + " assignments): delete them first"}
		}
		if err := deleteRole(ctx, tx, name); err != nil {
			return err
		}
		return log.add(actor, "delete", KindRole, name, "", before, nil)
	})
}

// deleteRole deletes a role and its permission list (role_permissions restricts the delete).
func deleteRole(ctx context.Context, tx pgx.Tx, name string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM role_permissions WHERE role = $1`, name); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM roles WHERE name = $1`, name)
	return err
}

// ---- subjects

const subjectSelect = `SELECT id, issuer, kind, display_name, version FROM subjects`

// ListSubjects returns every subject, sorted by id and issuer.
func (s *Store) ListSubjects(ctx context.Context) ([]Subject, error) {
	var out []Subject
	err := s.one(ctx, func(tx querier) error {
		rows, _ := tx.Query(ctx, subjectSelect+` ORDER BY id COLLATE "C", issuer COLLATE "C"`)
		var err error
		out, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Subject])
		return err
	})
	return out, err
}

func getSubject(ctx context.Context, tx querier, id, issuer string, lock bool) (Subject, error) {
	sql := subjectSelect + ` WHERE id = $1 AND issuer = $2`
	if lock {
		sql += " FOR UPDATE"
	}
	var sub Subject
	err := tx.QueryRow(ctx, sql, id, issuer).Scan(&sub.ID, &sub.Issuer, &sub.Kind, &sub.DisplayName, &sub.Version)
	if errors.Is(err, pgx.ErrNoRows) {
		return sub, notFound("id", "subject")
	}
	return sub, err
}

// GetSubject returns one subject (issuer "" for the subject of every trusted issuer).
func (s *Store) GetSubject(ctx context.Context, id, issuer string) (Subject, error) {
	var sub Subject
	err := s.one(ctx, func(tx querier) (err error) { sub, err = getSubject(ctx, tx, id, issuer, false); return })
	return sub, err
}

// checkValue applies the forwarded-value rule to a required (or optional) field.
func checkValue(field, v string, required bool) error {
	if v == "" {
		if required {
			return unprocessable(field, "required")
		}
		return nil
	}
	if err := policy.CheckAssignmentValue(field, v); err != nil {
		return unprocessable(field, err.Error())
	}
	return nil
}

func checkSubject(sub Subject) error {
	if err := checkValue("id", sub.ID, true); err != nil {
		return err
	}
	if err := checkValue("issuer", sub.Issuer, false); err != nil {
		return err
	}
	if sub.Kind != "user" && sub.Kind != "service" {
		return unprocessable("kind", `"user" or "service"`)
	}
	if !utf8.ValidString(sub.DisplayName) || hasControl(sub.DisplayName) || len(sub.DisplayName) > 200 {
		return unprocessable("displayName", "at most 200 bytes, no control characters")
	}
	return nil
}

// CreateSubject creates a user or service account.
func (s *Store) CreateSubject(ctx context.Context, actor string, sub Subject) (Subject, error) {
	if err := checkActor(actor); err != nil {
		return Subject{}, err
	}
	if err := checkSubject(sub); err != nil {
		return Subject{}, err
	}
	sub.Version = 1
	err := s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		if _, err := tx.Exec(ctx, `INSERT INTO subjects (id, issuer, kind, display_name) VALUES ($1, $2, $3, $4)`, sub.ID, sub.Issuer, sub.Kind, sub.DisplayName); err != nil {
			return err
		}
		return log.add(actor, "create", KindSubject, subjectKey(sub.ID, sub.Issuer), "", nil, sub)
	})
	return sub, err
}

// subjectKey is a subject's change-log key: its id, and " @ issuer" when it names one.
func subjectKey(id, issuer string) string {
	if issuer == "" {
		return id
	}
	return id + " @ " + issuer
}

// UpdateSubject changes a subject's kind and display name.
func (s *Store) UpdateSubject(ctx context.Context, actor string, sub Subject, ifVersion int64) (Subject, error) {
	if err := checkActor(actor); err != nil {
		return Subject{}, err
	}
	if err := checkSubject(sub); err != nil {
		return Subject{}, err
	}
	var out Subject
	err := s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		before, err := getSubject(ctx, tx, sub.ID, sub.Issuer, true)
		if err != nil {
			return err
		}
		if err := checkVersion("version", before.Version, ifVersion); err != nil {
			return err
		}
		out = sub
		out.Version = before.Version + 1
		if _, err := tx.Exec(ctx, `UPDATE subjects SET kind = $3, display_name = $4, version = $5 WHERE id = $1 AND issuer = $2`, sub.ID, sub.Issuer, sub.Kind, sub.DisplayName, out.Version); err != nil {
			return err
		}
		return log.add(actor, "update", KindSubject, subjectKey(sub.ID, sub.Issuer), "", before, out)
	})
	return out, err
}

// DeleteSubject deletes a subject that holds no assignment (409 while it does).
func (s *Store) DeleteSubject(ctx context.Context, actor, id, issuer string, ifVersion int64) error {
	if err := checkActor(actor); err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		before, err := getSubject(ctx, tx, id, issuer, true)
		if err != nil {
			return err
		}
		if err := checkVersion("version", before.Version, ifVersion); err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM assignments WHERE subject = $1 AND issuer = $2`, id, issuer).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &Error{Status: 409, Field: "id", Detail: "still assigned (" + strconv.FormatInt(n, 10) + " assignments): delete them first"}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM subjects WHERE id = $1 AND issuer = $2`, id, issuer); err != nil {
			return err
		}
		return log.add(actor, "delete", KindSubject, subjectKey(id, issuer), "", before, nil)
	})
}
