package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
)

// TestServeIngestsAuditBatchesAndRunsScheduledReviews: serve answers POST /v1/audit for the
// platform admin (and not without a token), runs a review every --review-every and keeps it, and
// refuses a bad --audit-retention.
func TestServeIngestsAuditBatchesAndRunsScheduledReviews(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(config, []byte("issuers: [https://issuer.test]\naudiences: [cp]\nsecret: "+serveSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"bootstrap", "--database", dsn, "--subject", "root", "--issuer", "https://issuer.test"}, &out, &out); code != 0 {
		t.Fatalf("bootstrap: %s", out.String())
	}
	var errs bytes.Buffer
	if code := serve(context.Background(), []string{"--config", config, "--database", dsn, "--audit-retention", "90x"}, &errs, noEnv, nil); code != 2 ||
		!strings.Contains(errs.String(), "--audit-retention") {
		t.Fatalf("a bad --audit-retention: exit %d: %s", code, errs.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan net.Addr, 1)
	stderr := &syncBuffer{}
	exit := make(chan int, 1)
	go func() {
		exit <- serve(ctx, []string{"--config", config, "--database", dsn, "--listen", "127.0.0.1:0", "--review-every", "200ms", "--audit-retention", "90d"},
			stderr, noEnv, func(a net.Addr) { addr <- a })
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a.String()
	case code := <-exit:
		t.Fatalf("serve exited %d: %s", code, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	post := func(token, body string) (int, string) {
		t.Helper()
		r, _ := http.NewRequest("POST", base+"/v1/audit", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-ndjson")
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	line := cliLine(time.Now().Add(-time.Minute), "deny", 403, "erin", "globex", "GET /orgs/{org}/workflows workflows:read", `token of org "globex" addresses org "acme"`)
	if code, body := post("", line); code != 401 {
		t.Fatalf("without a token: %d %s", code, body)
	}
	if code, body := post(serveToken(t, "root"), line); code != 200 || !strings.Contains(body, `"stored":1`) {
		t.Fatalf("the platform admin's batch: %d %s", code, body)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(stderr.String(), `"high":1`) {
		if time.Now().After(deadline) {
			t.Fatalf("no review reported the cross-tenant attempt:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	out.Reset()
	if code := reviewCommand(context.Background(), []string{"--database", dsn, "--json", "--no-save"}, &out, &out, noEnv); code != 0 || !strings.Contains(out.String(), `"previous": `) {
		t.Fatalf("a review after serve's: exit %d %s", code, out.String())
	}
}
