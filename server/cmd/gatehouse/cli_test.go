package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestControlPlaneCommandsAreDispatchedToTheCLI checks the dispatch lines: every control-plane
// command reaches server/cli (which answers a malformed command line with exit 2 and its usage),
// and help lists them. The commands themselves are tested in server/cli against a real server.
func TestControlPlaneCommandsAreDispatchedToTheCLI(t *testing.T) {
	for _, name := range []string{"permissions", "roles", "subjects", "assignments", "whocan", "can", "log", "import", "export"} {
		var out bytes.Buffer
		code := run(context.Background(), []string{name, "--no-such-flag"}, &out, &out)
		if code != 2 || !strings.Contains(out.String(), "usage: gatehouse "+name) {
			t.Errorf("%s: exit %d, %q; want 2 and its usage", name, code, out.String())
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"help"}, &out, &out); code != 0 || !strings.Contains(out.String(), "assignments      list, add or remove role assignments") {
		t.Errorf("help: exit %d, %q", code, out.String())
	}
}
