package audit

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// auditLine is a line as the plugin writes it (respond.go audit), without the newline.
func auditLine(at time.Time, decision string, status int, subject, org, permission, route, reason string) string {
	l := `{"time":` + q(at.UTC().Format(time.RFC3339Nano)) + `,"gatehouse":"workflows-gatehouse@docker","decision":` + q(decision) +
		`,"status":` + itoa(status) + `,"reason":` + q(reason)
	if route != "" {
		l += `,"route":` + q(route) + `,"permission":` + q(permission)
	}
	if subject != "" {
		l += `,"subject":` + q(subject) + `,"issuer":"https://issuer.example","org":` + q(org)
	}
	return l + `,"method":"POST","path":"/orgs/acme/workflows","client":"192.0.2.7:51234"}`
}

func q(s string) string { b, _ := json.Marshal(s); return string(b) }

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

var t0 = time.Date(2026, 11, 30, 10, 0, 0, 123456789, time.UTC)

func TestParseAcceptsTheLineRawOrWrappedAndSkipsTheRest(t *testing.T) {
	raw := auditLine(t0, "deny", 403, "dave", "acme", "workflows:create", "POST /orgs/{org}/workflows workflows:create", `token does not carry "workflows:create"`)
	traefikJSON, _ := json.Marshal(map[string]string{"level": "error", "module": "github.com/gatehouse-dev/gatehouse", "plugin": "plugin-gatehouse", "time": "2026-11-30T10:00:00Z", "message": raw})
	docker, _ := json.Marshal(map[string]string{"log": raw + "\n", "stream": "stderr", "time": "2026-11-30T10:00:00.2Z"})
	vector, _ := json.Marshal(map[string]interface{}{"message": "2026-11-30T10:00:00Z ERR " + raw + " module=github.com/gatehouse-dev/gatehouse plugin=plugin-gatehouse", "host": "gw1"})
	cases := []struct {
		name, line string
		why        string // "" when the line is an audit line
	}{
		{"the raw line as the plugin writes it", raw, ""},
		{"the raw line with a CRLF ending", raw + "\r\n", ""},
		{"Traefik's console format around it", "2026-11-30T10:00:00Z ERR " + raw + " module=github.com/gatehouse-dev/gatehouse plugin=plugin-gatehouse", ""},
		{"Traefik's JSON format carrying it in message", string(traefikJSON), ""},
		{"Docker's json-file record carrying it in log", string(docker), ""},
		{"a CRI container log prefix", "2026-11-30T10:00:00.000000001Z stderr F " + raw, ""},
		{"a shipper record carrying Traefik's console line", string(vector), ""},
		{"a docker compose logs prefix", "traefik-1  | " + raw, ""},
		{"Traefik's console format in colour", "\x1b[90m2026-11-30T10:00:00Z\x1b[0m \x1b[31mERR\x1b[0m " + raw + " \x1b[36mplugin=\x1b[0mplugin-gatehouse", ""},
		{"a CRI prefix around Traefik's console format", "2026-11-30T10:00:00.1Z stderr F 2026-11-30T10:00:00Z ERR " + raw + " plugin=plugin-gatehouse", ""},
		{"an access log line whose User-Agent is an audit object (forgery)", `192.0.2.66 - - [30/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "` + raw + `" 1 "r@file" "http://b" 1ms`, SkipNotGatehouse},
		{"a JSON access log whose User-Agent is an audit object (forgery)", `{"ClientHost":"192.0.2.66","request_User-Agent":` + q(raw) + `,"msg":""}`, SkipNotGatehouse},
		{"a Traefik error quoting a client's path (forgery)", "2026-11-30T10:00:00Z ERR error while serving path /x" + raw, SkipNotGatehouse},
		{"a record whose message is an access log line (forgery)", `{"message":` + q(`192.0.2.66 - - [30/Nov/2026] "GET /`+raw+` HTTP/1.1" 404`) + `}`, SkipNotGatehouse},
		{"another object first, then an audit object (forgery)", `{"level":"info"} ` + raw, SkipNotGatehouse},
		{"a blank line", "", SkipNotGatehouse},
		{"another program's text", "time=2026-11-30T10:00:00Z level=info msg=\"Configuration loaded\"", SkipNotGatehouse},
		{"another program's JSON", `{"level":"info","msg":"Starting provider *file.Provider"}`, SkipNotGatehouse},
		{"JSON with a gatehouse field but no decision", `{"gatehouse":"serve","listening":"127.0.0.1:8081"}`, SkipNotGatehouse},
		{"a line cut in the middle of the object", raw[:len(raw)/2], SkipMalformed},
		{"a wrapped line cut in the middle", `{"level":"error","message":` + q(raw[:len(raw)-20]) + `}`, SkipMalformed},
		{"a time that is not RFC 3339", strings.Replace(raw, t0.Format(time.RFC3339Nano), "yesterday", 1), SkipMalformed},
		{"a decision the plugin never writes", strings.Replace(raw, `"decision":"deny"`, `"decision":"maybe"`, 1), SkipMalformed},
		{"a status that is not a number", strings.Replace(raw, `"status":403`, `"status":"403"`, 1), SkipMalformed},
		{"a status outside HTTP's", strings.Replace(raw, `"status":403`, `"status":42`, 1), SkipMalformed},
		{"a subject that is not a string", strings.Replace(raw, `"subject":"dave"`, `"subject":7`, 1), SkipMalformed},
		{"an empty middleware name", strings.Replace(raw, `"gatehouse":"workflows-gatehouse@docker"`, `"gatehouse":""`, 1), SkipMalformed},
		{"a line longer than MaxLine", `{"x":"` + strings.Repeat("a", MaxLine) + `"}`, SkipTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev, why, detail := Parse([]byte(c.line))
			if why != c.why {
				t.Fatalf("got %q (%s), want %q", why, detail, c.why)
			}
			if c.why != "" {
				return
			}
			if ev.Subject != "dave" || ev.Org != "acme" || ev.Decision != "deny" || ev.Status != 403 || !ev.Time.Equal(t0) ||
				ev.Permission != "workflows:create" || ev.Client != "192.0.2.7:51234" || ev.Middleware != "workflows-gatehouse@docker" {
				t.Fatalf("fields: %+v", ev)
			}
		})
	}
}

func TestTheSameDecisionRawOrWrappedHasOneID(t *testing.T) {
	raw := auditLine(t0, "allow", 200, "alice", "acme", "workflows:read", "GET /orgs/{org}/workflows workflows:read", "granted")
	a, _, _ := Parse([]byte(raw))
	b, _, _ := Parse([]byte("2026-11-30T10:00:00Z ERR " + raw + " plugin=plugin-gatehouse"))
	wrapped, _ := json.Marshal(map[string]string{"message": raw})
	c, _, _ := Parse(wrapped)
	if a.ID != b.ID || a.ID != c.ID {
		t.Fatal("the same audit object read raw, after a prefix and inside a record has different IDs")
	}
	other, _, _ := Parse([]byte(auditLine(t0.Add(time.Nanosecond), "allow", 200, "alice", "acme", "workflows:read", "GET /orgs/{org}/workflows workflows:read", "granted")))
	if other.ID == a.ID {
		t.Fatal("decisions a nanosecond apart have one ID")
	}
}

func TestByteIdenticalLinesOfOneBatchAreNumbered(t *testing.T) {
	raw := auditLine(t0, "deny", 401, "", "", "", "GET /x x:read", "no token")
	evs := make([]Event, 3)
	for i := range evs {
		evs[i], _, _ = Parse([]byte(raw))
	}
	numberIdentical(evs)
	if evs[0].ID == evs[1].ID || evs[1].ID == evs[2].ID || evs[0].ID == evs[2].ID {
		t.Fatal("three identical lines of one batch share an ID")
	}
	again := make([]Event, 3)
	for i := range again {
		again[i], _, _ = Parse([]byte(raw))
	}
	numberIdentical(again)
	for i := range evs {
		if evs[i].ID != again[i].ID {
			t.Fatal("the same batch numbered twice gives other IDs")
		}
	}
}
