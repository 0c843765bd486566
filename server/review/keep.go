package review

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Compare sets each finding's Status and FirstSeen against the kept reviews, and lists in
// Resolved the findings of the latest kept review that this one no longer has.
func Compare(ctx context.Context, pool *pgxpool.Pool, r *Report) error {
	var prev int64
	err := pool.QueryRow(ctx, `SELECT id FROM reviews WHERE id <> $1 ORDER BY at DESC, id DESC LIMIT 1`, r.ID).Scan(&prev)
	if errors.Is(err, pgx.ErrNoRows) {
		for i := range r.Findings {
			r.Findings[i].Status = "new"
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("review: %w", err)
	}
	r.Previous = prev
	old, err := findings(ctx, pool, prev)
	if err != nil {
		return err
	}
	keys := make([]string, len(r.Findings))
	now := map[string]bool{}
	for i, f := range r.Findings {
		keys[i] = f.Key
		now[f.Key] = true
	}
	first := map[string]time.Time{}
	rows, err := pool.Query(ctx, `SELECT f.key, min(r.at) FROM review_findings f JOIN reviews r ON r.id = f.review_id
		WHERE f.key = ANY($1) AND r.id <> $2 GROUP BY f.key`, keys, r.ID)
	if err != nil {
		return fmt.Errorf("review: %w", err)
	}
	for rows.Next() {
		var k string
		var at time.Time
		if err := rows.Scan(&k, &at); err != nil {
			rows.Close()
			return fmt.Errorf("review: %w", err)
		}
		first[k] = at.UTC()
	}
	rows.Close()
	before := map[string]bool{}
	for _, f := range old {
		before[f.Key] = true
		if !now[f.Key] {
			r.Resolved = append(r.Resolved, f)
		}
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		f.Status = "new"
		if before[f.Key] {
			f.Status = "open"
			f.FirstSeen = first[f.Key]
		}
	}
	sort.SliceStable(r.Resolved, func(i, j int) bool { return r.Resolved[i].Key < r.Resolved[j].Key })
	return nil
}

// findings reads a kept review's findings.
func findings(ctx context.Context, pool *pgxpool.Pool, id int64) ([]Finding, error) {
	rows, err := pool.Query(ctx, `SELECT key, class, severity, title, evidence FROM review_findings WHERE review_id = $1 ORDER BY key`, id)
	if err != nil {
		return nil, fmt.Errorf("review: %w", err)
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		var f Finding
		var ev []byte
		if err := rows.Scan(&f.Key, &f.Class, &f.Severity, &f.Title, &ev); err != nil {
			return nil, fmt.Errorf("review: %w", err)
		}
		if err := json.Unmarshal(ev, &f.Evidence); err != nil {
			return nil, fmt.Errorf("review: finding %s: %w", f.Key, err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Save keeps the report (one transaction) and sets its ID.
func Save(ctx context.Context, pool *pgxpool.Pool, r *Report) error {
	opts, err := json.Marshal(r.Options)
	if err != nil {
		return err
	}
	counts, err := json.Marshal(r.Counts)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO reviews (at, since, options, counts) VALUES ($1, $2, $3, $4) RETURNING id`, r.At, r.Since, opts, counts).Scan(&id); err != nil {
			return fmt.Errorf("review: save: %w", err)
		}
		for _, f := range r.Findings {
			ev, err := json.Marshal(f.Evidence)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO review_findings (review_id, key, class, severity, title, evidence) VALUES ($1, $2, $3, $4, $5, $6)`,
				id, f.Key, f.Class, f.Severity, f.Title, ev); err != nil {
				return fmt.Errorf("review: save finding %s: %w", f.Key, err)
			}
		}
		r.ID = id
		return nil
	})
}
