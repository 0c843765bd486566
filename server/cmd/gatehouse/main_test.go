package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestSubcommandsAndExitStatus(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"no command is a usage error", nil, 2, "usage: gatehouse COMMAND"},
		{"an unknown command is a usage error", []string{"serv"}, 2, `unknown command "serv"`},
		{"help succeeds", []string{"help"}, 0, "forward-auth"},
		{"forward-auth without --config is a usage error", []string{"forward-auth"}, 2, "usage: gatehouse forward-auth"},
		{"assertion-jwks without --config is a usage error", []string{"assertion-jwks"}, 2, "usage: gatehouse assertion-jwks"},
		{"assertion-jwks prints the demo gateway's key set", []string{"assertion-jwks", "--config", "testdata/assertion.yaml"}, 0, `"kty":"EC"`},
		{"assertion-jwks of a configuration without assertions fails", []string{"assertion-jwks", "--config", "testdata/plain.yaml"}, 1, "assertion.key: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(context.Background(), tt.args, &out, &out)
			if code != tt.code || !strings.Contains(out.String(), tt.says) {
				t.Errorf("exit %d, output %q; want %d and %q", code, out.String(), tt.code, tt.says)
			}
		})
	}
}

func TestExplainCommand(t *testing.T) {
	const secret = "fake-test-secret-0123456789abcdef-for-the-cli-test"
	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"explain without a URL is a usage error", []string{"explain", "--config", "testdata/plain.yaml", "GET"}, 2, "usage: gatehouse explain"},
		{"explain with claims but no key is a usage error", []string{"explain", "--config", "testdata/plain.yaml", "--claims", "{}", "GET", "http://api/x"}, 2, "usage: gatehouse explain"},
		{"explain forwards a minted token's request and lists the backend headers", []string{"explain", "--config", "testdata/plain.yaml", "--claims", `{"sub":"alice","org_id":"acme"}`, "--secret", secret, "GET", "http://api/anything"}, 0, "X-Auth-Subject: alice"},
		{"explain of a request without a token exits 1 with the failed check", []string{"explain", "--config", "testdata/plain.yaml", "GET", "http://api/anything"}, 1, "present                  failed: no token"},
		{"explain --json prints the report for scripts", []string{"explain", "--json", "--config", "testdata/plain.yaml", "--header", "X-Auth-Roles: admin", "--claims", `{"sub":"bob"}`, "--secret", secret, "GET", "http://api/anything"}, 0, `"forwarded": true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(context.Background(), tt.args, &out, &out)
			if code != tt.code || !strings.Contains(out.String(), tt.says) {
				t.Errorf("exit %d, output %q; want %d and %q", code, out.String(), tt.code, tt.says)
			}
		})
	}
}

func TestCheckCommand(t *testing.T) {
	t.Chdir("../../..") // the repository root: the demo's settingsFile and policyFile resolve from there
	const td = "server/check/testdata/"
	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"check of the demo's compose file finds nothing", []string{"check", "demo/compose.yaml"}, 0, "no findings"},
		{"check of a broken configuration exits 1 and names the location", []string{"check", td + "unreachable.yaml"}, 1, `unreachable.yaml:5: middleware unreachable: routes[1] "GET /orgs/{org}/audit audit:read": error:`},
		{"check counts errors and warnings", []string{"check", td + "unused.yaml", td + "unreachable.yaml"}, 1, "1 errors, 3 warnings"},
		{"check without FILE is a usage error", []string{"check"}, 2, "usage: gatehouse check"},
		{"check with an unknown flag is a usage error", []string{"check", "--jsn", "demo/compose.yaml"}, 2, "flag provided but not defined: -jsn"},
		{"check of a missing file is a usage error", []string{"check", td + "missing.yaml"}, 2, "no such file"},
		{"check of a TOML dynamic configuration names file:line", []string{"check", td + "invalid.dynamic.toml"}, 1, "invalid.dynamic.toml:5: middleware api: unmatchd: error:"},
		{"check --help succeeds", []string{"check", "--help"}, 0, "usage: gatehouse check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			code := run(context.Background(), tt.args, &out, &out)
			if code != tt.code || !strings.Contains(out.String(), tt.says) {
				t.Errorf("exit %d, output %q; want %d and %q", code, out.String(), tt.code, tt.says)
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	t.Chdir("../../..")
	tests := []struct {
		name  string
		file  string
		code  int
		codes []string
	}{
		{"a clean configuration prints an empty array", "demo/compose.yaml", 0, []string{}},
		{"a broken configuration prints each finding with its location", "server/check/testdata/unused.yaml", 1, []string{"unused-permission", "unused-permission", "unused-role"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), []string{"check", "--json", tt.file}, &out, &errOut)
			var got []struct {
				Severity string
				Code     string
				Location struct{ File, Option string }
				Message  string
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil || got == nil {
				t.Fatalf("output %q is not a JSON array: %v", out.String(), err)
			}
			var codes []string
			for _, f := range got {
				codes = append(codes, f.Code)
				if f.Severity == "" || f.Location.File == "" || f.Location.Option == "" || f.Message == "" {
					t.Errorf("finding without severity, location or message: %+v", f)
				}
			}
			if code != tt.code || strings.Join(codes, ",") != strings.Join(tt.codes, ",") {
				t.Errorf("exit %d, codes %v; want %d and %v", code, codes, tt.code, tt.codes)
			}
		})
	}
}
