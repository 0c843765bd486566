package main

import (
	"bytes"
	"context"
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
		{"an unknown command is a usage error", []string{"serve"}, 2, `unknown command "serve"`},
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
