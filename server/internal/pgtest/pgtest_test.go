package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func query(t *testing.T, dsn, sql string) (string, error) {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	var v string
	err = c.QueryRow(ctx, sql).Scan(&v)
	return v, err
}

func TestEachTestGetsItsOwnEmptyDatabase(t *testing.T) {
	s := Shared(t)
	a, b := s.NewDatabase(t), s.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases with one URL %s", a)
	}
	c, _ := pgx.Connect(context.Background(), a)
	if _, err := c.Exec(context.Background(), "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	c.Close(context.Background())
	if _, err := query(t, b, "SELECT 'x' FROM only_in_a"); err == nil {
		t.Fatal("a table created in one test database is visible in another")
	}
}

func TestTheServerIsNotRunAsRoot(t *testing.T) {
	s := Shared(t)
	if _, err := query(t, s.DSN(), "SELECT current_user"); err != nil {
		t.Fatal(err)
	}
	owner, err := query(t, s.DSN(), "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'postgres'")
	if err != nil || owner != "postgres" {
		t.Fatalf("owner %q, %v", owner, err)
	}
}

func TestAStoppedServerRefusesConnectionsAndKeepsItsDataAcrossARestart(t *testing.T) {
	s := Start(t)
	db := s.NewDatabase(t)
	c, err := pgx.Connect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(context.Background(), "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')"); err != nil {
		t.Fatal(err)
	}
	c.Close(context.Background())
	s.Stop()
	if _, err := query(t, db, "SELECT 1::text"); err == nil {
		t.Fatal("a stopped server answered")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if v, err := query(t, db, "SELECT v FROM kept"); err != nil || v != "survives" {
		t.Fatalf("after restart: %q, %v", v, err)
	}
}
