package store

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
)

func TestMigrationsRunOnceWhenReplicasStartTogether(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	const replicas = 6
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := 0; i < replicas; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := Open(ctx, dsn)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		ok(t, err)
	}
	if n := count(t, dsn, "SELECT count(*) FROM schema_migrations"); n != int64(SchemaVersion()) {
		t.Fatalf("%d migrations recorded, the binary carries %d", n, SchemaVersion())
	}
	once, _ := newStore(t) // a database migrated by one replica
	want := int64(len(must[[]Permission](t)(once.ListPermissions(ctx))))
	if n := count(t, dsn, "SELECT count(*) FROM permissions"); n != want {
		t.Fatalf("%d permissions, one replica's migrations seed %d", n, want)
	}
	s, err := Open(ctx, dsn)
	ok(t, err)
	defer s.Close()
	ok(t, s.Migrate(ctx))
	if n := count(t, dsn, "SELECT count(*) FROM schema_migrations"); n != int64(SchemaVersion()) {
		t.Fatalf("migrating again recorded %d migrations", n)
	}
}

func TestADatabaseMigratedByANewerBinaryIsRefused(t *testing.T) {
	s, dsn := newStore(t)
	s.Close()
	if _, err := sqlConn(t, dsn).Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future.sql')"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, dsn)
	if err == nil || !strings.Contains(err.Error(), "schema version 9999") || !strings.Contains(err.Error(), "newer gatehouse") {
		t.Fatalf("want a refusal naming the version, got %v", err)
	}
}

func TestAnUnreachableDatabaseIsA503(t *testing.T) {
	srv := pgtest.Start(t)
	dsn := srv.NewDatabase(t)
	s, err := Open(ctx, dsn)
	ok(t, err)
	defer s.Close()
	srv.Stop()
	wantError(t, s.Ping(ctx), 503, "", "unreachable")
	_, err = s.CreatePermission(ctx, actor, Permission{Name: "a:b"})
	wantError(t, err, 503, "", "unreachable")
	_, _, err = s.Document(ctx, DocumentOptions{})
	wantError(t, err, 503, "", "unreachable")
	_, err = Open(ctx, dsn)
	var se *Error
	if !errors.As(err, &se) || se.Status != 503 {
		t.Fatalf("opening an unreachable database: %v", err)
	}
	ok(t, srv.Start())
	ok(t, s.Ping(ctx))
}

func TestBootstrapSetsTheAdminOrgOnceAndIsIdempotent(t *testing.T) {
	s, dsn := newStore(t)
	if org := must[string](t)(s.AdminOrg(ctx)); org != "" {
		t.Fatalf("admin org %q before bootstrap", org)
	}
	a := must[Assignment](t)(s.Bootstrap(ctx, "cli:root", "root", "https://id.example", "platform"))
	rev := must[int64](t)(s.Revision(ctx))
	b := must[Assignment](t)(s.Bootstrap(ctx, "cli:root", "root", "https://id.example", "platform"))
	if a.ID != b.ID || a.Version != b.Version || must[int64](t)(s.Revision(ctx)) != rev {
		t.Fatalf("bootstrap again: %+v after %+v, revision moved", b, a)
	}
	if a.Role != RolePlatformAdmin || a.Org != "platform" || must[string](t)(s.AdminOrg(ctx)) != "platform" {
		t.Fatalf("%+v", a)
	}
	_, err := s.Bootstrap(ctx, "cli:root", "root", "https://id.example", "acme")
	wantError(t, err, 409, "org", "already")
	// a second platform admin in the admin org is fine; in another org it is refused, by the code and by the database
	must[Assignment](t)(s.CreateAssignment(ctx, actor, Assignment{Subject: "ops", Org: "platform", Role: RolePlatformAdmin}))
	_, err = s.CreateAssignment(ctx, actor, Assignment{Subject: "mallory", Org: "acme", Role: RolePlatformAdmin})
	wantError(t, err, 422, "org", "only in the admin org")
	a.Org = "acme"
	_, err = s.UpdateAssignment(ctx, actor, a, 0)
	wantError(t, err, 422, "org", "only in the admin org")
	if _, err := sqlConn(t, dsn).Exec(ctx, "UPDATE assignments SET org = 'acme' WHERE role = 'gatehouse-platform-admin'"); err == nil {
		t.Fatal("the database let a platform admin move to another org")
	}
	log := must[[]Change](t)(s.Changes(ctx, ChangeFilter{Kind: KindSetting}))
	if len(log) != 1 || log[0].Key != "admin_org" || log[0].Actor != "cli:root" {
		t.Fatalf("setting log %+v", log)
	}
	// the last platform admin stays
	ops := must[[]Assignment](t)(s.ListAssignments(ctx, AssignmentFilter{Subject: "ops"}))[0]
	ok(t, s.DeleteAssignment(ctx, actor, ops.ID, 0))
	wantError(t, s.DeleteAssignment(ctx, actor, b.ID, 0), 409, "id", "the last "+RolePlatformAdmin)
	demoted := b
	demoted.Role = RoleAuditor
	_, err = s.UpdateAssignment(ctx, actor, demoted, 0)
	wantError(t, err, 409, "id", "the last "+RolePlatformAdmin)
	// org admins and gateways may be assigned in any org
	must[Assignment](t)(s.CreateAssignment(ctx, actor, Assignment{Subject: "erin", Org: "acme", Role: RoleOrgAdmin}))
	must[Assignment](t)(s.CreateAssignment(ctx, actor, Assignment{Subject: "gw", Org: "acme", Role: RoleGateway}))
}
