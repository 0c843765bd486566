package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store is the control plane's PostgreSQL store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Advisory lock keys (pg_advisory_xact_lock): one for migrations, one that every write
// transaction takes before it appends to the change log and holds until it commits, so that
// writes commit in change-log order (a revision, once served, never gains an older change that
// committed late, and a reader following the log by sequence number misses nothing).
const (
	migrateLockKey = 0x6761746568 // "gateh"
	writeLockKey   = 0x6761746577 // "gatew"
)

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		n, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(n)
		if !ok || err != nil || v <= 0 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("store: migration file %q is not named NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		if len(out) > 0 && out[len(out)-1].version >= v {
			return nil, fmt.Errorf("store: migration %q: versions must increase", e.Name())
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return out, nil
}

// SchemaVersion is the newest migration this binary carries.
func SchemaVersion() int {
	m, err := migrations()
	if err != nil || len(m) == 0 {
		return 0
	}
	return m[len(m)-1].version
}

// Open connects to the database (a PostgreSQL URL or keyword/value DSN) and migrates it.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, &Error{Status: 400, Field: "dsn", Detail: "not a PostgreSQL connection string: " + err.Error()}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, classify(ctx, err)
	}
	s := &Store{pool: pool}
	if err := s.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Migrate applies the migrations the database lacks, each in its own transaction under an
// advisory lock (replicas starting together migrate once). A database migrated by a newer binary
// (a version this one does not carry) is refused.
func (s *Store) Migrate(ctx context.Context) error {
	list, err := migrations()
	if err != nil {
		return err
	}
	known := map[int]bool{}
	for _, m := range list {
		known[m.version] = true
	}
	for _, m := range list {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrateLockKey)); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
				version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations ORDER BY version")
			if err != nil {
				return err
			}
			applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
			if err != nil {
				return err
			}
			done := false
			for _, v := range applied {
				if !known[int(v)] {
					return fmt.Errorf("store: the database has schema version %d, which this gatehouse (schema versions up to %d) does not know: it was migrated by a newer gatehouse; run that version", v, list[len(list)-1].version)
				}
				done = done || int(v) == m.version
			}
			if done {
				return nil
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("store: migration %s: %w", m.name, err)
			}
			_, err = tx.Exec(ctx, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			var se *Error
			if errors.As(err, &se) {
				return err
			}
			if isUnreachable(ctx, err) {
				return classify(ctx, err)
			}
			return err
		}
	}
	return nil
}

// Close closes the connection pool.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers (a 503 Error when it does not).
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		return classify(ctx, err)
	}
	return nil
}

// write runs fn in a transaction, appends the change-log entries fn recorded (under the write
// lock, last), and commits; it retries a few times on a serialization failure or deadlock.
// Errors come back classified.
func (s *Store) write(ctx context.Context, fn func(tx pgx.Tx, log *changeLog) error) error {
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			log := &changeLog{}
			if err := fn(tx, log); err != nil {
				return err
			}
			return log.flush(ctx, tx)
		})
		if !retryable(err) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
	}
	if err == nil {
		return nil
	}
	return classify(ctx, err)
}

// querier is what both a transaction and the pool offer.
type querier interface {
	Query(ctx context.Context, sql string, args ...interface{}) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...interface{}) pgx.Row
}

// one runs fn, which reads with one statement (its own snapshot), on the pool: one round trip.
func (s *Store) one(ctx context.Context, fn func(q querier) error) error {
	if err := fn(s.pool); err != nil {
		return classify(ctx, err)
	}
	return nil
}

// read runs fn in a read-only repeatable-read transaction: one snapshot, whatever it reads.
func (s *Store) read(ctx context.Context, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
	if err == nil {
		return nil
	}
	return classify(ctx, err)
}

func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40001" || pg.Code == "40P01")
}

// isUnreachable reports whether err means the database cannot be reached (or went away).
func isUnreachable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03" || pg.Code == "53300"
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || errors.As(err, &ne) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		strings.Contains(err.Error(), "conn closed") || strings.Contains(err.Error(), "unexpected EOF") ||
		strings.Contains(err.Error(), "broken pipe") || strings.Contains(err.Error(), "connection reset")
}

// constraintFields maps constraint names to the input field they guard and the problem.
var constraintFields = map[string]struct {
	status        int
	field, detail string
}{
	"permissions_pkey": {409, "name", "a permission of that name exists"},
	"roles_pkey":       {409, "name", "a role of that name exists"},
	"subjects_pkey":    {409, "id", "a subject with that id and issuer exists"},
	"assignments_subject_issuer_org_role_scopes_key": {409, "", "the same assignment exists"},
	"role_permissions_role_fkey":                     {404, "name", "no such role"},
	"role_permissions_permission_fkey":               {422, "permissions", "unknown permission: declare it first"},
	"assignments_role_fkey":                          {422, "role", "unknown role"},
	"assignments_subject_issuer_fkey":                {422, "subject", "unknown subject"},
	"platform_admin_in_admin_org":                    {422, "org", RolePlatformAdmin + " may be assigned only in the admin org"},
}

// classify turns a database error into an *Error where it is one of the classes the API reports;
// other errors come back wrapped.
func classify(ctx context.Context, err error) error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	if isUnreachable(ctx, err) {
		return &Error{Status: 503, Detail: "the database is unreachable: " + err.Error()}
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		if pg.Code == "23503" && strings.HasPrefix(pg.Message, "update or delete") {
			// a delete raced with a write that started using the object: still in use
			return &Error{Status: 409, Detail: "still in use: " + pg.Message}
		}
		if c, ok := constraintFields[pg.ConstraintName]; ok {
			return &Error{Status: c.status, Field: c.field, Detail: c.detail}
		}
		switch {
		case pg.Code == "23505":
			return &Error{Status: 409, Detail: "already exists (" + pg.ConstraintName + ")"}
		case pg.Code == "23503":
			return &Error{Status: 409, Detail: "still in use (" + pg.ConstraintName + ")"}
		case pg.Code == "23514" || pg.Code == "23502" || pg.Code == "22P02" || pg.Code == "22001":
			return &Error{Status: 422, Detail: "refused by the database: " + pg.Message}
		case pg.Code == "22021" || pg.Code == "22P05":
			return &Error{Status: 400, Detail: "not valid UTF-8 text: " + pg.Message}
		}
	}
	return fmt.Errorf("store: %w", err)
}
