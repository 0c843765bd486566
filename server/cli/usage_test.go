package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/server/store"
)

// noEnv is an empty environment, so that a developer's GATEHOUSE_* variables do not leak in.
func noEnv(string) string { return "" }

func TestMistakesInTheCommandLineExitTwoBeforeAnyRequest(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("a.b.c\n"), 0o600)
	tests := []struct {
		name string
		args []string
		says string
	}{
		{"a noun without a verb", []string{"roles"}, "missing a subcommand: list, get, create, set, delete"},
		{"an unknown verb", []string{"roles", "rename", "x"}, `unknown subcommand "rename"`},
		{"an unknown flag", []string{"roles", "list", "--colour"}, "flag provided but not defined: -colour"},
		{"get without a name", []string{"roles", "get"}, "missing NAME"},
		{"get with two names", []string{"roles", "get", "a", "b"}, `unexpected argument "b"`},
		{"a role created without permissions", []string{"roles", "create", "ops"}, "at least one --permission"},
		{"roles set that changes nothing", []string{"roles", "set", "ops"}, "nothing to change"},
		{"--add outside roles set", []string{"roles", "create", "ops", "--permission", "a:b", "--add", "c:d"}, "--add and --remove belong to roles set"},
		{"permissions set without --description", []string{"permissions", "set", "a:b"}, "nothing to change: give --description"},
		{"subjects set that changes nothing", []string{"subjects", "set", "bob"}, "nothing to change"},
		{"assignments add without a role", []string{"assignments", "add", "--org", "acme", "--subject", "bob"}, "add needs --org, --subject and --role"},
		{"assignments remove without an org", []string{"assignments", "remove", "7"}, "remove needs --org"},
		{"assignments remove with an ID that is not a number", []string{"assignments", "remove", "seven", "--org", "acme"}, `assignment ID "seven": want a number`},
		{"assignments remove with an ID and a subject", []string{"assignments", "remove", "7", "--org", "acme", "--subject", "bob"}, "an ID or --subject and --role, not both"},
		{"assignments remove with neither", []string{"assignments", "remove", "--org", "acme"}, "an ID, or --subject and --role"},
		{"assignments list with a scope", []string{"assignments", "list", "--scope", "/x"}, "--scope belongs to add and remove"},
		{"whocan without an org", []string{"whocan", "workflows:read"}, "whocan needs --org"},
		{"can without a subject", []string{"can", "--org", "acme"}, "missing SUBJECT"},
		{"log with a limit above 1000", []string{"log", "--limit", "1001"}, "--limit must be between 1 and 1000"},
		{"import without a file", []string{"import"}, "missing FILE"},
		{"export with an argument", []string{"export", "file.json"}, `unexpected argument "file.json"`},
		{"no token anywhere", []string{"roles", "list"}, "no admin token: give --token, --token-file or set GATEHOUSE_TOKEN"},
		{"both --token and --token-file", []string{"roles", "list", "--token", "a.b.c", "--token-file", tokenFile}, "give --token or --token-file, not both"},
		{"a token with a space", []string{"roles", "list", "--token", "a.b c"}, "holds a space or a control byte"},
		{"a server URL that is not http", []string{"roles", "list", "--token", "a.b.c", "--server", "ftp://cp"}, "want an absolute http:// or https:// URL"},
		{"a server URL with a query", []string{"roles", "list", "--token", "a.b.c", "--server", "http://cp/?x=1"}, "a base URL has no query or fragment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := Run(context.Background(), tt.args, &out, &errOut, noEnv)
			if code != 2 || !strings.Contains(errOut.String(), tt.says) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errOut.String(), tt.says)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q; want nothing", out.String())
			}
		})
	}
}

func TestHelpPrintsTheCommandsUsageAndSucceeds(t *testing.T) {
	for _, args := range [][]string{{"roles", "--help"}, {"roles", "list", "-h"}, {"whocan", "--help"}, {"export", "-help"}} {
		var out, errOut bytes.Buffer
		if code := Run(context.Background(), args, &out, &errOut, noEnv); code != 0 || !strings.Contains(out.String(), "usage: gatehouse "+args[0]) || !strings.Contains(out.String(), "--server URL") {
			t.Errorf("%v: exit %d, stdout %q", args, code, out.String())
		}
	}
}

func TestFlagsMayComeBeforeOrAfterArgumentsAndDashDashEndsThem(t *testing.T) {
	tests := []struct {
		args []string
		pos  []string
		json bool
	}{
		{[]string{"admin", "--json"}, []string{"admin"}, true},
		{[]string{"--json", "admin"}, []string{"admin"}, true},
		{[]string{"a", "--json", "b"}, []string{"a", "b"}, true},
		{[]string{"--", "--json"}, []string{"--json"}, false},
		{[]string{"a", "--", "-b", "--json"}, []string{"a", "-b", "--json"}, false},
	}
	for _, tt := range tests {
		inv := &invocation{}
		fs := inv.flags("t", "")
		pos, err := parse(fs, tt.args)
		if err != nil || !reflect.DeepEqual(pos, tt.pos) || inv.json != tt.json {
			t.Errorf("parse(%q) = %q, json %v, %v; want %q, json %v", tt.args, pos, inv.json, err, tt.pos, tt.json)
		}
	}
	fs := (&invocation{}).flags("t", "")
	if _, err := parse(fs, []string{"-h"}); err != flag.ErrHelp {
		t.Errorf("-h: %v; want flag.ErrHelp", err)
	}
}

func TestTheTokenComesFromTheFlagTheFileOrTheEnvironmentInThatOrder(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	os.WriteFile(file, []byte("  from.the.file\n"), 0o600)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	env := func(vars map[string]string) Env { return func(k string) string { return vars[k] } }
	tests := []struct {
		name      string
		token     string
		tokenFile string
		env       map[string]string
		want      string
		wantErr   string
	}{
		{"the flag wins over the environment", "from.the.flag", "", map[string]string{"GATEHOUSE_TOKEN": "from.the.env"}, "from.the.flag", ""},
		{"a token file is read and trimmed", "", file, map[string]string{"GATEHOUSE_TOKEN": "from.the.env"}, "from.the.file", ""},
		{"the environment's token", "", "", map[string]string{"GATEHOUSE_TOKEN": "from.the.env", "GATEHOUSE_TOKEN_FILE": file}, "from.the.env", ""},
		{"the environment's token file", "", "", map[string]string{"GATEHOUSE_TOKEN_FILE": file}, "from.the.file", ""},
		{"an empty token file", "", empty, nil, "", "is empty"},
		{"a missing token file", "", filepath.Join(dir, "none"), nil, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := &invocation{env: env(tt.env), token: tt.token, tokenFile: tt.tokenFile, timeout: 1}
			c, err := inv.client()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v; want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || c.token != tt.want {
				t.Fatalf("token %q, %v; want %q", c.token, err, tt.want)
			}
			if c.base.String() != DefaultServer {
				t.Errorf("server %s; want the default %s", c.base, DefaultServer)
			}
		})
	}
}

func TestAProblemPrintsTitleDetailAndField(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{Title: "Unprocessable Entity", Status: 422, Detail: `unknown role "editr"`, Field: "role"}, `Unprocessable Entity: unknown role "editr" (field role)`},
		{Problem{Title: "Precondition Failed", Status: 412, Detail: "version 3 is not the current version 4"}, "Precondition Failed: version 3 is not the current version 4"},
		{Problem{Status: 503}, "Service Unavailable"},
		{Problem{Title: "Forbidden", Status: 403, Detail: "Forbidden"}, "Forbidden"},
	}
	for _, tt := range tests {
		if got := tt.p.Error(); got != tt.want {
			t.Errorf("%+v: %q; want %q", tt.p, got, tt.want)
		}
	}
}

func TestRemoveBySubjectAndRoleNamesExactlyOneAssignment(t *testing.T) {
	as := []store.Assignment{
		{ID: 1, Subject: "bob", Org: "acme", Role: "editor"},
		{ID: 2, Subject: "bob", Org: "acme", Role: "viewer", Scopes: []string{"/b", "/a"}},
		{ID: 3, Subject: "bob", Org: "acme", Role: "viewer", Scopes: []string{"/c"}},
		{ID: 4, Subject: "bob", Issuer: "https://idp", Org: "acme", Role: "editor"},
	}
	tests := []struct {
		name    string
		issuer  string
		role    string
		scopes  []string
		want    int64
		wantErr string
	}{
		{"the one assignment of the role", "", "editor", nil, 1, ""},
		{"the issuer-qualified one only with its issuer", "https://idp", "editor", nil, 4, ""},
		{"a scope set in any order", "", "viewer", []string{"/a", "/b"}, 2, ""},
		{"two assignments of the role are ambiguous without --scope", "", "viewer", nil, 0, "2 times: give the ID or --scope: 2 (/b,/a), 3 (/c)"},
		{"a scope the subject does not hold", "", "viewer", []string{"/a"}, 0, "holds no role viewer in org acme with scope /a"},
		{"a role the subject does not hold", "", "admin", nil, 0, "bob holds no role admin in org acme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pick(as, "bob", tt.issuer, tt.role, tt.scopes, "acme")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want error %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.ID != tt.want {
				t.Fatalf("got %+v, %v; want ID %d", got, err, tt.want)
			}
		})
	}
}

func TestControlBytesFromTheServerAreEscapedNotPrinted(t *testing.T) {
	if got := printable("evil\x1b[2Jname\nnext"); got != `evil\x1b[2Jname\x0anext` {
		t.Errorf("printable = %q", got)
	}
	var b bytes.Buffer
	tb := newTable(&b, "A", "B")
	tb.row("x\ty", "")
	tb.flush()
	if want := "A    B\nx y  -\n"; b.String() != want {
		t.Errorf("table %q; want %q", b.String(), want)
	}
}

func TestExportWritesTheFileWholeOrNotAtAll(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.json")
	os.WriteFile(path, []byte("old"), 0o644)
	if err := writeFileAtomic(path, []byte(`{"new":true}`)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != `{"new":true}` {
		t.Errorf("file holds %q", b)
	}
	if err := writeFileAtomic(filepath.Join(dir, "missing", "p.json"), []byte("x")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries; want only policy.json (no temporary file left)", len(entries))
	}
}
