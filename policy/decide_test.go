package policy

import (
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/tokens"
)

// TestGrantHeadersAreGrantsJoined holds the request path's shortcut to Grants: over identities
// that take the shortcut (roles from the token's own org only, in any order, duplicated or none)
// and identities that do not (org roles, token assignments, token permissions, policy
// assignments, another org), with and without a policy, GrantHeaders returns exactly Grants'
// roles and permissions joined by commas.
func TestGrantHeadersAreGrantsJoined(t *testing.T) {
	// The policy as Parse, ParseJSON and a subject's lookup build it: GrantHeaders reads each
	// role's permissions joined when the policy was built.
	fromJSON, err := ParseJSON([]byte(`{"permissions": ["w:read", "w:delete", "p:delete"],
		"roles": {"viewer": ["w:read"], "admin": ["w:read", "w:delete"], "moderator": ["p:delete"]},
		"assignments": [{"subject": "svc", "org": "acme", "role": "viewer"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	base := mustParse(t, explainPolicy)
	derived, err := deriveSubject(base, nil, "a", "", []assignmentDocument{{Subject: "a", Org: "globex", Role: "moderator"}})
	if err != nil {
		t.Fatal(err)
	}
	pols := []*Policy{nil, base, fromJSON, derived}
	ids := []tokens.Identity{
		{Subject: "a", Org: "acme", Roles: []string{"admin"}},
		{Subject: "a", Org: "globex", Roles: []string{"moderator"}},
		{Subject: "a", Org: "acme", Roles: []string{"viewer", "admin", "viewer"}},
		{Subject: "a", Org: "acme", Roles: []string{"nosuchrole"}},
		{Subject: "a", Org: "acme"},
		{Subject: "v", Org: "acme", Roles: []string{"viewer"}, Permissions: []string{"w:delete", "w:read"}},
		{Subject: "svc", Org: "acme", Issuer: "https://a.example"},
		{Subject: "svc", Org: "acme", Issuer: "https://b.example", Roles: []string{"viewer"}},
		{Subject: "bob", Org: "acme", Issuer: "https://b.example", OrgRoles: map[string][]string{"globex": {"viewer"}, "acme": {"moderator"}}},
		{Subject: "t", Org: "forum", Assignments: []tokens.Assignment{{Role: "moderator", Org: "forum", Scope: []string{"/topics/cooking"}}, {Role: "admin", Org: "acme"}}},
	}
	orgs := []string{"acme", "globex", "forum", ""}
	resources := [][]string{nil, {"topics", "cooking", "pinned"}, {"w", "1"}}
	optsList := []Options{{}, {TrustTokenPermissions: true}, {IssuerQualified: true}}
	n := 0
	for pi, p := range pols {
		for ii := range ids {
			id := &ids[ii]
			for _, org := range orgs {
				for ri, res := range resources {
					for oi, opts := range optsList {
						roles, perms := Grants(p, opts, id, org, res)
						gotRoles, gotPerms := GrantHeaders(p, opts, id, org, res)
						if gotRoles != strings.Join(roles, ",") || gotPerms != strings.Join(perms, ",") {
							t.Errorf("policy %d id %d org %q resource %d opts %d: GrantHeaders %q %q, Grants %v %v",
								pi, ii, org, ri, oi, gotRoles, gotPerms, roles, perms)
						}
						if gotPerms != "" {
							n++
						}
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no combination forwards a permission: the table does not exercise the permission lists")
	}
	if got := strconv.Itoa(len(ids[2].Roles)); got != "3" {
		t.Fatalf("GrantHeaders changed the identity's roles (now %s of them)", got)
	}
	if ids[2].Roles[0] != "viewer" {
		t.Fatalf("GrantHeaders reordered the identity's roles: %v", ids[2].Roles)
	}
}

// TestDecidePermissionAgreesWithGrants holds the permission step to Grants in every org, also
// in an org that Decide's tenant guard would not let through (decidePermission reads the
// token's roles without tokenRoles when no org roles count): a permission is granted exactly
// when Grants lists it.
func TestDecidePermissionAgreesWithGrants(t *testing.T) {
	pols := []*Policy{nil, mustParse(t, explainPolicy)}
	ids := []tokens.Identity{
		{Subject: "a", Org: "acme", Roles: []string{"admin"}},
		{Subject: "a", Org: "acme", Roles: []string{"viewer", "moderator"}, Permissions: []string{"w:delete"}},
		{Subject: "svc", Org: "acme", Issuer: "https://a.example"},
		{Subject: "bob", Org: "acme", Issuer: "https://b.example", Roles: []string{"viewer"}, OrgRoles: map[string][]string{"globex": {"viewer"}, "acme": {"moderator"}}},
		{Subject: "user5", Org: "forum", Roles: []string{"admin"}},
		{Subject: "t", Org: "forum", Assignments: []tokens.Assignment{{Role: "moderator", Org: "forum", Scope: []string{"/topics/cooking"}}, {Role: "admin", Org: "acme"}}},
		{Subject: "", Org: "", Roles: []string{"viewer"}},
	}
	orgs := []string{"acme", "globex", "forum", ""}
	perms := []string{"w:read", "w:delete", "p:delete"}
	resources := [][]string{nil, {"topics", "cooking", "pinned"}, {"topics", "houseplants"}}
	optsList := []Options{{}, {TrustTokenPermissions: true}, {IssuerQualified: true}}
	allowed, n := 0, 0
	for pi, p := range pols {
		for ii := range ids {
			id := &ids[ii]
			for _, org := range orgs {
				for _, perm := range perms {
					for ri, res := range resources {
						for oi, opts := range optsList {
							d := decidePermission(p, opts, id, Decision{Permission: perm, Status: 403, Org: org}, res)
							_, granted := Grants(p, opts, id, org, res)
							if d.Allow != has(granted, perm) {
								t.Errorf("policy %d id %d org %q %s resource %d opts %d: allow=%v (%s), Grants %v",
									pi, ii, org, perm, ri, oi, d.Allow, d.Reason, granted)
							}
							n++
							if d.Allow {
								allowed++
							}
						}
					}
				}
			}
		}
	}
	if allowed == 0 || allowed == n {
		t.Fatalf("%d of %d allowed: the table does not exercise both outcomes", allowed, n)
	}
}
