package forwardauth

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestTheCommandServesUntilSIGTERMThenShutsDownGracefully(t *testing.T) {
	config := writeFile(t, t.TempDir(), "gatehouse.yaml", testConfig)
	var stderr bytes.Buffer
	addrs := make(chan net.Addr, 1)
	done := make(chan int, 1)
	go func() {
		done <- command(context.Background(), []string{"--config", config, "--listen", "127.0.0.1:0"}, &stderr, func(a net.Addr) { addrs <- a })
	}()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a.String()
	case code := <-done:
		t.Fatalf("exited with %d: %s", code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("did not listen within 10s")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200} {
		resp, err := client.Get(base + path)
		if err != nil || resp.StatusCode != want {
			t.Fatalf("GET %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
	}
	req, _ := http.NewRequest("GET", base+ForwardedPath, nil)
	req.Header.Set("X-Forwarded-Method", "GET")
	req.Header.Set("X-Forwarded-Uri", "/orgs/acme/workflows")
	req.Header.Set("X-Forwarded-Host", "api.example.com")
	req.Header.Set("Authorization", "Bearer "+token(t, "dave"))
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Auth-Subject") != "dave" {
		t.Fatalf("auth request: %v %v", resp, err)
	}
	resp.Body.Close()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(stderr.String(), `"stopped":true`) {
			t.Errorf("exit %d, stderr:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop within 15s of SIGTERM")
	}
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Error("still answering after shutdown")
	}
}

func TestTheCommandRefusesBadInvocationsWithTheirExitStatus(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", testConfig)
	typo := writeFile(t, dir, "typo.yaml", strings.Replace(testConfig, "audiences:", "audiance:", 1))
	notMap := writeFile(t, dir, "list.yaml", "- a\n- b\n")
	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no --config is a usage error", nil, 2, "usage: gatehouse forward-auth"},
		{"--help prints the usage and succeeds", []string{"--help"}, 0, "usage: gatehouse forward-auth"},
		{"an unknown flag is a usage error", []string{"--config", good, "--port", "1"}, 2, "flag provided but not defined"},
		{"a stray argument is a usage error", []string{"--config", good, "extra"}, 2, "usage:"},
		{"a malformed trusted proxy is a usage error", []string{"--config", good, "--trusted-proxies", "10.0.0.0/99"}, 2, "--trusted-proxies"},
		{"a missing configuration file fails", []string{"--config", dir + "/missing.yaml"}, 1, "no such file"},
		{"a configuration that is not a mapping fails", []string{"--config", notMap}, 1, "want a mapping"},
		{"a configuration the plugin refuses fails with the plugin's own errors", []string{"--config", typo}, 1, "audiance: unknown option (did you mean audiences?)"},
		{"an address that cannot be listened on fails", []string{"--config", good, "--listen", "256.0.0.1:1"}, 1, "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stderr, nil)
			if code != tt.code || !strings.Contains(stderr.String(), tt.says) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.says)
			}
		})
	}
}
