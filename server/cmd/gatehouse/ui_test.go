package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
)

func TestServeRefusesAnIncompleteOrUntrustedWebUI(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	config := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(config, []byte("issuers: [https://issuer.test]\naudiences: [cp]\nsecret: "+serveSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"--config", config, "--database", dsn, "--listen", "127.0.0.1:0"}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"a client without an issuer", []string{"--ui-client-id", "ui", "--ui-redirect", "http://127.0.0.1:1/ui/callback"}, 2, "--ui-issuer, --ui-client-id and --ui-redirect together"},
		{"an issuer the config does not trust", []string{"--ui-issuer", "https://other.test", "--ui-client-id", "ui", "--ui-redirect", "http://127.0.0.1:1/ui/callback"}, 1, "not one of --config's issuers"},
		{"plain http to another host", []string{"--ui-issuer", "https://issuer.test", "--ui-client-id", "ui", "--ui-redirect", "http://gatehouse.example/ui/callback"}, 1, "only to a loopback host"},
		{"a redirect elsewhere than the callback", []string{"--ui-issuer", "https://issuer.test", "--ui-client-id", "ui", "--ui-redirect", "https://gatehouse.example/callback"}, 1, "must end in /ui/callback"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errs syncBuffer
			if code := serve(context.Background(), append(append([]string(nil), base...), tc.args...), &errs, noEnv, nil); code != tc.code || !strings.Contains(errs.String(), tc.want) {
				t.Fatalf("exit %d, want %d and %q: %s", code, tc.code, tc.want, errs.String())
			}
		})
	}
}

func TestServeAnswersTheWebUIBesideTheAdminAPI(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	config := filepath.Join(t.TempDir(), "gatehouse.yaml")
	if err := os.WriteFile(config, []byte("issuers: [https://issuer.test]\naudiences: [cp]\nsecret: "+serveSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan net.Addr, 1)
	done := make(chan int, 1)
	var errs bytes.Buffer
	env := map[string]string{"GATEHOUSE_UI_ISSUER": "https://issuer.test", "GATEHOUSE_UI_CLIENT_ID": "gatehouse-ui", "GATEHOUSE_UI_REDIRECT": "http://127.0.0.1:8081/ui/callback"}
	go func() {
		done <- serve(ctx, []string{"--config", config, "--database", dsn, "--listen", "127.0.0.1:0"}, &errs, func(k string) string { return env[k] }, func(a net.Addr) { addr <- a })
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a.String()
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, errs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		path     string
		status   int
		location string
	}{
		{"/ui/roles", http.StatusSeeOther, "/ui/login?back=%2Fui%2Froles"},
		{"/ui/static/ui.css", http.StatusOK, ""},
		{"/v1/roles", http.StatusUnauthorized, ""},
		{"/v1/orgs/acme/decisions", http.StatusUnauthorized, ""},
		{"/readyz", http.StatusOK, ""},
	} {
		resp, err := noFollow.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
			t.Errorf("%s: %d %q", tc.path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}
