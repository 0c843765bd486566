package tokens

import (
	"sort"
	"strings"
)

// ClaimNames say where identity lives in the claims. Dotted names reach nested objects
// ("realm_access.roles"). An empty name selects the default fallbacks documented on each field.
type ClaimNames struct {
	Subject     string // default "sub"
	Org         string // default "org_id"
	Roles       string // default "roles", then "role"
	Permissions string // default "permissions", then space-separated "scope", then "scp"
	OrgRoles    string // default "org_roles": an object mapping org → roles
	Assignments string // default "assignments": a list of {role, org, scope} objects
}

// Identity is what a verified token says about its bearer. It is immutable and shared by every
// request that presents the same token.
type Identity struct {
	Subject     string
	Issuer      string // iss: the issuer that vouched for the subject
	Org         string
	Roles       []string            // sorted, deduplicated
	Permissions []string            // sorted, deduplicated
	OrgRoles    map[string][]string // org → roles, from the org-roles claim
	Assignments []Assignment        // token-carried scoped role assignments
	Expires     int64               // exp, Unix seconds
	NotBefore   int64               // max(nbf, iat), Unix seconds; 0 if neither
	Claims      map[string]interface{}

	key *Key
}

// Assignment is a role granted in an org, optionally only below resource scopes.
type Assignment struct {
	Role  string
	Org   string
	Scope []string
}

// KeyRetired reports whether the key that verified this identity has left its key set.
func (id *Identity) KeyRetired() bool { return id.key == nil || id.key.Retired() }

// withDefaults returns n with the single-claim defaults filled in (roles and permissions keep ""
// to select their fallback chains).
func (n ClaimNames) withDefaults() ClaimNames {
	n.Subject = pick(n.Subject, "sub")
	n.Org = pick(n.Org, "org_id")
	n.OrgRoles = pick(n.OrgRoles, "org_roles")
	n.Assignments = pick(n.Assignments, "assignments")
	return n
}

// identity maps verified claims to an Identity. n must come from withDefaults. exp and notBefore
// (the later of nbf and iat) were read by checkClaims.
func (n ClaimNames) identity(c map[string]interface{}, exp, notBefore int64) (*Identity, error) {
	id := &Identity{Claims: c, Expires: exp, NotBefore: notBefore}
	var ok1, ok2, ok3, ok4, ok5, ok6 bool
	id.Subject, ok1 = stringClaim(c, n.Subject)
	id.Org, ok2 = stringClaim(c, n.Org)
	id.Roles, ok3 = n.roles(c)
	id.Permissions, ok4 = n.permissions(c)
	id.OrgRoles, ok5 = orgRoles(lookup(c, n.OrgRoles))
	id.Assignments, ok6 = assignments(lookup(c, n.Assignments))
	var ok7 bool
	id.Issuer, ok7 = stringClaim(c, "iss")
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 {
		return nil, ErrClaimValue
	}
	return id, nil
}

func (n ClaimNames) roles(c map[string]interface{}) ([]string, bool) {
	if n.Roles != "" {
		return listClaim(lookup(c, n.Roles), ",")
	}
	if r, ok := c["roles"]; ok {
		return listClaim(r, ",")
	}
	return listClaim(c["role"], ",")
}

func (n ClaimNames) permissions(c map[string]interface{}) ([]string, bool) {
	if n.Permissions != "" {
		return listClaim(lookup(c, n.Permissions), " ")
	}
	if p, ok := c["permissions"]; ok {
		return listClaim(p, ",")
	}
	if s, ok := c["scope"]; ok {
		return listClaim(s, " ")
	}
	return listClaim(c["scp"], " ")
}

func pick(name, def string) string {
	if name == "" {
		return def
	}
	return name
}

// lookup follows a dotted path through nested objects. An exact top-level key wins, so that
// claims such as "https://example.com/roles" stay reachable.
func lookup(c map[string]interface{}, path string) interface{} {
	if v, ok := c[path]; ok || strings.IndexByte(path, '.') < 0 {
		return v
	}
	var cur interface{} = c
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func stringClaim(c map[string]interface{}, path string) (string, bool) {
	switch v := lookup(c, path).(type) {
	case nil:
		return "", true
	case string:
		return v, safeValue(v, false)
	}
	return "", false
}

// listClaim reads an array of strings, or a string split on sep. Elements must be safe header
// values without commas (identity headers are comma-separated).
func listClaim(raw interface{}, sep string) ([]string, bool) {
	var out []string
	switch v := raw.(type) {
	case nil:
		return nil, true
	case string:
		if sep == " " {
			out = strings.Fields(v)
		} else {
			for _, p := range strings.Split(v, sep) {
				if p = strings.TrimSpace(p); p != "" {
					out = append(out, p)
				}
			}
		}
	case []interface{}:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
	default:
		return nil, false
	}
	for _, s := range out {
		if !safeValue(s, true) {
			return nil, false
		}
	}
	return SortedSet(out), true
}

func orgRoles(raw interface{}) (map[string][]string, bool) {
	if raw == nil {
		return nil, true
	}
	m, ok := raw.(map[string]interface{})
	if !ok {
		return nil, false
	}
	out := make(map[string][]string, len(m))
	for org, roles := range m {
		list, ok := listClaim(roles, ",")
		if !ok || !safeValue(org, true) {
			return nil, false
		}
		out[org] = list
	}
	return out, true
}

func assignments(raw interface{}) ([]Assignment, bool) {
	if raw == nil {
		return nil, true
	}
	list, ok := raw.([]interface{})
	if !ok {
		return nil, false
	}
	var out []Assignment
	for _, e := range list {
		m, ok := e.(map[string]interface{})
		if !ok {
			return nil, false
		}
		role, ok1 := m["role"].(string)
		org, ok2 := m["org"].(string)
		scope, ok3 := listClaim(m["scope"], ",")
		if !ok1 || !ok2 || !ok3 || !safeValue(role, true) || !safeValue(org, true) {
			return nil, false
		}
		out = append(out, Assignment{Role: role, Org: org, Scope: scope})
	}
	return out, true
}

// controls are the C0 control characters and DEL: never allowed in a value that may be forwarded.
const controls = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"

// safeValue rejects C0 controls and DEL (header injection), and commas in list elements.
func safeValue(s string, listElement bool) bool {
	if listElement {
		return !strings.ContainsAny(s, controls+",")
	}
	return !strings.ContainsAny(s, controls)
}

// ValidValue reports whether s may be forwarded as a single-valued identity header.
func ValidValue(s string) bool { return safeValue(s, false) }

// ValidListElement reports whether s may be forwarded as one element of a comma-separated identity header.
func ValidListElement(s string) bool { return safeValue(s, true) }

// SortedSet returns the sorted, deduplicated elements of list.
func SortedSet(list []string) []string {
	if len(list) < 2 {
		return list
	}
	cp := make([]string, len(list))
	copy(cp, list)
	sort.Strings(cp)
	out := cp[:1]
	for _, s := range cp[1:] {
		if s != out[len(out)-1] {
			out = append(out, s)
		}
	}
	return out
}
