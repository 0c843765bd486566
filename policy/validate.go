package policy

import (
	"errors"
	"strconv"
	"strings"
)

// The validators below let a store of policy objects (the control plane) refuse what Parse would
// refuse, with Parse's own code and messages, one object at a time.

// CheckPermissionName reports why perm cannot be declared (wildcard, reserved name, spaces,
// commas or control characters), or nil.
func CheckPermissionName(perm string) error {
	p := &Policy{permissions: map[string]bool{}}
	problems := p.addPermissions([]string{perm}, nil)
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.TrimPrefix(problems[0], "permissions[0] "+strconv.Quote(perm)+": "))
}

// CheckRoleName reports why name cannot name a role, or nil.
func CheckRoleName(name string) error {
	p := &Policy{permissions: map[string]bool{}, roles: map[string]map[string]bool{}}
	problems := p.addRoles(map[string][]string{name: nil}, nil)
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.TrimPrefix(problems[0], "roles."+name+": "))
}

// CheckRole reports every problem of role name granting perms, given the declared permissions
// and the names of the other roles (a permission that names a role is a role inside a role), or
// nil. Each problem names its place, as Parse does (`roles.viewer[1] "x": unknown permission`),
// and problems are joined by newlines.
func CheckRole(name string, perms []string, declared, roles map[string]bool) error {
	p := &Policy{permissions: declared, roles: map[string]map[string]bool{}}
	if p.permissions == nil {
		p.permissions = map[string]bool{}
	}
	doc := map[string][]string{name: perms}
	for _, perm := range perms {
		if roles[perm] && perm != name {
			doc[perm] = []string{}
		}
	}
	problems := p.addRoles(doc, nil)
	var own []string
	for _, pr := range problems {
		if strings.HasPrefix(pr, "roles."+name+":") || strings.HasPrefix(pr, "roles."+name+"[") {
			own = append(own, pr)
		}
	}
	if len(own) == 0 {
		return nil
	}
	return errors.New(strings.Join(own, "\n"))
}

// CheckAssignmentValue applies the forwarded-value rule to an assignment's subject, org or
// issuer (field): no leading or trailing whitespace, no control characters. An empty value is
// not checked here (whether it is allowed depends on the field).
func CheckAssignmentValue(field, v string) error {
	problems := checkValue(nil, "", field, v)
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.TrimPrefix(problems[0], "."+field+" "))
}

// CheckScopes reports why an assignment's scope list is refused (an empty list, a path that
// ParseScope refuses), or nil. A nil list (the whole org) is accepted.
func CheckScopes(scopes []string) error {
	if scopes == nil {
		return nil
	}
	list := make([]interface{}, len(scopes))
	for i, s := range scopes {
		list[i] = s
	}
	_, err := parseScopes(list)
	return err
}
