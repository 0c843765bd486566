package store

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const actor = "https://issuer.example alice"

var ctx = context.Background()

// newStore opens a store on a fresh database of the shared server and returns it with the
// database's URL.
func newStore(t testing.TB) (*Store, string) {
	t.Helper()
	dsn := pgtest.Shared(t).NewDatabase(t)
	s, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, dsn
}

// wantError fails unless err is an *Error with status and field (and, when given, a detail containing detail).
func wantError(t testing.TB, err error, status int, field, detail string) {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("want a %d Error on %q, got %v", status, field, err)
	}
	if se.Status != status || se.Field != field || !strings.Contains(se.Detail, detail) {
		t.Fatalf("want %d %q (%q), got %d %q: %s", status, field, detail, se.Status, se.Field, se.Detail)
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sqlConn is a direct superuser connection to the store's database.
func sqlConn(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	return c
}

// seed creates the workflows permissions, roles viewer and editor, and returns the store.
func seed(t testing.TB, s *Store) {
	t.Helper()
	for _, p := range []string{"workflows:read", "workflows:run", "workflows:delete"} {
		must[Permission](t)(s.CreatePermission(ctx, actor, Permission{Name: p}))
	}
	must[Role](t)(s.CreateRole(ctx, actor, Role{Name: "viewer", Permissions: []string{"workflows:read"}}))
	must[Role](t)(s.CreateRole(ctx, actor, Role{Name: "editor", Permissions: []string{"workflows:run", "workflows:read"}}))
}

func count(t testing.TB, dsn, sql string, args ...interface{}) int64 {
	t.Helper()
	var n int64
	if err := sqlConn(t, dsn).QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
