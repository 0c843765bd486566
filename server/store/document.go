package store

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/matcher"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/tokens"
	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"
)

// docAssignment is an assignment as the policy document writes it.
type docAssignment struct {
	Subject string   `json:"subject"`
	Issuer  string   `json:"issuer,omitempty"`
	Org     string   `json:"org"`
	Role    string   `json:"role"`
	Scope   []string `json:"scope,omitempty"`
}

// doc is the policy document: the schema policy.Parse reads, in the order docs/control-plane.md gives.
type doc struct {
	Permissions []string            `json:"permissions"`
	Roles       map[string][]string `json:"roles"` // encoding/json writes map keys sorted
	Assignments []docAssignment     `json:"assignments"`
}

func (d *doc) encode() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, err
	}
	return yamlSafeJSON(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

// yamlSafeJSON escapes, as \uXXXX, the characters a YAML parser does not take raw inside a
// string: the C1 controls (U+0085 would read as a line break, the others are refused) and
// U+FFFE, U+FFFF. The document is read by policy.Parse, a YAML parser, and policy accepts these
// in a name when they are escaped. Everything else stays raw: YAML refuses escaped surrogate
// pairs, so characters beyond U+FFFF cannot be escaped. encoding/json already escapes U+2028 and
// U+2029, and writes only ASCII outside strings, so a pass over the bytes is enough.
func yamlSafeJSON(b []byte) []byte {
	i := 0
	for i < len(b) && b[i] < utf8.RuneSelf {
		i++
	}
	if i == len(b) {
		return b
	}
	const hex = "0123456789abcdef"
	out := make([]byte, i, len(b)+64)
	copy(out, b[:i])
	for i < len(b) {
		if b[i] < utf8.RuneSelf {
			out = append(out, b[i])
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if (r >= 0x80 && r <= 0x9f) || r == 0xfffe || r == 0xffff {
			out = append(out, '\\', 'u', hex[r>>12&15], hex[r>>8&15], hex[r>>4&15], hex[r&15])
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

// content reads, in tx, the permissions and roles (system or not) and, when wanted, the
// assignments selected by where (an SQL condition on assignments a, with args).
func content(ctx context.Context, tx pgx.Tx, system, withAssignments bool, where string, args ...interface{}) (*doc, []Assignment, error) {
	d := &doc{Permissions: []string{}, Roles: map[string][]string{}, Assignments: []docAssignment{}}
	rows, _ := tx.Query(ctx, `SELECT name FROM permissions WHERE starts_with(name, 'gatehouse:') = $1`, system)
	perms, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(perms)
	d.Permissions = append(d.Permissions, perms...)
	rows, _ = tx.Query(ctx, `SELECT r.name, coalesce(array_agg(rp.permission) FILTER (WHERE rp.permission IS NOT NULL), '{}')
		FROM roles r LEFT JOIN role_permissions rp ON rp.role = r.name WHERE starts_with(r.name, 'gatehouse-') = $1 GROUP BY r.name`, system)
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var name string
		var ps []string
		err := row.Scan(&name, &ps)
		sort.Strings(ps)
		d.Roles[name] = ps
		return struct{}{}, err
	})
	if err != nil || !withAssignments {
		return d, nil, err
	}
	cond := `starts_with(a.role, 'gatehouse-') = $1`
	if where != "" {
		cond += " AND " + where
	}
	rows, _ = tx.Query(ctx, `SELECT a.id, a.subject, a.issuer, a.org, a.role, a.scopes, a.version FROM assignments a WHERE `+cond, append([]interface{}{system}, args...)...)
	list, err := collectAssignments(rows)
	if err != nil {
		return nil, nil, err
	}
	sortAssignments(list)
	d.Assignments = make([]docAssignment, len(list))
	for i, a := range list {
		d.Assignments[i] = docAssignment{Subject: a.Subject, Issuer: a.Issuer, Org: a.Org, Role: a.Role, Scope: a.Scopes}
	}
	return d, list, nil
}

// Document returns the policy document (deterministic JSON in policy.Parse's schema, see
// docs/control-plane.md) and the revision it includes, read in one snapshot.
func (s *Store) Document(ctx context.Context, o DocumentOptions) ([]byte, int64, error) {
	var d *doc
	var rev int64
	err := s.read(ctx, func(tx pgx.Tx) (err error) {
		if rev, err = revision(ctx, tx); err != nil {
			return err
		}
		d, _, err = content(ctx, tx, o.System, !o.NoAssignments, "")
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	b, err := d.encode()
	return b, rev, err
}

// SubjectAssignments returns the non-system assignments of subject that name issuer or no
// issuer (only those naming none when issuer is ""), in document order, and the revision.
func (s *Store) SubjectAssignments(ctx context.Context, subject, issuer string) ([]Assignment, int64, error) {
	if err := checkValue("subject", subject, true); err != nil {
		return nil, 0, err
	}
	if err := checkValue("issuer", issuer, false); err != nil {
		return nil, 0, err
	}
	// One statement: the revision and the assignments in one snapshot, in one round trip.
	list := []Assignment{}
	var rev int64
	err := s.one(ctx, func(q querier) error {
		rows, _ := q.Query(ctx, `WITH r AS (SELECT coalesce(max(seq), 0) AS rev FROM change_log)
			SELECT r.rev, a.id, a.subject, a.issuer, a.org, a.role, a.scopes, a.version FROM r
			LEFT JOIN assignments a ON a.subject = $1 AND a.issuer IN ('', $2) AND NOT starts_with(a.role, 'gatehouse-')`, subject, issuer)
		_, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
			var id *int64
			var a Assignment
			var sub, iss, org, role *string
			var version *int64
			if err := row.Scan(&rev, &id, &sub, &iss, &org, &role, &a.Scopes, &version); err != nil || id == nil {
				return struct{}{}, err
			}
			a.ID, a.Subject, a.Issuer, a.Org, a.Role, a.Version = *id, *sub, *iss, *org, *role, *version
			if len(a.Scopes) == 0 {
				a.Scopes = nil
			}
			list = append(list, a)
			return struct{}{}, nil
		})
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	sortAssignments(list)
	if list == nil {
		list = []Assignment{}
	}
	return list, rev, nil
}

// ---- import

// fileDocument is a policy file as Import reads it (after policy.Parse accepted it).
type fileDocument struct {
	Permissions []string            `yaml:"permissions"`
	Roles       map[string][]string `yaml:"roles"`
	Assignments []struct {
		Subject string      `yaml:"subject"`
		Issuer  interface{} `yaml:"issuer"`
		Org     string      `yaml:"org"`
		Role    string      `yaml:"role"`
		Scope   interface{} `yaml:"scope"`
	} `yaml:"assignments"`
}

func assignmentKey(a Assignment) string {
	return a.Subject + "\x00" + a.Issuer + "\x00" + a.Org + "\x00" + a.Role + "\x00" + strings.Join(a.Scopes, "\x00")
}

// Import makes a policy file (YAML or JSON) the store's non-system content, in one transaction:
// what the file lacks is deleted, what it adds is created, roles whose permissions differ are
// updated, each change logged. The file is first parsed with policy.Parse: what the gateways would
// refuse is refused with its message (422). Subjects are created for new assignments (kind user)
// and never deleted. Duplicate assignments in the file are stored once.
func (s *Store) Import(ctx context.Context, actor string, data []byte) (ImportResult, error) {
	var res ImportResult
	if err := checkActor(actor); err != nil {
		return res, err
	}
	if _, err := policy.Parse(data); err != nil {
		return res, &Error{Status: 422, Field: "document", Detail: err.Error()}
	}
	var f fileDocument
	if err := yaml.Unmarshal(data, &f); err != nil {
		return res, &Error{Status: 422, Field: "document", Detail: err.Error()}
	}
	perms := sortedSet(f.Permissions)
	for i, p := range f.Permissions {
		if isReserved(p) {
			return res, unprocessable("permissions["+strconv.Itoa(i)+"]", strconv.Quote(p)+": names starting "+SystemPermissionPrefix+" or "+SystemRolePrefix+" are reserved for the control plane")
		}
	}
	roles := map[string][]string{}
	for name, ps := range f.Roles {
		if isReserved(name) {
			return res, unprocessable("roles."+name, "names starting "+SystemPermissionPrefix+" or "+SystemRolePrefix+" are reserved for the control plane")
		}
		roles[name] = sortedSet(ps)
	}
	want := map[string]Assignment{}
	var wantOrder []string
	for i, fa := range f.Assignments {
		a := Assignment{Subject: fa.Subject, Org: fa.Org, Role: fa.Role}
		a.Issuer, _ = fa.Issuer.(string)
		switch v := fa.Scope.(type) {
		case string:
			a.Scopes = []string{v}
		case []interface{}:
			for _, e := range v {
				sc, _ := e.(string)
				a.Scopes = append(a.Scopes, sc)
			}
		}
		a, err := checkAssignment(a)
		if err != nil {
			se := err.(*Error)
			se.Field = "assignments[" + strconv.Itoa(i) + "]." + se.Field
			return res, se
		}
		k := assignmentKey(a)
		if _, dup := want[k]; !dup {
			want[k] = a
			wantOrder = append(wantOrder, k)
		}
	}
	err := s.write(ctx, func(tx pgx.Tx, log *changeLog) error {
		res = ImportResult{}
		cur, curList, err := content(ctx, tx, false, true, "")
		if err != nil {
			return err
		}
		// 1. permissions the file adds
		have := map[string]bool{}
		for _, p := range cur.Permissions {
			have[p] = true
		}
		for _, p := range perms {
			if have[p] {
				continue
			}
			if _, err := tx.Exec(ctx, `INSERT INTO permissions (name) VALUES ($1)`, p); err != nil {
				return err
			}
			if err := log.add(actor, "create", KindPermission, p, "", nil, Permission{Name: p, Version: 1}); err != nil {
				return err
			}
			res.Created++
		}
		// 2. roles the file adds or changes
		names := make([]string, 0, len(roles))
		for n := range roles {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			ps := roles[n]
			old, exists := cur.Roles[n]
			switch {
			case !exists:
				if _, err := tx.Exec(ctx, `INSERT INTO roles (name) VALUES ($1)`, n); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO role_permissions (role, permission) SELECT $1, unnest($2::text[])`, n, ps); err != nil {
					return err
				}
				if err := log.add(actor, "create", KindRole, n, "", nil, Role{Name: n, Permissions: ps, Version: 1}); err != nil {
					return err
				}
				res.Created++
			case strings.Join(old, "\x00") != strings.Join(ps, "\x00"):
				before, err := getRole(ctx, tx, n, true)
				if err != nil {
					return err
				}
				after := before
				after.Permissions, after.Version = ps, before.Version+1
				if err := updateRole(ctx, tx, after); err != nil {
					return err
				}
				if err := log.add(actor, "update", KindRole, n, "", before, after); err != nil {
					return err
				}
				res.Updated++
			}
		}
		// 3. assignments: delete what the file lacks, create what it adds
		curKeys := map[string]bool{}
		var gone []Assignment
		for _, a := range curList {
			k := assignmentKey(a)
			curKeys[k] = true
			if _, ok := want[k]; !ok {
				gone = append(gone, a)
			}
		}
		if err := deleteAssignments(ctx, tx, log, actor, gone); err != nil {
			return err
		}
		res.Deleted += len(gone)
		var added []Assignment
		for _, k := range wantOrder {
			if !curKeys[k] {
				added = append(added, want[k])
			}
		}
		sortAssignments(added)
		n, err := insertAssignments(ctx, tx, log, actor, added)
		if err != nil {
			return err
		}
		res.Created += n
		// 4. roles, then permissions, the file no longer holds
		for n := range cur.Roles {
			if _, keep := roles[n]; keep {
				continue
			}
			before, err := getRole(ctx, tx, n, true)
			if err != nil {
				return err
			}
			if err := deleteRole(ctx, tx, n); err != nil {
				return err
			}
			if err := log.add(actor, "delete", KindRole, n, "", before, nil); err != nil {
				return err
			}
			res.Deleted++
		}
		keep := map[string]bool{}
		for _, p := range perms {
			keep[p] = true
		}
		for _, p := range cur.Permissions {
			if keep[p] {
				continue
			}
			before, err := getPermission(ctx, tx, p, true)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM permissions WHERE name = $1`, p); err != nil {
				return err
			}
			if err := log.add(actor, "delete", KindPermission, p, "", before, nil); err != nil {
				return err
			}
			res.Deleted++
		}
		if err := log.flush(ctx, tx); err != nil {
			return err
		}
		res.Revision, err = revision(ctx, tx)
		return err
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// The JSON of an assignment row a, as json.Marshal writes an Assignment (jsonb ignores key order).
const assignmentJSON = `jsonb_strip_nulls(jsonb_build_object('id', a.id, 'subject', a.subject, 'issuer', nullif(a.issuer, ''), 'org', a.org,
	'role', a.role, 'scope', CASE WHEN cardinality(a.scopes) = 0 THEN NULL ELSE to_jsonb(a.scopes) END, 'version', a.version))`

// insertAssignments creates list (and the subjects it names that the store lacks) in a few
// statements, each row logged.
func insertAssignments(ctx context.Context, tx pgx.Tx, log *changeLog, actor string, list []Assignment) (int, error) {
	if len(list) == 0 {
		return 0, nil
	}
	if err := log.flush(ctx, tx); err != nil {
		return 0, err
	}
	in := make([]docAssignment, len(list))
	for i, a := range list {
		in[i] = docAssignment{Subject: a.Subject, Issuer: a.Issuer, Org: a.Org, Role: a.Role, Scope: a.Scopes}
	}
	b, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	const input = `input AS (SELECT e->>'subject' AS subject, coalesce(e->>'issuer', '') AS issuer, e->>'org' AS org, e->>'role' AS role,
		ARRAY(SELECT jsonb_array_elements_text(coalesce(e->'scope', '[]'))) AS scopes, ord
		FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, ord))`
	created := 0
	tag, err := tx.Exec(ctx, `WITH `+input+`,
		s AS (INSERT INTO subjects (id, issuer, kind) SELECT DISTINCT subject, issuer, 'user' FROM input ON CONFLICT DO NOTHING RETURNING id, issuer, kind, display_name, version)
		INSERT INTO change_log (actor, action, kind, key, after)
		SELECT $2, 'create', 'subject', CASE WHEN s.issuer = '' THEN s.id ELSE s.id || ' @ ' || s.issuer END,
			jsonb_strip_nulls(jsonb_build_object('id', s.id, 'issuer', nullif(s.issuer, ''), 'kind', s.kind, 'displayName', nullif(s.display_name, ''), 'version', s.version))
		FROM s ORDER BY s.id COLLATE "C", s.issuer COLLATE "C"`, string(b), actor)
	if err != nil {
		return 0, err
	}
	created += int(tag.RowsAffected())
	tag, err = tx.Exec(ctx, `WITH `+input+`,
		a AS (INSERT INTO assignments (subject, issuer, org, role, scopes) SELECT subject, issuer, org, role, scopes FROM input ORDER BY ord RETURNING *)
		INSERT INTO change_log (actor, action, kind, key, org, after) SELECT $2, 'create', 'assignment', a.id::text, a.org, `+assignmentJSON+` FROM a ORDER BY a.id`,
		string(b), actor)
	if err != nil {
		return 0, err
	}
	return created + int(tag.RowsAffected()), nil
}

func deleteAssignments(ctx context.Context, tx pgx.Tx, log *changeLog, actor string, list []Assignment) error {
	if len(list) == 0 {
		return nil
	}
	if err := log.flush(ctx, tx); err != nil {
		return err
	}
	ids := make([]int64, len(list))
	for i, a := range list {
		ids[i] = a.ID
	}
	_, err := tx.Exec(ctx, `WITH a AS (DELETE FROM assignments WHERE id = ANY($1) RETURNING *)
		INSERT INTO change_log (actor, action, kind, key, org, before) SELECT $2, 'delete', 'assignment', a.id::text, a.org, `+assignmentJSON+` FROM a ORDER BY a.id`,
		ids, actor)
	return err
}

// ---- questions answered by the engine

// engineDocument compiles, with policy.Parse, every permission and role (system ones included)
// and the assignments selected by where.
func engineDocument(ctx context.Context, tx pgx.Tx, where string, args ...interface{}) (*policy.Policy, []Assignment, error) {
	var all []Assignment
	d := &doc{Permissions: []string{}, Roles: map[string][]string{}}
	for _, system := range []bool{false, true} {
		part, list, err := content(ctx, tx, system, true, where, args...)
		if err != nil {
			return nil, nil, err
		}
		d.Permissions = append(d.Permissions, part.Permissions...)
		for k, v := range part.Roles {
			d.Roles[k] = v
		}
		d.Assignments = append(d.Assignments, part.Assignments...)
		all = append(all, list...)
	}
	b, err := d.encode()
	if err != nil {
		return nil, nil, err
	}
	p, err := policy.Parse(b)
	if err != nil {
		// the store holds what policy refuses: a bug, never a user error
		return nil, nil, err
	}
	return p, all, nil
}

func resourceSegments(resource string) ([]string, string, error) {
	if resource == "" || resource == "/" {
		return nil, "/", nil
	}
	segs, err := policy.ParseScope(resource)
	if err != nil {
		return nil, "", unprocessable("resource", err.Error())
	}
	return segs, "/" + strings.Join(segs, "/"), nil
}

// Can reports what subject (with a token of issuer) may do in org at resource ("/" or "" for
// the org itself, else a path like /topics/houseplants), decided by the engine.
func (s *Store) Can(ctx context.Context, subject, issuer, org, resource string) (Access, error) {
	if err := checkValue("subject", subject, true); err != nil {
		return Access{}, err
	}
	if err := checkValue("issuer", issuer, false); err != nil {
		return Access{}, err
	}
	if err := checkValue("org", org, true); err != nil {
		return Access{}, err
	}
	segs, res, err := resourceSegments(resource)
	if err != nil {
		return Access{}, err
	}
	var p *policy.Policy
	var perms []string
	out := Access{Subject: subject, Issuer: issuer, Org: org, Resource: res}
	err = s.read(ctx, func(tx pgx.Tx) (err error) {
		if out.Revision, err = revision(ctx, tx); err != nil {
			return err
		}
		if p, _, err = engineDocument(ctx, tx, "a.subject = $2", subject); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT name FROM permissions`)
		perms, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return Access{}, err
	}
	sort.Strings(perms)
	id := &tokens.Identity{Subject: subject, Issuer: issuer, Org: org}
	target := policy.Target{Resource: segs}
	out.Roles, out.Permissions = policy.Grants(p, policy.Options{}, id, org, segs)
	out.Checks = make([]Check, 0, len(perms))
	for _, perm := range perms {
		e := policy.Explain(p, policy.Options{}, id, &matcher.Route{Text: "store " + perm, Requirement: perm}, target)
		out.Checks = append(out.Checks, Check{Permission: perm, Allow: e.Allow, Reason: e.Reason, Sources: e.Sources})
	}
	if out.Roles == nil {
		out.Roles = []string{}
	}
	if out.Permissions == nil {
		out.Permissions = []string{}
	}
	return out, nil
}

// WhoCan lists the assignments through which a subject holds permission in org (at the whole
// org, or within the assignment's scopes), each confirmed by the engine.
func (s *Store) WhoCan(ctx context.Context, permission, org string) ([]Holder, error) {
	if err := checkValue("org", org, true); err != nil {
		return nil, err
	}
	var p *policy.Policy
	var cands []Assignment
	subjects := map[string]Subject{}
	err := s.read(ctx, func(tx pgx.Tx) (err error) {
		if _, err := getPermission(ctx, tx, permission, false); err != nil {
			if se, ok := err.(*Error); ok {
				se.Field = "permission"
			}
			return err
		}
		p, cands, err = engineDocument(ctx, tx, `a.org = $2 AND a.role IN (SELECT role FROM role_permissions WHERE permission = $3)`, org, permission)
		if err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, subjectSelect+` WHERE (id, issuer) IN (SELECT subject, issuer FROM assignments a WHERE a.org = $1 AND a.role IN (SELECT role FROM role_permissions WHERE permission = $2))`, org, permission)
		_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
			var sub Subject
			err := row.Scan(&sub.ID, &sub.Issuer, &sub.Kind, &sub.DisplayName, &sub.Version)
			subjects[sub.ID+"\x00"+sub.Issuer] = sub
			return struct{}{}, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	sortAssignments(cands)
	out := []Holder{}
	route := &matcher.Route{Text: "store " + permission, Requirement: permission}
	for _, a := range cands {
		var segs []string
		if a.Scopes != nil {
			segs, _ = policy.ParseScope(a.Scopes[0])
		}
		id := &tokens.Identity{Subject: a.Subject, Issuer: a.Issuer, Org: org}
		e := policy.Explain(p, policy.Options{}, id, route, policy.Target{Resource: segs})
		if !confirmed(e, a) {
			continue
		}
		sub := subjects[a.Subject+"\x00"+a.Issuer]
		out = append(out, Holder{Subject: a.Subject, Issuer: a.Issuer, Kind: sub.Kind, DisplayName: sub.DisplayName, Role: a.Role, Scopes: a.Scopes, AssignmentID: a.ID})
	}
	return out, nil
}

// confirmed reports whether the engine's explanation counts assignment a as granting.
func confirmed(e policy.Explanation, a Assignment) bool {
	for _, src := range e.Sources {
		if src.Kind == policy.SourcePolicy && src.Grants && src.Role == a.Role && src.Issuer == a.Issuer && src.Scope == strings.Join(a.Scopes, ",") {
			return true
		}
	}
	return false
}
