package policy

import (
	"strings"
	"testing"
)

func TestCheckPermissionNameRefusesWhatParseRefuses(t *testing.T) {
	cases := []struct {
		name, perm, want string // want: a fragment of the error, "" for none
	}{
		{"a namespaced name is accepted", "workflows:read", ""},
		{"a wildcard is refused", "workflows:*", "wildcard permissions are not allowed"},
		{"a lone star is refused", "*", "wildcard permissions are not allowed"},
		{"a space is refused", "workflows read", "not a valid permission name"},
		{"a comma is refused", "a,b", "not a valid permission name"},
		{"a control character is refused", "a\x01b", "not a valid permission name"},
		{"DEL is refused", "a\x7f", "not a valid permission name"},
		{"the empty name is refused", "", "not a valid permission name"},
		{"public is reserved", "public", "reserved"},
		{"authenticated is reserved", "authenticated", "reserved"},
		{"deny is reserved", "deny", "reserved"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckPermissionName(c.perm)
			wantProblem(t, err, c.want)
			_, perr := Parse([]byte("permissions: [" + validateYAMLQuote(c.perm) + "]"))
			if (err == nil) != (perr == nil) {
				t.Fatalf("CheckPermissionName %v, Parse %v", err, perr)
			}
			if err != nil && strings.Contains(err.Error(), "permissions[0]") {
				t.Fatalf("the location is left in: %v", err)
			}
		})
	}
}

func TestCheckRoleNameRefusesWhatParseRefuses(t *testing.T) {
	cases := []struct{ name, role, want string }{
		{"a plain name is accepted", "editor", ""},
		{"a wildcard is refused", "edit*", "not a valid role name"},
		{"a space is refused", "ed itor", "not a valid role name"},
		{"a comma is refused", "a,b", "not a valid role name"},
		{"a tab is refused", "a\tb", "not a valid role name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckRoleName(c.role)
			wantProblem(t, err, c.want)
			_, perr := Parse([]byte("roles: {" + validateYAMLQuote(c.role) + ": []}"))
			if (err == nil) != (perr == nil) {
				t.Fatalf("CheckRoleName %v, Parse %v", err, perr)
			}
		})
	}
}

func TestCheckRoleNamesEachProblemOfTheRole(t *testing.T) {
	declared := map[string]bool{"a:read": true, "a:write": true, "viewer": true}
	roles := map[string]bool{"viewer": true, "admin": true, "editor": true}
	cases := []struct {
		name  string
		perms []string
		want  string
	}{
		{"declared permissions are accepted", []string{"a:read", "a:write"}, ""},
		{"no permission at all is accepted", nil, ""},
		{"a permission named like a role is a permission when declared", []string{"viewer"}, ""},
		{"an unknown permission is refused", []string{"a:raed"}, `roles.editor[0] "a:raed": unknown permission`},
		{"a role inside the role is refused", []string{"a:read", "admin"}, `roles.editor[1] "admin": roles cannot contain roles`},
		{"the role inside itself is refused", []string{"editor"}, `roles.editor[0] "editor": roles cannot contain roles`},
		{"a wildcard is refused", []string{"a:*"}, "wildcard permissions are not allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantProblem(t, CheckRole("editor", c.perms, declared, roles), c.want)
		})
	}
	if err := CheckRole("editor", []string{"x", "y"}, declared, roles); err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Fatalf("want both problems, got %v", err)
	}
}

func TestCheckAssignmentValueAppliesTheForwardedValueRule(t *testing.T) {
	cases := []struct{ name, v, want string }{
		{"a plain value is accepted", "alice", ""},
		{"an inner space is accepted", "Alice Smith", ""},
		{"a URL is accepted", "https://issuer.example", ""},
		{"the empty value is not checked here", "", ""},
		{"a leading space is refused", " alice", `" alice": not a valid value`},
		{"a trailing newline is refused", "alice\n", "not a valid value"},
		{"an inner control character is refused", "al\x00ice", "not a valid value"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantProblem(t, CheckAssignmentValue("subject", c.v), c.want)
		})
	}
}

func TestCheckScopesRefusesWhatParseRefuses(t *testing.T) {
	cases := []struct {
		name   string
		scopes []string
		want   string
	}{
		{"no scope (the whole org) is accepted", nil, ""},
		{"a path is accepted", []string{"/topics/houseplants"}, ""},
		{"a whole-segment star is accepted", []string{"/topics/*/posts"}, ""},
		{"an empty list is refused", []string{}, "empty list"},
		{"a relative path is refused", []string{"topics"}, "must be a path below /"},
		{"the root is refused", []string{"/"}, "must be a path below /"},
		{"a dot-dot segment is refused", []string{"/a/../b"}, "bad segment"},
		{"a partial star is refused", []string{"/a/b*"}, "bad segment"},
		{"one bad path among good ones is refused", []string{"/a", "//b"}, "bad segment"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantProblem(t, CheckScopes(c.scopes), c.want)
		})
	}
}

func wantProblem(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("accepted, want an error containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

// validateYAMLQuote writes s as a YAML double-quoted scalar.
func validateYAMLQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			b.WriteString("\\x")
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&15])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
