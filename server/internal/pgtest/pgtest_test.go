package pgtest

import (
	"context"
	"os"
	"strconv"
	"strings"
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

func TestTheServerDoesNotRunAsRoot(t *testing.T) {
	s := Shared(t)
	s.mu.Lock()
	pid := s.cmd.Process.Pid
	s.mu.Unlock()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skip("no /proc: ", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
			if f[1] == "0" {
				t.Fatal("postgres runs as root")
			}
			return
		}
	}
	t.Fatal("no Uid line in /proc/PID/status")
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
