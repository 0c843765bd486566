package audit

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Filter selects audit events for the decision table and its aggregates. Empty fields match
// everything; From and To bound the time (From inclusive, To exclusive; zero: unbounded).
type Filter struct {
	Subject, Org, Route, Permission string
	// Decision is "allow", "deny" (deny and shadow-deny) or "" (both).
	Decision string
	From, To time.Time
}

// Decision is one row of the decision table.
type Decision struct {
	Time       time.Time `json:"time"`
	ID         string    `json:"id"` // hex of the event's id
	Decision   string    `json:"decision"`
	Status     int       `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	Issuer     string    `json:"issuer,omitempty"`
	Org        string    `json:"org,omitempty"`
	Route      string    `json:"route,omitempty"`
	Permission string    `json:"permission,omitempty"`
	Method     string    `json:"method,omitempty"`
	Path       string    `json:"path,omitempty"`
}

// Page is one page of decisions, newest first; Next is the cursor of the following (older) page,
// "" on the last one.
type Page struct {
	Decisions []Decision `json:"decisions"`
	Next      string     `json:"next,omitempty"`
}

// MaxPage is the largest page Decisions returns.
const MaxPage = 500

// Cursor returns the cursor naming the position after d (the next page starts below it).
func Cursor(d Decision) string { return strconv.FormatInt(d.Time.UnixMicro(), 10) + "-" + d.ID }

// ParseCursor reads a cursor Decisions returned.
func ParseCursor(s string) (time.Time, []byte, error) {
	us, id, ok := strings.Cut(s, "-")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil {
		return time.Time{}, nil, errors.New("not a cursor of this table")
	}
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != 32 {
		return time.Time{}, nil, errors.New("not a cursor of this table")
	}
	return time.UnixMicro(n).UTC(), b, nil
}

// where builds the WHERE clause of f (arguments from $1).
func (f Filter) where() (string, []interface{}, error) {
	var conds []string
	var args []interface{}
	add := func(cond string, v interface{}) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	for _, c := range []struct{ col, v string }{{"subject", f.Subject}, {"org", f.Org}, {"route", f.Route}, {"permission", f.Permission}} {
		if c.v != "" {
			add(c.col+" = $?", c.v)
		}
	}
	switch f.Decision {
	case "":
	case "allow":
		conds = append(conds, "decision = 'allow'")
	case "deny":
		conds = append(conds, "decision <> 'allow'")
	default:
		return "", nil, fmt.Errorf("decision must be allow or deny, not %q", f.Decision)
	}
	if !f.From.IsZero() {
		add("time >= $?", f.From)
	}
	if !f.To.IsZero() {
		add("time < $?", f.To)
	}
	if len(conds) == 0 {
		return "TRUE", args, nil
	}
	return strings.Join(conds, " AND "), args, nil
}

// Decisions returns up to limit events of f, newest first, starting after cursor ("" the newest).
// The order is (time, id) descending, which the table's primary key serves.
func (db *DB) Decisions(ctx context.Context, f Filter, cursor string, limit int) (Page, error) {
	if limit <= 0 || limit > MaxPage {
		limit = 50
	}
	where, args, err := f.where()
	if err != nil {
		return Page{}, err
	}
	if cursor != "" {
		t, id, err := ParseCursor(cursor)
		if err != nil {
			return Page{}, err
		}
		args = append(args, t, id)
		where += fmt.Sprintf(" AND (time, id) < ($%d, $%d)", len(args)-1, len(args))
	}
	args = append(args, limit+1)
	rows, err := db.pool.Query(ctx, `SELECT time, id, decision, status, reason, subject, issuer, org, route, permission, method, path
		FROM audit_events WHERE `+where+` ORDER BY time DESC, id DESC LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return Page{}, fmt.Errorf("audit: decisions: %w", err)
	}
	defer rows.Close()
	p := Page{Decisions: []Decision{}}
	for rows.Next() {
		var d Decision
		var id []byte
		var status int16
		if err := rows.Scan(&d.Time, &id, &d.Decision, &status, &d.Reason, &d.Subject, &d.Issuer, &d.Org, &d.Route, &d.Permission, &d.Method, &d.Path); err != nil {
			return Page{}, fmt.Errorf("audit: decisions: %w", err)
		}
		d.Time, d.ID, d.Status = d.Time.UTC(), hex.EncodeToString(id), int(status)
		p.Decisions = append(p.Decisions, d)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("audit: decisions: %w", err)
	}
	if len(p.Decisions) > limit {
		p.Decisions = p.Decisions[:limit]
		p.Next = Cursor(p.Decisions[limit-1])
	}
	return p, nil
}

// Bucket is one interval of the chart: the allows and denials (deny and shadow-deny) in it.
type Bucket struct {
	Start time.Time `json:"start"`
	Allow int64     `json:"allow"`
	Deny  int64     `json:"deny"`
}

// Count is one entry of a top-N list.
type Count struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// Summary is the chart of f's decisions over its time range and the most denied subjects and
// routes in it.
type Summary struct {
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Step        string    `json:"step"` // the width of a bucket, e.g. 1h0m0s
	Buckets     []Bucket  `json:"buckets"`
	TopSubjects []Count   `json:"topDeniedSubjects"`
	TopRoutes   []Count   `json:"topDeniedRoutes"`
}

// Summarize counts f's decisions in n equal buckets between f.From and f.To (both required) and
// lists the top denied subjects and routes (at most top each).
func (db *DB) Summarize(ctx context.Context, f Filter, n, top int) (Summary, error) {
	if f.From.IsZero() || f.To.IsZero() || !f.From.Before(f.To) {
		return Summary{}, errors.New("a summary needs a time range (from before to)")
	}
	if n <= 0 || n > 500 {
		n = 24
	}
	if top <= 0 || top > 100 {
		top = 5
	}
	step := f.To.Sub(f.From) / time.Duration(n)
	if step <= 0 {
		step = time.Microsecond
	}
	s := Summary{From: f.From.UTC(), To: f.To.UTC(), Step: step.String(), Buckets: make([]Bucket, n), TopSubjects: []Count{}, TopRoutes: []Count{}}
	for i := range s.Buckets {
		s.Buckets[i].Start = s.From.Add(time.Duration(i) * step)
	}
	where, args, err := f.where()
	if err != nil {
		return Summary{}, err
	}
	args = append(args, float64(f.From.UnixMicro())/1e6, step.Seconds())
	rows, err := db.pool.Query(ctx, fmt.Sprintf(`SELECT floor((extract(epoch FROM time) - $%d) / $%d)::int AS b,
		count(*) FILTER (WHERE decision = 'allow'), count(*) FILTER (WHERE decision <> 'allow')
		FROM audit_events WHERE %s GROUP BY b`, len(args)-1, len(args), where), args...)
	if err != nil {
		return Summary{}, fmt.Errorf("audit: summary: %w", err)
	}
	for rows.Next() {
		var b int
		var allow, deny int64
		if err := rows.Scan(&b, &allow, &deny); err != nil {
			rows.Close()
			return Summary{}, fmt.Errorf("audit: summary: %w", err)
		}
		if b >= 0 && b < n {
			s.Buckets[b].Allow += allow
			s.Buckets[b].Deny += deny
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Summary{}, fmt.Errorf("audit: summary: %w", err)
	}
	denied := f
	denied.Decision = "deny"
	dwhere, dargs, _ := denied.where()
	for _, c := range []struct {
		col string
		out *[]Count
	}{{"subject", &s.TopSubjects}, {"route", &s.TopRoutes}} {
		rows, err := db.pool.Query(ctx, fmt.Sprintf(`SELECT %s, count(*) AS n FROM audit_events WHERE %s GROUP BY 1 ORDER BY n DESC, 1 LIMIT %d`, c.col, dwhere, top), dargs...)
		if err != nil {
			return Summary{}, fmt.Errorf("audit: summary: %w", err)
		}
		for rows.Next() {
			var k Count
			if err := rows.Scan(&k.Name, &k.Count); err != nil {
				rows.Close()
				return Summary{}, fmt.Errorf("audit: summary: %w", err)
			}
			*c.out = append(*c.out, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return Summary{}, fmt.Errorf("audit: summary: %w", err)
		}
	}
	return s, nil
}
