package tokens

import (
	"fmt"
	"strings"
	"sync/atomic"
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
// request that presents the same token. It keeps only the values Gatehouse decides on and forwards,
// never the claims they were read from, so a cached identity costs what Bytes reports. Every string
// in it satisfies ValidValue (Subject, Issuer, Org) or ValidListElement (the others), or is empty
// because its claim was absent.
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

	key   *Key
	bytes int64 // identityBytes of the identity, stored by verifyCached before the identity is shared; 0: not stored
}

// Assignment is a role granted in an org, optionally only below resource scopes.
type Assignment struct {
	Role  string
	Org   string
	Scope []string // sorted, deduplicated paths; nil exactly when the scope was absent (the whole org)
}

// KeyRetired reports whether the key that verified this identity has left its key set. It reads
// the flag itself rather than calling Key.Retired: one method call fewer on the warm path, where
// Yaegi makes each one cost several plain calls.
func (id *Identity) KeyRetired() bool { return KeyRetiredOf(id) }

// KeyRetiredOf is KeyRetired as a plain function, the one implementation (under Yaegi a method
// call costs about 28 allocations more than a plain call).
func KeyRetiredOf(id *Identity) bool { return id.key == nil || atomic.LoadInt32(&id.key.retired) != 0 }

// RetiredFlag returns the flag that a key-set refresh sets (to non-zero) when the key that verified
// this identity leaves its set, for callers that check it on a hot path with one atomic load
// (under Yaegi a method call costs several times that). Nil for an identity without a key: such an
// identity counts as retired.
func (id *Identity) RetiredFlag() *int32 { return RetiredFlagOf(id) }

// RetiredFlagOf is RetiredFlag as a plain function, the one implementation (under Yaegi a method
// call costs about 28 allocations more than a plain call; every allow stored makes this one).
func RetiredFlagOf(id *Identity) *int32 {
	if id.key == nil {
		return nil
	}
	return &id.key.retired
}

// withDefaults returns n with the single-claim defaults filled in (roles and permissions keep ""
// to select their fallback chains).
func (n ClaimNames) withDefaults() ClaimNames {
	n.Subject = pick(n.Subject, "sub")
	n.Org = pick(n.Org, "org_id")
	n.OrgRoles = pick(n.OrgRoles, "org_roles")
	n.Assignments = pick(n.Assignments, "assignments")
	return n
}

// paths returns the claim names that hold a dot, each once: the ones a lookup may have to follow
// as a path through nested objects. nil when there are none.
func (n ClaimNames) paths() []string {
	var out []string
	for _, name := range []string{n.Subject, n.Org, n.Roles, n.Permissions, n.OrgRoles, n.Assignments} {
		if strings.IndexByte(name, '.') >= 0 && !contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// identity maps verified claims to an Identity (mapIdentity, after resolvePaths on a copy of c).
// n must come from withDefaults.
func (n ClaimNames) identity(c map[string]interface{}, exp, notBefore int64) (*Identity, error) {
	if paths := n.paths(); paths != nil {
		cp := make(map[string]interface{}, len(c)+len(paths))
		for k, v := range c {
			cp[k] = v
		}
		resolvePaths(cp, paths)
		c = cp
	}
	id := &Identity{Expires: exp, NotBefore: notBefore}
	id.Issuer, _ = c["iss"].(string) // as verifyToken reads it
	if bad := mapIdentity(&n, c, id); bad != "" {
		return nil, claimError(bad)
	}
	return id, nil
}

// resolvePaths stores under each dotted name that is not a top-level key of c the value its path
// reaches (lookup), so that mapIdentity reads every claim with one index: an exact top-level key
// wins, so that claims such as "https://example.com/roles" stay reachable. c must be the
// verifier's own decoded payload (it is modified).
func resolvePaths(c map[string]interface{}, paths []string) {
	for _, p := range paths {
		if _, present := c[p]; !present {
			if v := lookup(c, p); v != nil {
				c[p] = v
			}
		}
	}
}

// mapIdentity fills id (which holds what verifyToken established, the iss claim when it is a
// string among it) from verified claims and returns "", or returns the name of the claim that
// cannot be mapped (see claimError; id is then to be dropped). n must come from withDefaults;
// dotted names must have been resolved into c (resolvePaths). Single values follow ValidValue and
// list elements ValidListElement; absent (or null) reads as empty.
//
// It is written for Yaegi like verifyToken: a call allocates a slot for every variable and
// intermediate value of the function, so the common token costs a map index and one compiled check
// per claim, and the rare paths (paths, errors) live in other functions.
func mapIdentity(n *ClaimNames, c map[string]interface{}, id *Identity) string {
	// The single values: when all three are present and visible ASCII (the common token), one
	// compiled check covers them; otherwise singleValues checks each. sub and org are fresh
	// variables, so "" when their claim is absent or no string, as id.Issuer is for iss.
	// The common case is tested one if per condition (no ||: see verifyToken).
	// found (reused below) holds their ok, which nothing reads: each _ would be a slot.
	sub, found := c[n.Subject].(string)
	org, found := c[n.Org].(string)
	common := false
	if sub != "" {
		if id.Issuer != "" {
			if org != "" {
				if trim(sub+id.Issuer+org, visibleASCII) == "" {
					common = true
				}
			}
		}
	}
	if common {
		id.Subject = sub
		id.Org = org
	} else if bad := singleValues(n, c, id); bad != "" {
		return bad
	}
	// raw, refused and found are reused. A failed comma-ok assignment leaves its value unchanged
	// under Yaegi, so raw is assigned again whenever found is false. raw is defined by the "roles"
	// lookup, not by a var statement (which allocates a zero value on every call under Yaegi).
	var refused bool
	// Roles: the configured claim, else "roles" (present, even null), else "role"; split on ",".
	raw, found := c["roles"] // a fresh raw: nil when absent
	if n.Roles != "" {
		raw = c[n.Roles]
	} else if found {
		// "roles" it is (the empty branch spares the frame a !found)
	} else {
		raw = c["role"]
	}
	// A tagged switch (here and below) costs the frame no slot for its comparison, where != nil does
	// (docs/yaegi.md, "Sixth round").
	switch raw {
	case nil:
	default:
		if id.Roles, refused = listClaim(raw, ","); refused {
			return pick(n.Roles, "roles")
		}
	}
	// Permissions: the configured claim split on " ", else "permissions" split on ",", else an
	// OAuth "scope" split on " " (RFC 6749 §3.3), else "scp" split on " ".
	sep := " "
	if n.Permissions != "" {
		raw = c[n.Permissions]
	} else if raw, found = c["permissions"]; found {
		sep = ","
	} else if raw, found = c["scope"]; found {
		// "scope" it is
	} else {
		raw = c["scp"]
	}
	switch raw {
	case nil:
	default:
		if id.Permissions, refused = listClaim(raw, sep); refused {
			return pick(n.Permissions, "permissions")
		}
	}
	switch c[n.OrgRoles] {
	case nil:
	default:
		return nestedClaims(n, c, id)
	}
	switch c[n.Assignments] {
	case nil:
	default:
		return nestedClaims(n, c, id)
	}
	return ""
}

// nestedClaims maps the org-roles and assignments claims, when a token carries either (most carry
// neither, and then mapIdentity does not pay for this code's frame).
func nestedClaims(n *ClaimNames, c map[string]interface{}, id *Identity) string {
	var ok bool
	if raw := c[n.OrgRoles]; raw != nil {
		if id.OrgRoles, ok = orgRoles(raw); !ok {
			return n.OrgRoles
		}
	}
	if raw := c[n.Assignments]; raw != nil {
		if id.Assignments, ok = assignments(raw); !ok {
			return n.Assignments
		}
	}
	return ""
}

// singleValues maps the subject, the issuer and the org one by one, as ValidValue checks them:
// absent (or null) reads as empty, anything else must be a valid value. It returns the name of the
// claim that cannot be mapped, or "".
func singleValues(n *ClaimNames, c map[string]interface{}, id *Identity) string {
	var s string
	var ok bool
	// s and ok are reused: s is read only when ok (a failed comma-ok assignment keeps the old value
	// under Yaegi).
	if raw := c[n.Subject]; raw != nil {
		if s, ok = raw.(string); !ok || !ValidValue(s) {
			return n.Subject
		}
		id.Subject = s
	}
	if raw := c["iss"]; raw != nil {
		if s, ok = raw.(string); !ok || !ValidValue(s) {
			return "iss"
		}
		id.Issuer = s
	}
	if raw := c[n.Org]; raw != nil {
		if s, ok = raw.(string); !ok || !ValidValue(s) {
			return n.Org
		}
		id.Org = s
	}
	return ""
}

// claimError names the claim whose value would not reach the backend as decided. It wraps
// ErrClaimValue (errors.Is works compiled and under Yaegi; the request path needs no comparison:
// any error other than the sentinels it tests is a 401 invalid_token).
func claimError(name string) error {
	return fmt.Errorf("%w: claim %s has the wrong type or a value that would not read back exactly (empty, padded with white space, a control character, or a comma or double quote in a list element)", ErrClaimValue, quote(name))
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

// orgRoles reads the org-roles claim: an object mapping each org to its roles (a list claim split
// on ","). Org names follow the list-element rule, like every org Gatehouse compares.
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
		list, refused := listClaim(roles, ",")
		if refused || !ValidListElement(org) {
			return nil, false
		}
		out[org] = list
	}
	return out, true
}

// assignments reads the assignments claim: an array of assignment objects.
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
		a, ok := assignment(e)
		if !ok {
			return nil, false
		}
		out = append(out, a)
	}
	return out, true
}

// assignment reads one {role, org, scope} object. role and org are required strings; scope is
// optional. No other member is allowed: a member Gatehouse does not know might narrow the grant in
// the issuer's mind (an expiry, a condition), and ignoring it would widen it.
func assignment(raw interface{}) (Assignment, bool) {
	m, ok := raw.(map[string]interface{})
	if !ok {
		return Assignment{}, false
	}
	for name := range m {
		if name != "role" && name != "org" && name != "scope" {
			return Assignment{}, false
		}
	}
	role, ok1 := m["role"].(string)
	org, ok2 := m["org"].(string)
	if !ok1 || !ok2 || !ValidListElement(role) || !ValidListElement(org) {
		return Assignment{}, false
	}
	a := Assignment{Role: role, Org: org}
	scope, present := m["scope"]
	if !present {
		return a, true
	}
	a.Scope, ok = scopeClaim(scope)
	if !ok {
		return Assignment{}, false
	}
	return a, true
}

// scopeClaim reads a present scope: one path string, or a non-empty array of path strings. Only an
// absent scope means the whole org, so a present one that says nothing ([], "", null, [""]) is
// refused rather than read as absent. Each path starts with "/" and follows the list-element rule;
// the policy reads the path itself (a path it cannot parse covers nothing).
func scopeClaim(raw interface{}) ([]string, bool) {
	var list []string
	switch v := raw.(type) {
	case string:
		list = []string{v}
	case []interface{}:
		var ok bool
		if list, ok = stringArray(v); !ok {
			return nil, false
		}
	default:
		return nil, false
	}
	if len(list) == 0 {
		return nil, false
	}
	for _, s := range list {
		if !strings.HasPrefix(s, "/") || !ValidListElement(s) {
			return nil, false
		}
	}
	return SortedSet(list), true
}

// Bytes returns a conservative estimate of the heap an identity keeps alive: its strings and the
// backing arrays of its slices and map, rounded up for allocator size classes. The Identity struct
// itself and the key it points to are not included (a cache charges them as per-entry overhead).
func (id *Identity) Bytes() int64 { return BytesOf(id) }

// BytesOf is Bytes as a plain function, the one implementation (under Yaegi a method call costs
// about 28 allocations more than a plain call; every allow stored makes this one). An identity the
// verified-token cache stored carries its estimate already (verifyCached computed it once, for the
// cache, before the identity was shared), so that the middleware's decision cache, which stores the
// same identity, does not compute it again; any other identity is costed by identityBytes.
func BytesOf(id *Identity) int64 {
	if id.bytes != 0 {
		return id.bytes
	}
	return identityBytes(id)
}

// identityBytes computes BytesOf. The common identity (three strings and a short role list) is
// costed here with arrayCost written out (n + n/4 + 16 for n > 0); the rest in nestedBytes, so that
// under Yaegi the common case does not pay for that code's frame.
func identityBytes(id *Identity) int64 {
	n := 0
	if l := cap(id.Roles) * stringHeader; l > 0 {
		n = l + l/4 + 16 // arrayCost of the roles' backing array (listCost)
	}
	// The subject, the issuer, the org and the roles, costed by one loop body (its slots are paid once).
	for _, s := range append([]string{id.Subject, id.Issuer, id.Org}, id.Roles...) {
		if l := len(s); l > 0 {
			n += l + l/4 + 16
		}
	}
	if id.Permissions != nil || id.OrgRoles != nil || id.Assignments != nil {
		n += nestedBytes(id)
	}
	return int64(n)
}

// nestedBytes is the part of Bytes for permissions, org roles and assignments.
func nestedBytes(id *Identity) int {
	n := listCost(id.Permissions)
	if id.OrgRoles != nil {
		n += mapOverhead + mapSlot*len(id.OrgRoles)
		for org, roles := range id.OrgRoles {
			n += stringCost(org) + listCost(roles)
		}
	}
	n += arrayCost(cap(id.Assignments) * assignmentSize)
	for _, a := range id.Assignments {
		n += stringCost(a.Role) + stringCost(a.Org) + listCost(a.Scope)
	}
	return n
}

const (
	stringHeader   = 16        // bytes of a string header in a slice's backing array
	assignmentSize = 16*2 + 24 // two strings and a slice
	mapOverhead    = 400       // a small map's header and first group or bucket
	mapSlot        = 96        // each further entry, with the spare room of a doubling map
)

// stringCost is what the bytes of s occupy on the heap: its length, rounded up to the allocator's
// size class (at most about 19% more above 16 bytes; small objects round up to 8 or 16).
func stringCost(s string) int { return arrayCost(len(s)) }

// listCost is what a []string's backing array and its strings occupy.
func listCost(list []string) int {
	n := 0
	if l := cap(list) * stringHeader; l > 0 {
		n = l + l/4 + 16 // arrayCost
	}
	for _, s := range list {
		if l := len(s); l > 0 {
			n += l + l/4 + 16 // stringCost
		}
	}
	return n
}

// arrayCost bounds the allocation of n bytes from above: n plus a quarter plus 16 covers every size
// class of the Go allocator.
func arrayCost(n int) int {
	if n == 0 {
		return 0
	}
	return n + n/4 + 16
}
