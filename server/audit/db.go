package audit

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-dev/gatehouse/server/store"
)

// partitionLockKey serializes partition creation and dropping (pg_advisory_xact_lock).
const partitionLockKey = 0x6761746561 // "gatea"

// DB stores audit events. It is safe for concurrent use.
type DB struct {
	pool  *pgxpool.Pool
	owned bool

	mu   sync.Mutex
	days map[string]bool // partitions known to exist
}

// Open migrates the database (store.Open) and connects to it.
func Open(ctx context.Context, dsn string) (*DB, error) {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	st.Close()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, err
	}
	db := New(pool)
	db.owned = true
	return db, nil
}

// New uses a pool to a database the store's migrations were applied to.
func New(pool *pgxpool.Pool) *DB { return &DB{pool: pool, days: map[string]bool{}} }

// Pool is the connection pool (package review reads the events through it).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Close closes the pool when Open made it.
func (db *DB) Close() {
	if db.owned {
		db.pool.Close()
	}
}

// Stats counts what an ingestion did with the lines it read.
type Stats struct {
	Lines      int64            `json:"lines"`      // lines read
	Stored     int64            `json:"stored"`     // events stored
	Duplicates int64            `json:"duplicates"` // events already stored (same ID)
	Skipped    map[string]int64 `json:"skipped"`    // lines skipped, by reason (SkipNotGatehouse, SkipMalformed, SkipTooLong)
}

func (s *Stats) skip(why string) {
	if s.Skipped == nil {
		s.Skipped = map[string]int64{}
	}
	s.Skipped[why]++
}

// SkippedTotal is the number of lines skipped for any reason.
func (s Stats) SkippedTotal() int64 {
	var n int64
	for _, v := range s.Skipped {
		n += v
	}
	return n
}

func (s *Stats) add(o Stats) {
	s.Lines += o.Lines
	s.Stored += o.Stored
	s.Duplicates += o.Duplicates
	for k, v := range o.Skipped {
		if s.Skipped == nil {
			s.Skipped = map[string]int64{}
		}
		s.Skipped[k] += v
	}
}

// Position is where a source stopped: the file it was (device, inode), the offset after the last
// line stored, and the SHA-256 of the file's first bytes (up to headBytes) at that time.
type Position struct {
	Source        string
	Device, Inode uint64
	Offset        int64
	Head          []byte
}

// Position returns the source's saved position (found false when it has none).
func (db *DB) Position(ctx context.Context, source string) (Position, bool, error) {
	p := Position{Source: source}
	var dev, ino int64
	err := db.pool.QueryRow(ctx, `SELECT device, inode, "offset", head FROM audit_sources WHERE source = $1`, source).Scan(&dev, &ino, &p.Offset, &p.Head)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, false, nil
	}
	if err != nil {
		return p, false, err
	}
	p.Device, p.Inode = uint64(dev), uint64(ino)
	return p, true, nil
}

// Store inserts events (ON CONFLICT DO NOTHING) and, when pos is not nil, saves the source's
// position and counts in the same transaction: a crash either stores the lines and moves the
// offset past them, or neither. It returns how many events were new.
func (db *DB) Store(ctx context.Context, evs []Event, pos *Position, counted Stats) (int64, error) {
	numberIdentical(evs)
	stored, err := db.store(ctx, evs, pos, counted)
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23514" && strings.Contains(pg.Message, "no partition") {
		// Another process dropped a day partition this one had seen (gatehouse serve's retention):
		// forget what is known and make them again.
		db.mu.Lock()
		db.days = map[string]bool{}
		db.mu.Unlock()
		stored, err = db.store(ctx, evs, pos, counted)
	}
	return stored, err
}

func (db *DB) store(ctx context.Context, evs []Event, pos *Position, counted Stats) (int64, error) {
	if err := db.ensurePartitions(ctx, evs); err != nil {
		return 0, err
	}
	var stored int64
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		stored = 0
		if len(evs) > 0 {
			n := len(evs)
			times := make([]time.Time, n)
			ids := make([][]byte, n)
			status := make([]int16, n)
			cols := make([][]string, 11)
			for i := range cols {
				cols[i] = make([]string, n)
			}
			for i := range evs {
				e := &evs[i]
				times[i], ids[i], status[i] = e.Time, e.ID[:], int16(e.Status)
				for j, v := range []string{e.Middleware, e.Decision, e.Reason, e.Route, e.Permission, e.Subject, e.Issuer, e.Org, e.Method, e.Path, e.Client} {
					cols[j][i] = v
				}
			}
			tag, err := tx.Exec(ctx, `INSERT INTO audit_events (time, id, status, middleware, decision, reason, route, permission, subject, issuer, org, method, path, client)
				SELECT * FROM unnest($1::timestamptz[], $2::bytea[], $3::smallint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])
				ON CONFLICT DO NOTHING`,
				times, ids, status, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8], cols[9], cols[10])
			if err != nil {
				return err
			}
			stored = tag.RowsAffected()
		}
		if pos == nil {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO audit_sources (source, device, inode, "offset", head, lines, stored, duplicates, skipped, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
			ON CONFLICT (source) DO UPDATE SET device = $2, inode = $3, "offset" = $4, head = $5,
				lines = audit_sources.lines + $6, stored = audit_sources.stored + $7,
				duplicates = audit_sources.duplicates + $8, skipped = audit_sources.skipped + $9, updated_at = now()`,
			pos.Source, int64(pos.Device), int64(pos.Inode), pos.Offset, pos.Head,
			counted.Lines, stored, int64(len(evs))-stored, counted.SkippedTotal())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit: store: %w", err)
	}
	return stored, nil
}

func partitionName(day time.Time) string { return "audit_events_" + day.Format("20060102") }

// ensurePartitions creates the day partitions the events need (under an advisory lock, each in
// a short transaction of its own: creating a partition locks the parent table).
func (db *DB) ensurePartitions(ctx context.Context, evs []Event) error {
	need := map[string]time.Time{}
	db.mu.Lock()
	for _, e := range evs {
		day := e.Time.UTC().Truncate(24 * time.Hour)
		if name := partitionName(day); !db.days[name] {
			need[name] = day
		}
	}
	db.mu.Unlock()
	names := make([]string, 0, len(need))
	for n := range need {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		day := need[name]
		var exists bool
		if err := db.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", name).Scan(&exists); err != nil {
			return fmt.Errorf("audit: partition %s: %w", name, err)
		}
		if !exists {
			err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(partitionLockKey)); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF audit_events FOR VALUES FROM ('%s') TO ('%s')",
					name, day.Format("2006-01-02 15:04:05+00"), day.Add(24*time.Hour).Format("2006-01-02 15:04:05+00")))
				return err
			})
			if err != nil {
				return fmt.Errorf("audit: partition %s: %w", name, err)
			}
		}
		db.mu.Lock()
		db.days[name] = true
		db.mu.Unlock()
	}
	return nil
}

// Prune drops the day partitions that end before now minus olderThan: every event in them is
// older. It returns the partitions dropped, oldest first.
func (db *DB) Prune(ctx context.Context, olderThan time.Duration, now time.Time) ([]string, error) {
	if olderThan <= 0 {
		return nil, errors.New("audit: prune: --older-than must be positive")
	}
	cutoff := now.UTC().Add(-olderThan)
	var dropped []string
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		dropped = nil
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(partitionLockKey)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'audit_events'::regclass ORDER BY c.relname`)
		if err != nil {
			return err
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, name := range names {
			day, err := time.Parse("20060102", strings.TrimPrefix(name, "audit_events_"))
			if err != nil || !strings.HasPrefix(name, "audit_events_") {
				continue // not one of ours
			}
			if day.Add(24 * time.Hour).After(cutoff) {
				continue
			}
			if _, err := tx.Exec(ctx, "DROP TABLE "+pgx.Identifier{name}.Sanitize()); err != nil {
				return err
			}
			dropped = append(dropped, name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: prune: %w", err)
	}
	db.mu.Lock()
	for _, n := range dropped {
		delete(db.days, n)
	}
	db.mu.Unlock()
	return dropped, nil
}
