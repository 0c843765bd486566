package audit

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzParse: Parse never panics; what it accepts is an audit object whose own bytes parse to the
// same event (same ID), with a known decision and an HTTP status; and a line it accepts is still
// accepted after a prefix and inside a JSON record.
func FuzzParse(f *testing.F) {
	raw := auditLine(t0, "deny", 403, "dave", "acme", "workflows:create", "POST /orgs/{org}/workflows workflows:create", "denied")
	wrapped, _ := json.Marshal(map[string]string{"message": raw})
	for _, s := range []string{raw, "2026-11-30T10:00:00Z ERR " + raw + " plugin=x", string(wrapped), raw[:50], "", "{", `{"gatehouse":1,"decision":"deny"}`,
		`{"message":"{\"gatehouse\":\"a\",\"decision\":\"allow\",\"time\":\"2026-01-01T00:00:00Z\",\"status\":200}"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, why, _ := Parse(line)
		if why != "" {
			return
		}
		if !decisions[ev.Decision] || ev.Status < 100 || ev.Status > 599 || ev.Middleware == "" || ev.Time.Location() != time.UTC {
			t.Fatalf("accepted %+v", ev)
		}
		again, why2, d := Parse(ev.raw)
		if why2 != "" || again.ID != ev.ID {
			t.Fatalf("the object's own bytes %q: %q %s", ev.raw, why2, d)
		}
		if bytes.ContainsAny(ev.raw, "\n") {
			return // a record cannot carry a line with a newline in a log field
		}
		rec, _ := json.Marshal(map[string]string{"log": string(ev.raw)})
		if _, w, _ := Parse(rec); w != "" && len(rec) <= MaxLine {
			t.Fatalf("the accepted object inside a record is refused: %q", w)
		}
	})
}
