// Package policy decides whether a verified identity may perform a request: roles map to
// permissions, role assignments are org-scoped and may be limited to resource subtrees, and the
// tenant guard keeps every token inside its own org. A compiled Policy is immutable and safe for
// concurrent use; decisions are values (Decision), never errors.
package policy

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Policy is a compiled policy document.
type Policy struct {
	permissions map[string]bool
	roles       map[string]map[string]bool
	joined      map[string]string  // role → its permissions sorted and joined by commas (GrantHeaders)
	grants      map[string][]grant // subject + "\x00" + org → server-side assignments
	unqualified []string           // locations of the assignments without issuer
	issuers     []string           // the issuers assignments name, sorted
}

type document struct {
	Permissions []string             `yaml:"permissions"`
	Roles       map[string][]string  `yaml:"roles"`
	Assignments []assignmentDocument `yaml:"assignments"`
}

// Parse compiles a policy document. It reports every problem at once, joined by newlines, each
// with its location (`roles.viewer[1]: unknown permission "workflows:raed"`).
func Parse(data []byte) (pol *Policy, err error) {
	defer func() {
		// yaml.v3 reports syntax errors by panicking with its own error type and recovering it;
		// under Yaegi that recovery fails and the panic escapes. Turn it back into an error.
		if r := recover(); r != nil {
			pol = nil
			err = errors.New("policy: malformed YAML: " + panicMessage(r))
		}
	}()
	var doc document
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		return nil, errors.New("policy: " + describeYAMLError(err.Error()))
	}
	p := &Policy{permissions: map[string]bool{}, roles: map[string]map[string]bool{}, grants: map[string][]grant{}}
	var problems []string
	problems = p.addPermissions(doc.Permissions, problems)
	problems = p.addRoles(doc.Roles, problems)
	problems = p.addAssignments(doc.Assignments, problems)
	if len(problems) > 0 {
		return nil, errors.New("policy: " + strings.Join(problems, "\npolicy: "))
	}
	return p, nil
}

// documentKeys are the keys of the policy document's objects.
var documentKeys = map[string]bool{"permissions": true, "roles": true, "assignments": true, "subject": true, "issuer": true, "org": true, "role": true, "scope": true}

// describeYAMLError names duplicate roles plainly; yaml.v3 reports them as duplicate mapping keys.
func describeYAMLError(msg string) string {
	const marker = "mapping key \""
	i := strings.Index(msg, marker)
	if i < 0 || !strings.Contains(msg, "already defined") {
		return "malformed YAML: " + msg
	}
	name := msg[i+len(marker):]
	if j := strings.IndexByte(name, '"'); j >= 0 {
		name = name[:j]
	}
	if documentKeys[name] {
		return "duplicate key " + strconv.Quote(name) + ": " + msg
	}
	return "duplicate role " + strconv.Quote(name) + ": each role is declared once (" + msg + ")"
}

// panicMessage extracts the error a library panicked with, even when it is wrapped in an
// interpreted struct (yaml.v3's yamlError) that Yaegi cannot type-assert.
func panicMessage(r interface{}) string {
	if e, ok := r.(error); ok {
		return e.Error()
	}
	if s, ok := r.(string); ok {
		return s
	}
	v := reflect.ValueOf(r)
	if v.Kind() == reflect.Struct && v.NumField() > 0 && v.Field(0).CanInterface() {
		if e, ok := v.Field(0).Interface().(error); ok {
			return e.Error()
		}
	}
	return "unreadable document"
}

func (p *Policy) addPermissions(list []string, problems []string) []string {
	for i, perm := range list {
		where := "permissions[" + strconv.Itoa(i) + "] " + strconv.Quote(perm)
		switch {
		case strings.Contains(perm, "*"):
			problems = append(problems, where+": wildcard permissions are not allowed: list each permission (least privilege)")
		case !validName(perm) || perm == "public" || perm == "authenticated" || perm == "deny":
			problems = append(problems, where+": not a valid permission name (no spaces, commas or control characters; public, authenticated and deny are reserved)")
		case p.permissions[perm]:
			problems = append(problems, where+": duplicate permission")
		default:
			p.permissions[perm] = true
		}
	}
	return problems
}

func (p *Policy) addRoles(roles map[string][]string, problems []string) []string {
	names := make([]string, 0, len(roles))
	for name := range roles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !validName(name) || strings.Contains(name, "*") {
			problems = append(problems, "roles."+name+": not a valid role name")
			continue
		}
		perms := map[string]bool{}
		for i, perm := range roles[name] {
			where := "roles." + name + "[" + strconv.Itoa(i) + "] " + strconv.Quote(perm)
			switch {
			case strings.Contains(perm, "*"):
				problems = append(problems, where+": wildcard permissions are not allowed: list each permission the role needs (least privilege)")
			case roles[perm] != nil && !p.permissions[perm]:
				problems = append(problems, where+": roles cannot contain roles: list the permissions of "+strconv.Quote(perm)+" the role needs (least privilege)")
			case !p.permissions[perm]:
				problems = append(problems, where+": unknown permission: declare it under permissions")
			default:
				perms[perm] = true
			}
		}
		p.roles[name] = perms
		if p.joined == nil {
			p.joined = map[string]string{}
		}
		p.joined[name] = joinedKeys(perms)
	}
	return problems
}

// joinedKeys returns the keys of set sorted and joined by commas, as the identity headers carry
// one role's permissions.
func joinedKeys(set map[string]bool) string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// HasPermission reports whether perm is declared.
func (p *Policy) HasPermission(perm string) bool { return p.permissions[perm] }

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == ',' || s[i] == 0x7f {
			return false
		}
	}
	return true
}
