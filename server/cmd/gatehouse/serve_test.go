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
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/server/internal/pgtest"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

const serveSecret = "serve-command-test-secret-32byte"

// syncBuffer is a bytes.Buffer safe for the server goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func noEnv(string) string { return "" }

// TestServeBootstrapAndBundleKey: bootstrap makes the first admin (and says so, then that nothing
// changed), bundle-key generates and prints a key, and serve (flags from the environment) migrates,
// answers the admin API for the bootstrapped admin, signs bundles with that key, and stops cleanly
// when its context ends.
func TestServeBootstrapAndBundleKey(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(config, []byte("issuers: [https://issuer.test]\naudiences: [cp]\nsecret: "+serveSecret+"\nroutes: [GET /x public]\npolicyFile: /nonexistent\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := run(context.Background(), []string{"bootstrap", "--database", dsn, "--subject", "root", "--issuer", "https://issuer.test"}, &out, &errs); code != 0 ||
		!strings.Contains(out.String(), `assigned gatehouse-platform-admin to "root" of issuer "https://issuer.test" in admin org "gatehouse"`) {
		t.Fatalf("bootstrap: exit %d: %s %s", code, out.String(), errs.String())
	}
	out.Reset()
	if code := bootstrapCommand(context.Background(), []string{"--subject", "root", "--issuer", "https://issuer.test"}, &out, &errs,
		func(v string) string { return map[string]string{"GATEHOUSE_DATABASE": dsn}[v] }); code != 0 || !strings.HasPrefix(out.String(), "unchanged:") {
		t.Fatalf("bootstrap again: exit %d: %s %s", code, out.String(), errs.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"bootstrap", "--database", dsn, "--subject", "root", "--admin-org", "other"}, &out, &errs); code != 1 ||
		!strings.Contains(errs.String(), "already") {
		t.Fatalf("bootstrap into another admin org: exit %d: %s", code, errs.String())
	}
	keyFile := filepath.Join(dir, "bundle.pem")
	out.Reset()
	if code := run(context.Background(), []string{"bundle-key", "--key", keyFile, "--generate", "ed25519"}, &out, &errs); code != 0 || !strings.Contains(out.String(), "BEGIN PUBLIC KEY") ||
		!strings.Contains(out.String(), `"kty":"OKP"`) {
		t.Fatalf("bundle-key: exit %d: %s %s", code, out.String(), errs.String())
	}
	pub := out.String()
	if code := run(context.Background(), []string{"bundle-key", "--key", keyFile, "--generate", "p256"}, &out, &errs); code != 1 {
		t.Fatalf("bundle-key --generate over an existing file: exit %d", code)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr := make(chan net.Addr, 1)
	stderr := &syncBuffer{}
	env := map[string]string{"GATEHOUSE_DATABASE": dsn, "GATEHOUSE_BUNDLE_KEY": keyFile}
	exit := make(chan int, 1)
	go func() {
		exit <- serve(ctx, []string{"--config", config, "--listen", "127.0.0.1:0"}, stderr, func(v string) string { return env[v] }, func(a net.Addr) { addr <- a })
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
	get := func(path, token string) (int, []byte) {
		t.Helper()
		r, _ := http.NewRequest("GET", base+path, nil)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := get("/readyz", ""); code != 200 {
		t.Fatalf("/readyz: %d", code)
	}
	rootT := serveToken(t, "root")
	if code, body := get("/v1/changes", rootT); code != 200 || !strings.Contains(string(body), `"actor":"cli:`) {
		t.Fatalf("/v1/changes: %d %s", code, body)
	}
	code, body := get("/v1/bundle", rootT)
	keys, err := tokens.ParseVerificationKeys(pub[strings.Index(pub, "-----BEGIN"):strings.Index(pub, "{")])
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := tokens.VerifyJWS(string(body), keys, "gatehouse-bundle+jws"); code != 200 || err != nil {
		t.Fatalf("signed bundle: %d %v %s", code, err, body)
	}
	if code, _ := get("/x", rootT); code != 404 {
		t.Fatalf("a route of the settings file is served: %d", code)
	}
	cancel()
	select {
	case code := <-exit:
		if code != 0 || !strings.Contains(stderr.String(), `"stopped":true`) {
			t.Fatalf("serve exited %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
}

func serveToken(t *testing.T, sub string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "https://issuer.test", "aud": "cp", "sub": sub, "org_id": "gatehouse",
		"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(serveSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServeUsageAndRefusals(t *testing.T) {
	dsn := pgtest.Shared(t).NewDatabase(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("issuers: [https://issuer.test]\naudiance: [x]\nsecret: "+serveSecret+"\n"), 0o600)
	for _, c := range []struct {
		name string
		args []string
		code int
		says string
	}{
		{"serve without --config is a usage error", []string{"--database", dsn}, 2, "--config (or GATEHOUSE_CONFIG) is required"},
		{"serve without --database is a usage error", []string{"--config", bad}, 2, "--database (or GATEHOUSE_DATABASE) is required"},
		{"serve --help prints the usage", []string{"--help"}, 0, "usage: gatehouse serve"},
		{"a misspelled option of the config is refused", []string{"--config", bad, "--database", dsn, "--listen", "127.0.0.1:0"}, 1, "audiance"},
		{"a missing bundle key is refused", []string{"--config", bad, "--database", dsn, "--bundle-key", filepath.Join(dir, "none.pem")}, 1, "--bundle-key"},
		{"an unreachable database is refused", []string{"--config", bad, "--database", "postgres://127.0.0.1:1/x?connect_timeout=2"}, 1, "database"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var errs bytes.Buffer
			code := serve(context.Background(), c.args, &errs, noEnv, nil)
			if code != c.code || !strings.Contains(errs.String(), c.says) {
				t.Fatalf("exit %d: %s", code, errs.String())
			}
		})
	}
}
