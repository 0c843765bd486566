package store

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
)

func TestEveryBadInputIsRefusedWithItsStatusAndFieldAndLeavesNothingWritten(t *testing.T) {
	s, dsn := newStore(t)
	seed(t, s)
	kept := must[Assignment](t)(s.CreateAssignment(ctx, actor, Assignment{Subject: "bob", Org: "acme", Role: "viewer"}))
	must[Subject](t)(s.CreateSubject(ctx, actor, Subject{ID: "ci", Kind: "service"}))
	cases := []struct {
		name          string
		do            func() error
		status        int
		field, detail string
	}{
		{"a wildcard permission", func() error { _, err := s.CreatePermission(ctx, actor, Permission{Name: "workflows:*"}); return err }, 422, "name", "wildcard"},
		{"a permission with a space", func() error { _, err := s.CreatePermission(ctx, actor, Permission{Name: "a b"}); return err }, 422, "name", "not a valid permission name"},
		{"a reserved permission word", func() error { _, err := s.CreatePermission(ctx, actor, Permission{Name: "public"}); return err }, 422, "name", "reserved"},
		{"a control-plane permission", func() error {
			_, err := s.CreatePermission(ctx, actor, Permission{Name: "gatehouse:things:write"})
			return err
		}, 422, "name", "control plane"},
		{"a duplicate permission", func() error { _, err := s.CreatePermission(ctx, actor, Permission{Name: "workflows:read"}); return err }, 409, "name", "exists"},
		{"a description with a control character", func() error {
			_, err := s.CreatePermission(ctx, actor, Permission{Name: "x:y", Description: "a\x1bb"})
			return err
		}, 422, "description", "control"},
		{"a permission name that is not UTF-8", func() error { _, err := s.CreatePermission(ctx, actor, Permission{Name: "a:\xff"}); return err }, 422, "name", "UTF-8"},
		{"a role name that is not UTF-8", func() error { _, err := s.CreateRole(ctx, actor, Role{Name: "r\xc3"}); return err }, 422, "name", "UTF-8"},
		{"a display name that is not UTF-8", func() error {
			_, err := s.CreateSubject(ctx, actor, Subject{ID: "u8", Kind: "user", DisplayName: "\xff"})
			return err
		}, 422, "displayName", ""},
		{"a subject that is not UTF-8", func() error {
			_, err := s.CreateAssignment(ctx, actor, Assignment{Subject: "\xffx", Org: "acme", Role: "viewer"})
			return err
		}, 422, "subject", "not a valid value"},
		{"no actor", func() error { _, err := s.CreatePermission(ctx, "", Permission{Name: "x:y"}); return err }, 400, "actor", ""},
		{"an update of an unknown permission", func() error {
			_, err := s.UpdatePermission(ctx, actor, Permission{Name: "x:nope"}, 0)
			return err
		}, 404, "name", "no such permission"},
		{"a delete of a permission a role grants", func() error { return s.DeletePermission(ctx, actor, "workflows:read", 0) }, 409, "name", `"editor", "viewer"`},
		{"a delete of a control-plane permission", func() error { return s.DeletePermission(ctx, actor, PermBundleRead, 0) }, 422, "name", "control plane"},
		{"a role with a wildcard name", func() error { _, err := s.CreateRole(ctx, actor, Role{Name: "ad*"}); return err }, 422, "name", "not a valid role name"},
		{"a role granting a wildcard", func() error {
			_, err := s.CreateRole(ctx, actor, Role{Name: "x", Permissions: []string{"workflows:*"}})
			return err
		}, 422, "permissions", "wildcard"},
		{"a role granting an unknown permission", func() error {
			_, err := s.CreateRole(ctx, actor, Role{Name: "x", Permissions: []string{"workflows:raed"}})
			return err
		}, 422, "permissions", `"workflows:raed": unknown permission`},
		{"a role inside a role", func() error {
			_, err := s.CreateRole(ctx, actor, Role{Name: "x", Permissions: []string{"workflows:read", "viewer"}})
			return err
		}, 422, "permissions", "roles cannot contain roles"},
		{"a role granting a control-plane permission", func() error {
			_, err := s.CreateRole(ctx, actor, Role{Name: "x", Permissions: []string{PermAssignmentsWrite}})
			return err
		}, 422, "permissions", "control plane"},
		{"a permission named like a control-plane role", func() error {
			_, err := s.CreatePermission(ctx, actor, Permission{Name: "gatehouse-things"})
			return err
		}, 422, "name", "control plane"},
		{"a role named like a control-plane permission", func() error { _, err := s.CreateRole(ctx, actor, Role{Name: "gatehouse:x"}); return err }, 422, "name", "control plane"},
		{"a control-plane role", func() error { _, err := s.CreateRole(ctx, actor, Role{Name: "gatehouse-x"}); return err }, 422, "name", "control plane"},
		{"a change to a control-plane role", func() error {
			_, err := s.UpdateRole(ctx, actor, Role{Name: RoleAuditor, Permissions: []string{PermPolicyRead}}, 0)
			return err
		}, 422, "name", "control plane"},
		{"a duplicate role", func() error { _, err := s.CreateRole(ctx, actor, Role{Name: "viewer"}); return err }, 409, "name", "exists"},
		{"a delete of a role still assigned", func() error { return s.DeleteRole(ctx, actor, "viewer", 0) }, 409, "name", "still assigned"},
		{"a delete of an unknown role", func() error { return s.DeleteRole(ctx, actor, "nope", 0) }, 404, "name", "no such role"},
		{"a subject of no known kind", func() error { _, err := s.CreateSubject(ctx, actor, Subject{ID: "x", Kind: "robot"}); return err }, 422, "kind", ""},
		{"a subject id with padding", func() error { _, err := s.CreateSubject(ctx, actor, Subject{ID: "x ", Kind: "user"}); return err }, 422, "id", "not a valid value"},
		{"a subject issuer with a control byte", func() error {
			_, err := s.CreateSubject(ctx, actor, Subject{ID: "x", Issuer: "https://i\x00", Kind: "user"})
			return err
		}, 422, "issuer", "not a valid value"},
		{"a duplicate subject", func() error { _, err := s.CreateSubject(ctx, actor, Subject{ID: "ci", Kind: "user"}); return err }, 409, "id", "exists"},
		{"a delete of a subject still assigned", func() error { return s.DeleteSubject(ctx, actor, "bob", "", 0) }, 409, "id", "still assigned"},
		{"an assignment of an unknown role", func() error {
			_, err := s.CreateAssignment(ctx, actor, Assignment{Subject: "carol", Org: "acme", Role: "nope"})
			return err
		}, 422, "role", `unknown role "nope"`},
		{"an assignment without org", func() error {
			_, err := s.CreateAssignment(ctx, actor, Assignment{Subject: "carol", Role: "viewer"})
			return err
		}, 422, "org", "required"},
		{"an assignment with a padded org", func() error {
			_, err := s.CreateAssignment(ctx, actor, Assignment{Subject: "carol", Org: " acme", Role: "viewer"})
			return err
		}, 422, "org", "not a valid value"},
		{"an assignment with a newline in the subject", func() error {
			_, err := s.CreateAssignment(ctx, actor, Assignment{Subject: "car\nol", Org: "acme", Role: "viewer"})
			return err
		}, 422, "subject", "not a valid value"},
		{"a relative scope", func() error {
			_, err := s.CreateAssignment(ctx, actor, Assignment{Subject: "carol", Org: "acme", Role: "viewer", Scopes: []string{"topics"}})
			return err
		}, 422, "scope", "must be a path below /"},
		{"a scope with a partial star", func() error {
			_, err := s.CreateAssignment(ctx, actor, Assignment{Subject: "carol", Org: "acme", Role: "viewer", Scopes: []string{"/topics/a*"}})
			return err
		}, 422, "scope", "bad segment"},
		{"an empty scope list", func() error {
			_, err := s.CreateAssignment(ctx, actor, Assignment{Subject: "carol", Org: "acme", Role: "viewer", Scopes: []string{}})
			return err
		}, 422, "scope", "empty list"},
		{"a duplicate assignment", func() error {
			_, err := s.CreateAssignment(ctx, actor, Assignment{Subject: "bob", Org: "acme", Role: "viewer"})
			return err
		}, 409, "", "the same assignment exists"},
		{"the platform-admin role outside the admin org", func() error {
			_, err := s.CreateAssignment(ctx, actor, Assignment{Subject: "carol", Org: "acme", Role: RolePlatformAdmin})
			return err
		}, 422, "org", "only in the admin org"},
		{"an update of an unknown assignment", func() error {
			_, err := s.UpdateAssignment(ctx, actor, Assignment{ID: 9999, Subject: "bob", Org: "acme", Role: "viewer"}, 0)
			return err
		}, 404, "id", "no such assignment"},
		{"a delete of an unknown assignment", func() error { return s.DeleteAssignment(ctx, actor, 9999, 0) }, 404, "id", "no such assignment"},
		{"a lost update", func() error {
			_, err := s.UpdateAssignment(ctx, actor, Assignment{ID: kept.ID, Subject: "bob", Org: "acme", Role: "editor"}, kept.Version+1)
			return err
		}, 412, "version", "changed"},
		{"a lost delete", func() error { return s.DeleteAssignment(ctx, actor, kept.ID, kept.Version+1) }, 412, "version", "changed"},
		{"who can with an unknown permission", func() error { _, err := s.WhoCan(ctx, "nope", "acme"); return err }, 404, "permission", ""},
		{"can at a malformed resource", func() error { _, err := s.Can(ctx, "bob", "", "acme", "topics/x"); return err }, 422, "resource", ""},
	}
	rev := must[int64](t)(s.Revision(ctx))
	subjects := count(t, dsn, "SELECT count(*) FROM subjects")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantError(t, c.do(), c.status, c.field, c.detail)
			if now := must[int64](t)(s.Revision(ctx)); now != rev {
				t.Fatalf("a refused change moved the revision from %d to %d", rev, now)
			}
		})
	}
	if n := count(t, dsn, "SELECT count(*) FROM subjects"); n != subjects {
		t.Fatalf("refused assignments left %d subjects behind", n-subjects)
	}
}

func TestTheDatabaseRefusesWhatTheCodeWouldHaveRefused(t *testing.T) {
	s, dsn := newStore(t)
	seed(t, s)
	c := sqlConn(t, dsn)
	for _, sql := range []string{
		`INSERT INTO permissions (name) VALUES ('workflows:*')`,
		`INSERT INTO permissions (name) VALUES ('a b')`,
		`INSERT INTO permissions (name) VALUES ('a,b')`,
		`INSERT INTO permissions (name) VALUES ('deny')`,
		`INSERT INTO permissions (name) VALUES ('')`,
		`INSERT INTO roles (name) VALUES ('ro*le')`,
		`INSERT INTO role_permissions VALUES ('viewer', 'editor')`,
		`INSERT INTO subjects (id, kind) VALUES ('x', 'robot')`,
		`INSERT INTO subjects (id, kind) VALUES (' x', 'user')`,
		`INSERT INTO subjects (id, kind) VALUES (E'x\n', 'user')`,
		`INSERT INTO assignments (subject, org, role) VALUES ('nobody', 'acme', 'viewer')`,
		`INSERT INTO subjects (id, kind) VALUES ('x', 'user'); INSERT INTO assignments (subject, org, role) VALUES ('x', '', 'viewer')`,
		`INSERT INTO subjects (id, kind) VALUES ('x', 'user'); INSERT INTO assignments (subject, org, role) VALUES ('x', 'acme', 'gatehouse-platform-admin')`,
		`DELETE FROM permissions WHERE name = 'workflows:read'`,
	} {
		t.Run(sql, func(t *testing.T) {
			tx, err := c.Begin(ctx)
			ok(t, err)
			defer tx.Rollback(ctx)
			if _, err := tx.Exec(ctx, sql); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestEveryObjectKindCanBeCreatedReadUpdatedAndDeleted(t *testing.T) {
	s, _ := newStore(t)
	systemPerms, systemRoles := len(must[[]Permission](t)(s.ListPermissions(ctx))), len(must[[]Role](t)(s.ListRoles(ctx)))
	p := must[Permission](t)(s.CreatePermission(ctx, actor, Permission{Name: "reports:read", Description: "read reports"}))
	if got := must[Permission](t)(s.GetPermission(ctx, "reports:read")); got != p || p.Version != 1 {
		t.Fatalf("got %+v, created %+v", got, p)
	}
	p = must[Permission](t)(s.UpdatePermission(ctx, actor, Permission{Name: "reports:read", Description: "read every report"}, 1))
	if p.Version != 2 || must[Permission](t)(s.GetPermission(ctx, "reports:read")).Description != "read every report" {
		t.Fatalf("update: %+v", p)
	}
	must[Permission](t)(s.CreatePermission(ctx, actor, Permission{Name: "reports:write"}))
	r := must[Role](t)(s.CreateRole(ctx, actor, Role{Name: "reporter", Permissions: []string{"reports:write", "reports:read", "reports:read"}}))
	if strings.Join(r.Permissions, ",") != "reports:read,reports:write" {
		t.Fatalf("role permissions not sorted and deduplicated: %v", r.Permissions)
	}
	r = must[Role](t)(s.UpdateRole(ctx, actor, Role{Name: "reporter", Permissions: []string{"reports:read"}}, r.Version))
	if got := must[Role](t)(s.GetRole(ctx, "reporter")); strings.Join(got.Permissions, ",") != "reports:read" || got.Version != 2 {
		t.Fatalf("role after update: %+v", got)
	}
	sub := must[Subject](t)(s.CreateSubject(ctx, actor, Subject{ID: "ci", Issuer: "https://ci.example", Kind: "service", DisplayName: "CI pipeline"}))
	sub = must[Subject](t)(s.UpdateSubject(ctx, actor, Subject{ID: "ci", Issuer: "https://ci.example", Kind: "service", DisplayName: "The CI"}, sub.Version))
	if got := must[Subject](t)(s.GetSubject(ctx, "ci", "https://ci.example")); got != sub {
		t.Fatalf("subject %+v, want %+v", got, sub)
	}
	a := must[Assignment](t)(s.CreateAssignment(ctx, actor, Assignment{Subject: "ci", Issuer: "https://ci.example", Org: "acme", Role: "reporter", Scopes: []string{"/b/", "/a", "/b"}}))
	if strings.Join(a.Scopes, ",") != "/a,/b" {
		t.Fatalf("scopes not canonical, sorted and deduplicated: %v", a.Scopes)
	}
	a.Org = "globex"
	a = must[Assignment](t)(s.UpdateAssignment(ctx, actor, a, 1))
	if got := must[Assignment](t)(s.GetAssignment(ctx, a.ID)); got.Org != "globex" || got.Version != 2 {
		t.Fatalf("assignment after update: %+v", got)
	}
	list := must[[]Assignment](t)(s.ListAssignments(ctx, AssignmentFilter{Org: "globex"}))
	if len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("filtered list %+v", list)
	}
	if len(must[[]Assignment](t)(s.ListAssignments(ctx, AssignmentFilter{Org: "acme"}))) != 0 {
		t.Fatal("the filter matched another org")
	}
	ok(t, s.DeleteAssignment(ctx, actor, a.ID, a.Version))
	ok(t, s.DeleteSubject(ctx, actor, "ci", "https://ci.example", 0))
	ok(t, s.DeleteRole(ctx, actor, "reporter", 0))
	ok(t, s.DeletePermission(ctx, actor, "reports:read", p.Version))
	_, err := s.GetPermission(ctx, "reports:read")
	wantError(t, err, 404, "name", "")
	_, err = s.GetRole(ctx, "reporter")
	wantError(t, err, 404, "name", "")
	_, err = s.GetSubject(ctx, "ci", "https://ci.example")
	wantError(t, err, 404, "id", "")
	_, err = s.GetAssignment(ctx, a.ID)
	wantError(t, err, 404, "id", "")
	perms := must[[]Permission](t)(s.ListPermissions(ctx))
	roles := must[[]Role](t)(s.ListRoles(ctx))
	if len(perms) != systemPerms+1 || len(roles) != systemRoles { // the control plane's own and reports:write
		t.Fatalf("left: %d permissions, %d roles", len(perms), len(roles))
	}
}

func TestAnAssignmentCreatesItsUnknownSubjectAsAUser(t *testing.T) {
	s, _ := newStore(t)
	seed(t, s)
	must[Assignment](t)(s.CreateAssignment(ctx, actor, Assignment{Subject: "dave", Issuer: "https://i.example", Org: "acme", Role: "viewer"}))
	sub := must[Subject](t)(s.GetSubject(ctx, "dave", "https://i.example"))
	if sub.Kind != "user" {
		t.Fatalf("%+v", sub)
	}
	if _, err := s.GetSubject(ctx, "dave", ""); err == nil {
		t.Fatal("the subject was created without its issuer too")
	}
}

func TestTwoUpdatesOfTheSameVersionLoseNoUpdate(t *testing.T) {
	s, _ := newStore(t)
	seed(t, s)
	a := must[Assignment](t)(s.CreateAssignment(ctx, actor, Assignment{Subject: "bob", Org: "acme", Role: "viewer"}))
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			b := a
			b.Scopes = []string{"/w" + string(rune('a'+i))}
			_, errs[i] = s.UpdateAssignment(ctx, actor, b, a.Version)
		}(i)
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		var se *Error
		switch {
		case err == nil:
			won++
		case errors.As(err, &se) && se.Status == 412:
		default:
			t.Fatalf("unexpected %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d updates of version %d succeeded, want 1", won, writers, a.Version)
	}
	if got := must[Assignment](t)(s.GetAssignment(ctx, a.ID)); got.Version != 2 {
		t.Fatalf("version %d after one update", got.Version)
	}
}

func TestTheChangeLogRecordsWhoWhenWhatBeforeAndAfter(t *testing.T) {
	s, _ := newStore(t)
	seed(t, s)
	a := must[Assignment](t)(s.CreateAssignment(ctx, "alice", Assignment{Subject: "bob", Org: "acme", Role: "viewer"}))
	b := a
	b.Role = "editor"
	b = must[Assignment](t)(s.UpdateAssignment(ctx, "carol", b, a.Version))
	ok(t, s.DeleteAssignment(ctx, "dave", b.ID, b.Version))
	must[Assignment](t)(s.CreateAssignment(ctx, "erin", Assignment{Subject: "bob", Org: "globex", Role: "viewer"}))
	log := must[[]Change](t)(s.Changes(ctx, ChangeFilter{Org: "acme"}))
	if len(log) != 3 {
		t.Fatalf("acme's log has %d entries: %+v", len(log), log)
	}
	type step struct {
		actor, action string
		before, after *Assignment
	}
	want := []step{{"alice", "create", nil, &a}, {"carol", "update", &a, &b}, {"dave", "delete", &b, nil}}
	for i, w := range want {
		c := log[i]
		if c.Actor != w.actor || c.Action != w.action || c.Kind != KindAssignment || c.Org != "acme" || c.Key != jsonInt(a.ID) || c.At.IsZero() {
			t.Fatalf("entry %d: %+v", i, c)
		}
		sameJSON(t, c.Before, w.before)
		sameJSON(t, c.After, w.after)
		if i > 0 && c.Seq <= log[i-1].Seq {
			t.Fatal("sequence numbers do not increase")
		}
	}
	all := must[[]Change](t)(s.Changes(ctx, ChangeFilter{Kind: KindRole}))
	if len(all) != 2 || all[0].Key != "viewer" {
		t.Fatalf("role log %+v", all)
	}
	tail := must[[]Change](t)(s.Changes(ctx, ChangeFilter{After: log[1].Seq, Limit: 1}))
	if len(tail) != 1 || tail[0].Seq != log[2].Seq {
		t.Fatalf("paging: %+v", tail)
	}
	if rev := must[int64](t)(s.Revision(ctx)); rev != must[[]Change](t)(s.Changes(ctx, ChangeFilter{After: rev - 1}))[0].Seq {
		t.Fatalf("revision %d is not the last entry", rev)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// sameJSON fails unless raw holds the object want (nil: absent).
func sameJSON(t *testing.T, raw json.RawMessage, want *Assignment) {
	t.Helper()
	if want == nil {
		if raw != nil {
			t.Fatalf("want no object, got %s", raw)
		}
		return
	}
	var got Assignment
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("logged %s, want %s", g, w)
	}
}

func TestTheChangeLogRefusesUpdateDeleteAndTruncateEvenToASuperuser(t *testing.T) {
	s, dsn := newStore(t)
	seed(t, s)
	c := sqlConn(t, dsn)
	var super bool
	ok(t, c.QueryRow(ctx, "SELECT usesuper FROM pg_user WHERE usename = current_user").Scan(&super))
	if !super {
		t.Fatal("the test connection is not a superuser session")
	}
	for _, sql := range []string{
		"UPDATE change_log SET actor = 'mallory'",
		"DELETE FROM change_log",
		"TRUNCATE change_log",
		"SET session_replication_role = replica; DELETE FROM change_log",
	} {
		t.Run(sql, func(t *testing.T) {
			_, err := c.Exec(ctx, sql)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Fatalf("want the append-only refusal, got %v", err)
			}
			c.Exec(ctx, "RESET session_replication_role")
		})
	}
	if n := count(t, dsn, "SELECT count(*) FROM change_log WHERE actor = $1", actor); n != 5 {
		t.Fatalf("%d entries left, want the 5 of the seed", n)
	}
}

func TestOnlyOneOfTwoEqualCreatesSucceeds(t *testing.T) {
	s, dsn := newStore(t)
	seed(t, s)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = s.CreateAssignment(ctx, actor, Assignment{Subject: "newbie", Org: "acme", Role: "viewer"})
		}(i)
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			wantError(t, err, 409, "", "exists")
		}
	}
	if won != 1 || count(t, dsn, "SELECT count(*) FROM change_log WHERE kind = 'subject' AND key = 'newbie'") != 1 {
		t.Fatalf("%d creates won; subject logged %d times", won, count(t, dsn, "SELECT count(*) FROM change_log WHERE kind = 'subject' AND key = 'newbie'"))
	}
}

func TestAReaderFollowingTheChangeLogMissesNoEntryWhileWritersCommit(t *testing.T) {
	s, _ := newStore(t)
	seed(t, s)
	const writers, each = 6, 40
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := s.CreateAssignment(ctx, actor, Assignment{Subject: "w" + string(rune('a'+w)), Org: "o" + jsonInt(int64(i)), Role: "viewer"}); err != nil {
					t.Error(err)
					return
				}
			}
		}(w)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	seen := map[int64]bool{}
	var last int64
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		default:
		}
		for _, c := range must[[]Change](t)(s.Changes(ctx, ChangeFilter{After: last, Limit: 1000})) {
			seen[c.Seq] = true
			last = c.Seq
		}
	}
	all := map[int64]bool{}
	for after := int64(0); ; {
		page := must[[]Change](t)(s.Changes(ctx, ChangeFilter{After: after, Limit: 1000}))
		if len(page) == 0 {
			break
		}
		for _, c := range page {
			all[c.Seq] = true
			after = c.Seq
		}
	}
	for seq := range all {
		if !seen[seq] && seq <= last {
			t.Fatalf("entry %d committed after the reader had passed it (at %d)", seq, last)
		}
	}
	if len(all) != 5+writers*each+writers { // the seed, the assignments, one subject per writer
		t.Fatalf("%d entries", len(all))
	}
}

func TestDatabaseRefusalsAreClassifiedByWhatTheyMean(t *testing.T) {
	s, dsn := newStore(t)
	seed(t, s)
	must[Assignment](t)(s.CreateAssignment(ctx, actor, Assignment{Subject: "bob", Org: "acme", Role: "viewer"}))
	c := sqlConn(t, dsn)
	cases := []struct {
		name, sql     string
		status        int
		field, detail string
	}{
		{"a delete of a role still referenced (a race with a write)", "DELETE FROM roles WHERE name = 'viewer'", 409, "", "still in use"},
		{"an assignment of an unknown role", "INSERT INTO assignments (subject, org, role) VALUES ('bob', 'acme', 'nope')", 422, "role", "unknown role"},
		{"an assignment of an unknown subject", "INSERT INTO assignments (subject, org, role) VALUES ('nobody', 'acme', 'viewer')", 422, "subject", "unknown subject"},
		{"a duplicate permission", "INSERT INTO permissions (name) VALUES ('workflows:read')", 409, "name", "exists"},
		{"a role granting an unknown permission", "INSERT INTO role_permissions VALUES ('viewer', 'nope')", 422, "permissions", "unknown permission"},
		{"a value the domain refuses", "INSERT INTO subjects (id, kind) VALUES (' x', 'user')", 422, "", "refused by the database"},
	}
	for _, cs := range cases {
		t.Run(cs.name, func(t *testing.T) {
			_, err := c.Exec(ctx, cs.sql)
			if err == nil {
				t.Fatal("accepted")
			}
			wantError(t, classify(ctx, err), cs.status, cs.field, cs.detail)
		})
	}
}

func TestWhatPolicyAcceptsTheDatabaseAcceptsToo(t *testing.T) {
	s, _ := newStore(t)
	seed(t, s)
	for _, name := range []string{"café:read", "a\u00a0b", "a\u2003b", "a\u0085b", "a\u0081b", "a\u2028b", "a\ufffeb", "x\U0001F600y", "日本:読む"} {
		t.Run(name, func(t *testing.T) {
			if _, err := policy.Parse([]byte(`{"permissions":[` + strconv.Quote(name) + `]}`)); err != nil {
				t.Fatalf("policy refuses it: %v", err)
			}
			must[Permission](t)(s.CreatePermission(ctx, actor, Permission{Name: name}))
			must[Role](t)(s.CreateRole(ctx, actor, Role{Name: "r-" + name, Permissions: []string{name}}))
			must[Assignment](t)(s.CreateAssignment(ctx, actor, Assignment{Subject: "u-" + name, Org: "o-" + name, Role: "r-" + name}))
		})
	}
	doc, _, err := s.Document(ctx, DocumentOptions{})
	ok(t, err)
	if _, err := policy.Parse(doc); err != nil {
		t.Fatal(err)
	}
	other, _ := newStore(t)
	must[ImportResult](t)(other.Import(ctx, "cli:root", doc))
	again, _, err := other.Document(ctx, DocumentOptions{})
	ok(t, err)
	if string(again) != string(doc) {
		t.Fatalf("the round trip changed the document:\n%s\n%s", doc, again)
	}
}
