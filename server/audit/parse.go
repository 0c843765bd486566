// Package audit stores Gatehouse's audit lines in PostgreSQL: it recognizes them in log files
// (raw, as the plugin writes them to stderr, or wrapped by Traefik's logger, a container runtime or
// a log shipper), ingests files (resuming where it stopped, following a growing file across
// rotations) and batches posted over HTTP, never stores one line twice, and drops old days.
//
// The tables (audit_events, range-partitioned by day; audit_sources) are created by the store's
// migrations (server/store/migrations).
package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"strconv"
	"time"
)

// MaxLine is the longest line considered (bytes, without the newline). The plugin bounds every
// field, so its lines are a few KiB at most; a longer line is skipped and counted, never buffered
// whole.
const MaxLine = 64 << 10

// Event is one audit line: the fields the plugin writes (respond.go, audit).
type Event struct {
	ID         [32]byte  `json:"-"`
	Time       time.Time `json:"time"`
	Middleware string    `json:"gatehouse"`
	Decision   string    `json:"decision"`
	Status     int       `json:"status"`
	Reason     string    `json:"reason,omitempty"`
	Route      string    `json:"route,omitempty"`
	Permission string    `json:"permission,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	Issuer     string    `json:"issuer,omitempty"`
	Org        string    `json:"org,omitempty"`
	Method     string    `json:"method,omitempty"`
	Path       string    `json:"path,omitempty"`
	Client     string    `json:"client,omitempty"`

	raw []byte // the JSON object's bytes, as the plugin wrote them (hashed into ID)
}

// Decisions the plugin writes.
var decisions = map[string]bool{"allow": true, "deny": true, "shadow-deny": true}

// Why a line was not stored (Stats.Skipped counts each).
const (
	SkipNotGatehouse = "not-gatehouse" // no Gatehouse audit object in the line (another program's, a blank line)
	SkipMalformed    = "malformed"     // looks like one (fields gatehouse and decision) but a field is wrong or the JSON is cut
	SkipTooLong      = "too-long"      // longer than MaxLine
)

// wrapperFields are the fields in which loggers and shippers carry a line: Traefik's JSON log
// format and most shippers ("message"), logfmt-ish loggers ("msg"), Docker's json-file ("log").
var wrapperFields = []string{"message", "msg", "log"}

// Parse finds the Gatehouse audit object in one log line and returns it, or the reason it is not
// one (SkipNotGatehouse or SkipMalformed) with a detail. The object must stand where a logger puts
// a message, so that text a client controls (a User-Agent or a path in an access log line) cannot
// pass for an audit line. It accepts:
//
//   - the raw line: {"time":...,"gatehouse":...,"decision":...}
//   - the object after a timestamp and a level, with anything after it: Traefik's console format
//     ("2026-12-01T10:00:00Z ERR {...} module=... plugin=plugin-gatehouse", colours included);
//   - a line behind a CRI container log prefix ("2026-12-01T10:00:00.1Z stderr F ...") or a
//     docker compose prefix ("traefik-1  | ...");
//   - a JSON log record carrying the line as a string in "message", "msg" or "log" (Traefik's JSON
//     format, Docker json-file, Vector and Fluent Bit records).
//
// The ID is the SHA-256 of the object's bytes (unescaped when it was carried as a string), so the
// same decision read raw from one file and wrapped from another is the same event.
func Parse(line []byte) (Event, string, string) {
	line = bytes.TrimRight(line, "\r\n")
	if len(line) > MaxLine {
		return Event{}, SkipTooLong, "line of " + strconv.Itoa(len(line)) + " bytes"
	}
	return parse(line, 0)
}

// maxDepth bounds the wrappers around a line (a CRI prefix, a JSON record, Traefik's prefix).
const maxDepth = 4

func parse(line []byte, depth int) (Event, string, string) {
	line = bytes.TrimSpace(line)
	if depth < maxDepth {
		if rest, ok := containerPrefix(line); ok {
			return parse(rest, depth+1)
		}
	}
	i := bytes.IndexByte(line, '{')
	if i < 0 {
		return Event{}, SkipNotGatehouse, "no JSON object"
	}
	if i > 0 && !messagePrefix(line[:i]) {
		return Event{}, SkipNotGatehouse, "no JSON object where a logger puts its message"
	}
	obj, ok := firstObject(line[i:])
	if !ok {
		if looksGatehouse(line[i:]) {
			return Event{}, SkipMalformed, "the JSON object is cut or not valid"
		}
		return Event{}, SkipNotGatehouse, "not JSON"
	}
	return fromObject(obj, depth)
}

// containerPrefix strips a CRI log prefix ("TIMESTAMP stdout|stderr F|P ") or a docker compose
// one ("NAME | ").
func containerPrefix(line []byte) ([]byte, bool) {
	f := bytes.SplitN(line, []byte(" "), 4)
	if len(f) == 4 && startsWithDigit(f[0]) && (string(f[1]) == "stdout" || string(f[1]) == "stderr") && (string(f[2]) == "F" || string(f[2]) == "P") {
		return f[3], true
	}
	if i := bytes.Index(line, []byte(" | ")); i > 0 && bytes.IndexAny(bytes.TrimSpace(line[:i]), " \t{\"") < 0 {
		return line[i+3:], true
	}
	return nil, false
}

// messagePrefix reports whether text before an object is a logger's: a timestamp, optionally
// followed by a level (ERR, error, ...), ANSI colours aside.
func messagePrefix(p []byte) bool {
	f := bytes.Fields(stripANSI(p))
	switch {
	case len(f) == 1:
		return startsWithDigit(f[0])
	case len(f) == 2:
		return startsWithDigit(f[0]) && len(f[1]) <= 8 && letters(f[1])
	}
	return false
}

func startsWithDigit(b []byte) bool { return len(b) > 0 && b[0] >= '0' && b[0] <= '9' }

func letters(b []byte) bool {
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return len(b) > 0
}

// stripANSI removes colour sequences (ESC [ ... m).
func stripANSI(b []byte) []byte {
	if bytes.IndexByte(b, 0x1b) < 0 {
		return b
	}
	var out []byte
	for i := 0; i < len(b); i++ {
		if b[i] == 0x1b && i+1 < len(b) && b[i+1] == '[' {
			j := i + 2
			for j < len(b) && b[j] != 'm' {
				j++
			}
			i = j
			continue
		}
		out = append(out, b[i])
	}
	return out
}

// firstObject returns the bytes of the JSON object at the start of b (b[0] == '{').
func firstObject(b []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, false
	}
	return b[:dec.InputOffset()], true
}

// looksGatehouse reports whether cut JSON text starts like an audit object.
func looksGatehouse(b []byte) bool {
	return bytes.Contains(b, []byte(`"gatehouse":`)) && bytes.Contains(b, []byte(`"decision":`))
}

// fromObject reads an audit object, or a wrapper record carrying one as a string.
func fromObject(obj []byte, depth int) (Event, string, string) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(obj, &fields); err != nil {
		return Event{}, SkipNotGatehouse, "not a JSON object"
	}
	_, hasG := fields["gatehouse"]
	_, hasD := fields["decision"]
	if hasG && hasD {
		return event(obj, fields)
	}
	if depth >= maxDepth {
		return Event{}, SkipNotGatehouse, "no Gatehouse audit object"
	}
	for _, name := range wrapperFields {
		v, ok := fields[name]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			continue
		}
		if ev, why, detail := parse(bytes.TrimRight([]byte(s), "\r\n"), depth+1); why != SkipNotGatehouse {
			return ev, why, detail
		}
	}
	return Event{}, SkipNotGatehouse, "no Gatehouse audit object"
}

// event checks the fields of an audit object: time (RFC 3339), gatehouse and decision (strings,
// a known decision), status (an HTTP status); the others strings when present. Unknown fields
// are allowed (a newer plugin) and not stored.
func event(obj []byte, fields map[string]json.RawMessage) (Event, string, string) {
	var ev Event
	str := func(name string, dst *string, required bool) string {
		v, ok := fields[name]
		if !ok {
			if required {
				return "field " + name + " is missing"
			}
			return ""
		}
		if json.Unmarshal(v, dst) != nil || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return "field " + name + " is not a string"
		}
		return ""
	}
	var when string
	for _, f := range []struct {
		name     string
		dst      *string
		required bool
	}{
		{"time", &when, true}, {"gatehouse", &ev.Middleware, true}, {"decision", &ev.Decision, true},
		{"reason", &ev.Reason, false}, {"route", &ev.Route, false}, {"permission", &ev.Permission, false},
		{"subject", &ev.Subject, false}, {"issuer", &ev.Issuer, false}, {"org", &ev.Org, false},
		{"method", &ev.Method, false}, {"path", &ev.Path, false}, {"client", &ev.Client, false},
	} {
		if d := str(f.name, f.dst, f.required); d != "" {
			return Event{}, SkipMalformed, d
		}
	}
	t, err := time.Parse(time.RFC3339Nano, when)
	if err != nil {
		return Event{}, SkipMalformed, "field time is not an RFC 3339 time"
	}
	ev.Time = t.UTC()
	if !decisions[ev.Decision] {
		return Event{}, SkipMalformed, "field decision " + strconv.Quote(ev.Decision) + " is not allow, deny or shadow-deny"
	}
	if ev.Middleware == "" {
		return Event{}, SkipMalformed, "field gatehouse is empty"
	}
	v, ok := fields["status"]
	if !ok {
		return Event{}, SkipMalformed, "field status is missing"
	}
	if json.Unmarshal(v, &ev.Status) != nil || ev.Status < 100 || ev.Status > 599 {
		return Event{}, SkipMalformed, "field status is not an HTTP status"
	}
	ev.raw = append([]byte(nil), obj...)
	ev.ID = sha256.Sum256(ev.raw)
	return ev, "", ""
}

// numberIdentical gives each event of a batch its final ID: the n-th (n > 0) repetition of
// byte-identical objects in one batch hashes its occurrence number too. Two decisions identical to
// the nanosecond (same client address and port: two streams of one HTTP/2 connection) are then
// two events when they arrive together, while a batch sent twice is stored once.
func numberIdentical(evs []Event) {
	seen := map[[32]byte]int{}
	for i := range evs {
		base := sha256.Sum256(evs[i].raw)
		n := seen[base]
		seen[base] = n + 1
		if n == 0 {
			evs[i].ID = base
			continue
		}
		h := sha256.New()
		h.Write(evs[i].raw)
		h.Write([]byte("\x00" + strconv.Itoa(n)))
		copy(evs[i].ID[:], h.Sum(nil))
	}
}
