package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// MaxBatch is the largest body the HTTP endpoint reads (bytes).
const MaxBatch = 16 << 20

// BatchResult is the endpoint's answer to a stored batch.
type BatchResult struct {
	Received   int              `json:"received"`   // records in the batch
	Stored     int64            `json:"stored"`     // new events
	Duplicates int64            `json:"duplicates"` // events stored before (a batch sent again)
	Skipped    map[string]int64 `json:"skipped"`    // records that are not Gatehouse audit lines, by reason
}

// Handler is the batch endpoint (POST /v1/audit) for log shippers (Vector's http sink, Fluent
// Bit's http output) and gateways. The body is NDJSON (one record a line) or a JSON array of
// records; a record is a log line as a JSON string, or a JSON object: an audit object itself or a
// log record carrying the line in "message", "msg" or "log". Records that hold no Gatehouse audit
// object are skipped and counted, and so are log lines whose audit object is cut and records too
// long to hold one (as when a file is ingested). A batch that is not valid JSON, holds a record of another JSON
// type, or an audit object with a bad field is refused whole (400, an RFC 9457 problem whose
// "line" names the line, and "record" the record, 1-based); nothing of it is stored. Sending a batch
// again stores nothing new. Authorization is the caller's (server/admin: gatehouse:audit:write).
func (db *DB) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeProblem(w, http.StatusMethodNotAllowed, "POST a batch of audit lines", 0, 0)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			mt, _, err := mime.ParseMediaType(ct)
			switch {
			case err != nil:
				writeProblem(w, http.StatusUnsupportedMediaType, "Content-Type does not parse: "+err.Error(), 0, 0)
				return
			case mt != "application/json" && mt != "application/x-ndjson" && mt != "application/ndjson" && mt != "application/jsonl" && mt != "application/json-seq" && mt != "text/plain":
				writeProblem(w, http.StatusUnsupportedMediaType, "Content-Type "+strconv.Quote(mt)+": send application/json (an array or NDJSON) or application/x-ndjson", 0, 0)
				return
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBatch))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeProblem(w, http.StatusRequestEntityTooLarge, "a batch is at most "+strconv.Itoa(MaxBatch)+" bytes", 0, 0)
				return
			}
			writeProblem(w, http.StatusBadRequest, "reading the body: "+err.Error(), 0, 0)
			return
		}
		evs, res, p := ParseBatch(body)
		if p != nil {
			writeProblem(w, http.StatusBadRequest, p.Detail, p.Line, p.Record)
			return
		}
		stored, err := db.Store(r.Context(), evs, nil, Stats{})
		if err != nil {
			w.Header().Set("Retry-After", "1")
			writeProblem(w, http.StatusServiceUnavailable, "the audit store is unavailable; send the batch again (nothing is stored twice)", 0, 0)
			return
		}
		res.Stored, res.Duplicates = stored, int64(len(evs))-stored
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(res)
	})
}

// BatchError is a refused batch: what is wrong, on which line of the body and in which record.
type BatchError struct {
	Line, Record int
	Detail       string
}

func (e *BatchError) Error() string {
	return "line " + strconv.Itoa(e.Line) + " (record " + strconv.Itoa(e.Record) + "): " + e.Detail
}

// ParseBatch reads a batch body (NDJSON or a JSON array) into events.
func ParseBatch(body []byte) ([]Event, BatchResult, *BatchError) {
	res := BatchResult{Skipped: map[string]int64{}}
	var evs []Event
	record := func(raw []byte, line, n int) *BatchError {
		res.Received++
		raw = bytes.TrimSpace(raw)
		var ev Event
		var why, detail string
		switch {
		case len(raw) > 0 && raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return &BatchError{line, n, "not a valid JSON string: " + err.Error()}
			}
			ev, why, detail = Parse([]byte(s))
			if why == SkipMalformed {
				why = "wrapped-" + SkipMalformed
			}
		case len(raw) > 0 && raw[0] == '{':
			if !json.Valid(raw) {
				return &BatchError{line, n, "not valid JSON"}
			}
			if len(raw) > 2*MaxLine { // a log record no audit line makes (a stack trace): skipped, as in a file
				res.Skipped[SkipTooLong]++
				return nil
			}
			ev, why, detail = fromObject(raw, 0)
			if why == SkipMalformed && !direct(raw) {
				why = "wrapped-" + SkipMalformed // a cut line inside a log record: skipped, as in a file
			}
		default:
			return &BatchError{line, n, "a record must be a JSON object or a JSON string (a log line)"}
		}
		switch why {
		case "":
			evs = append(evs, ev)
		case SkipNotGatehouse, SkipTooLong, "wrapped-" + SkipMalformed:
			res.Skipped[strings.TrimPrefix(why, "wrapped-")]++
		default:
			return &BatchError{line, n, "a Gatehouse audit record that is refused: " + detail}
		}
		return nil
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		dec := json.NewDecoder(bytes.NewReader(body))
		if _, err := dec.Token(); err != nil {
			return nil, res, &BatchError{lineAt(body, 0), 0, "not a JSON array: " + err.Error()}
		}
		for n := 1; dec.More(); n++ {
			var raw json.RawMessage
			at := dec.InputOffset()
			if err := dec.Decode(&raw); err != nil {
				return nil, res, &BatchError{lineAt(body, errOffset(err, at)), n, "not valid JSON: " + err.Error()}
			}
			if p := record(raw, lineAt(body, skipSpace(body, at)), n); p != nil {
				return nil, res, p
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, res, &BatchError{lineAt(body, dec.InputOffset()), 0, "the array does not end: " + err.Error()}
		}
		if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
			return nil, res, &BatchError{lineAt(body, skipSpace(body, dec.InputOffset())), 0, "data after the array"}
		}
		return evs, res, nil
	}
	n := 0
	for i, line := range bytes.Split(body, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		n++
		if p := record(line, i+1, n); p != nil {
			return nil, res, p
		}
	}
	return evs, res, nil
}

// direct reports whether the object is an audit object itself (not a log record carrying one).
func direct(raw []byte) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return false
	}
	_, g := fields["gatehouse"]
	_, d := fields["decision"]
	return g && d
}

func skipSpace(b []byte, at int64) int64 {
	for at < int64(len(b)) && (b[at] == ' ' || b[at] == '\t' || b[at] == '\r' || b[at] == '\n' || b[at] == ',') {
		at++
	}
	return at
}

func errOffset(err error, fallback int64) int64 {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Offset
	}
	return fallback
}

// lineAt is the 1-based line of byte offset at.
func lineAt(b []byte, at int64) int {
	if at > int64(len(b)) {
		at = int64(len(b))
	}
	return bytes.Count(b[:at], []byte("\n")) + 1
}

// writeProblem answers an RFC 9457 problem; line and record are members when not 0.
func writeProblem(w http.ResponseWriter, status int, detail string, line, record int) {
	p := map[string]interface{}{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail}
	if line > 0 {
		p["line"] = line
	}
	if record > 0 {
		p["record"] = record
	}
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
