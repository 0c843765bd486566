package audit

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestIngestThroughput measures IngestReader (parse and store) over GATEHOUSE_AUDIT_SCALE lines
// (skipped without it): GATEHOUSE_AUDIT_SCALE=200000 go test -run Throughput -v ./audit/.
func TestIngestThroughput(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("GATEHOUSE_AUDIT_SCALE"))
	if n <= 0 {
		t.Skip("set GATEHOUSE_AUDIT_SCALE to a number of lines")
	}
	db := newDB(t)
	var b strings.Builder
	at := time.Now().Add(-time.Hour)
	for i := 0; i < n; i++ {
		b.WriteString("2026-12-01T10:00:00Z ERR " + auditLine(at.Add(time.Duration(i)*time.Microsecond), "allow", 200, "user-"+strconv.Itoa(i%1000), "acme", "workflows:read", "GET /orgs/{org}/workflows workflows:read", "granted") + " plugin=plugin-gatehouse\n")
	}
	start := time.Now()
	st, err := db.IngestReader(ctx, strings.NewReader(b.String()), 0)
	if err != nil || st.Stored != int64(n) {
		t.Fatalf("%+v %v", st, err)
	}
	d := time.Since(start)
	t.Logf("%d wrapped lines (%d MB) in %s: %.0f lines/s", n, b.Len()>>20, d.Round(time.Millisecond), float64(n)/d.Seconds())
	start = time.Now()
	if st, err = db.IngestReader(ctx, strings.NewReader(b.String()), 0); err != nil || st.Duplicates != int64(n) {
		t.Fatalf("again: %+v %v", st, err)
	}
	t.Logf("the same lines again (all duplicates) in %s", time.Since(start).Round(time.Millisecond))
}
