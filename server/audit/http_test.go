package audit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, h http.Handler, contentType, body string) (int, map[string]interface{}) {
	t.Helper()
	req := httptest.NewRequest("POST", "/v1/audit", strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]interface{}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%d: body is not JSON: %q", rec.Code, rec.Body.String())
	}
	if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("a %d without a problem: %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	return rec.Code, out
}

func TestBatchEndpointStoresNDJSONAndArraysOnce(t *testing.T) {
	db := newDB(t)
	h := db.Handler()
	a := auditLine(t0, "deny", 403, "dave", "acme", "workflows:create", "POST /orgs/{org}/workflows workflows:create", "denied")
	b := auditLine(t0.Add(time.Second), "allow", 200, "alice", "acme", "workflows:read", "GET /orgs/{org}/workflows workflows:read", "granted")
	c := auditLine(t0.Add(2*time.Second), "deny", 403, "erin", "globex", "workflows:read", "GET /orgs/{org}/workflows workflows:read", `token of org "globex" addresses org "acme"`)
	wrapped, _ := json.Marshal(map[string]string{"message": "2026-11-30T10:00:00Z ERR " + c + " plugin=plugin-gatehouse", "host": "gw1"})
	cases := []struct {
		name, ct, body        string
		stored, dups, skipped float64
	}{
		{"NDJSON of raw lines, one not Gatehouse's", "application/x-ndjson", a + "\n" + `{"level":"info","msg":"hello"}` + "\n" + b + "\n", 2, 0, 1},
		{"the same batch again stores nothing", "application/x-ndjson", a + "\n" + `{"level":"info","msg":"hello"}` + "\n" + b + "\n", 0, 2, 1},
		{"a JSON array of a shipper's records and strings", "application/json", "[" + string(wrapped) + "," + q(a) + "," + q("plain text") + "]", 1, 1, 1},
		{"a record carrying a cut line is skipped, the rest stored", "application/json", "[" + q(a[:40]) + "]", 0, 0, 1},
		{"no Content-Type, NDJSON", "", c + "\n", 0, 1, 0},
		{"a huge line and a huge record are skipped", "application/x-ndjson", q(strings.Repeat("x", 2*MaxLine)) + "\n" + `{"message":"` + strings.Repeat("y", 3*MaxLine) + `"}` + "\n", 0, 0, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := post(t, h, tc.ct, tc.body)
			if status != 200 {
				t.Fatalf("%d %v", status, out)
			}
			skipped := 0.0
			for _, v := range out["skipped"].(map[string]interface{}) {
				skipped += v.(float64)
			}
			if out["stored"] != tc.stored || out["duplicates"] != tc.dups || skipped != tc.skipped {
				t.Fatalf("got %v", out)
			}
		})
	}
	if n := count(t, db, "true"); n != 3 {
		t.Fatalf("%d events stored, want 3", n)
	}
}

func TestBatchEndpointRefusesBadBatchesNamingTheLine(t *testing.T) {
	db := newDB(t)
	h := db.Handler()
	a := auditLine(t0, "deny", 403, "dave", "acme", "workflows:create", "POST /orgs/{org}/workflows workflows:create", "denied")
	bad := strings.Replace(a, `"status":403`, `"status":"x"`, 1)
	cases := []struct {
		name, ct, body string
		status         int
		line, record   float64
		detail         string
	}{
		{"an NDJSON line that is not JSON", "application/x-ndjson", a + "\n\n" + "{not json\n", 400, 3, 2, "not valid JSON"},
		{"an NDJSON line that is a number", "application/x-ndjson", a + "\n42\n", 400, 2, 2, "JSON object or a JSON string"},
		{"an audit object with a bad status", "application/x-ndjson", bad + "\n", 400, 1, 1, "status"},
		{"an array element that is not JSON", "application/json", "[\n" + q(a) + ",\n{\"x\":}\n]", 400, 3, 2, "not valid JSON"},
		{"an array element of another type", "application/json", "[\n" + q(a) + ",\n  true\n]", 400, 3, 2, "JSON object or a JSON string"},
		{"an array that does not end", "application/json", "[" + q(a), 400, 1, 0, "does not end"},
		{"data after the array", "application/json", "[]\n[]", 400, 2, 0, "after the array"},
		{"another media type", "text/html", a, 415, 0, 0, "Content-Type"},
		{"a body over MaxBatch", "application/x-ndjson", strings.Repeat(a+"\n", MaxBatch/len(a)+1), 413, 0, 0, "at most"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := post(t, h, tc.ct, tc.body)
			if status != tc.status {
				t.Fatalf("got %d %v, want %d", status, out, tc.status)
			}
			line, _ := out["line"].(float64)
			record, _ := out["record"].(float64)
			if line != tc.line || record != tc.record || !strings.Contains(out["detail"].(string), tc.detail) {
				t.Fatalf("got line %v record %v %q, want line %v record %v %q", line, record, out["detail"], tc.line, tc.record, tc.detail)
			}
		})
	}
	if n := count(t, db, "true"); n != 0 {
		t.Fatalf("refused batches stored %d events", n)
	}
	req := httptest.NewRequest("GET", "/v1/audit", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 405 || rec.Header().Get("Allow") != "POST" {
		t.Fatalf("GET: %d %q", rec.Code, rec.Header().Get("Allow"))
	}
}
