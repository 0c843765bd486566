package tokens

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// identityOf maps claims written as JSON, the way the verifier decodes them, with the default names.
func identityOf(t *testing.T, claims string) (*Identity, error) {
	t.Helper()
	var c map[string]interface{}
	if err := json.Unmarshal([]byte(claims), &c); err != nil {
		t.Fatal(err)
	}
	return ClaimNames{}.withDefaults().identity(c, 2000000000, 0)
}

func TestClaimValuesThatWouldNotReadBackAreRefused(t *testing.T) {
	cases := []struct {
		name   string
		claims string
	}{
		{"a subject with a trailing space is refused", `{"sub":"admin "}`},
		{"a subject with a leading space is refused", `{"sub":" admin"}`},
		{"a subject with a trailing tab is refused", `{"sub":"admin\t"}`},
		{"a subject with a trailing NBSP is refused", `{"sub":"admin\u00a0"}`},
		{"a subject with a leading ideographic space is refused", `{"sub":"\u3000admin"}`},
		{"a subject with a trailing BOM is refused", `{"sub":"admin\ufeff"}`},
		{"an empty subject is refused", `{"sub":""}`},
		{"a subject with CR LF is refused", `{"sub":"a\r\nX-Auth-Org: evil"}`},
		{"a numeric subject is refused", `{"sub":7}`},
		{"a padded issuer is refused", `{"iss":"https://issuer.test "}`},
		{"an empty issuer is refused", `{"iss":""}`},
		{"a padded org is refused", `{"org_id":"acme "}`},
		{"an empty org is refused", `{"org_id":""}`},
		{"a role list with a space after the comma is refused", `{"roles":"admin, viewer"}`},
		{"a role list with an empty element is refused", `{"roles":"admin,,viewer"}`},
		{"a role list with a trailing comma is refused", `{"roles":"admin,"}`},
		{"an empty role string is refused", `{"roles":""}`},
		{"a padded role in an array is refused", `{"roles":["admin "]}`},
		{"an empty role in an array is refused", `{"roles":[""]}`},
		{"a role holding a comma is refused", `{"roles":["admin,root"]}`},
		{"a role holding a double quote is refused", `{"roles":["\"admin\""]}`},
		{"a numeric role is refused", `{"roles":[1]}`},
		{"the fallback role claim follows the same rule", `{"role":"admin "}`},
		{"a scope with a double space is refused", `{"scope":"read  write"}`},
		{"a scope with a leading space is refused", `{"scope":" read"}`},
		{"a scope with a trailing space is refused", `{"scope":"read "}`},
		{"an empty scope is refused", `{"scope":""}`},
		{"a scope token holding a comma is refused", `{"scope":"read,write"}`},
		{"a scope split by a tab is refused", `{"scope":"read\twrite"}`},
		{"a padded permission is refused", `{"permissions":["workflows:read "]}`},
		{"a permission string with a space after the comma is refused", `{"permissions":"a:read, a:write"}`},
		{"a padded org_roles key is refused", `{"org_roles":{"acme ":["admin"]}}`},
		{"an empty org_roles key is refused", `{"org_roles":{"":["admin"]}}`},
		{"a padded org_roles role is refused", `{"org_roles":{"acme":["admin "]}}`},
		{"an org_roles role list with a space after the comma is refused", `{"org_roles":{"acme":"admin, viewer"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if id, err := identityOf(t, c.claims); !errors.Is(err, ErrClaimValue) {
				t.Fatalf("got %+v, %v; want ErrClaimValue", id, err)
			}
		})
	}
}

func TestClaimValuesThatReadBackAreKept(t *testing.T) {
	cases := []struct {
		name   string
		claims string
		want   Identity
	}{
		{"a subject with an inner space is kept as it is", `{"sub":"Jane Doe"}`, Identity{Subject: "Jane Doe"}},
		{"a null subject reads as absent", `{"sub":null}`, Identity{}},
		{"a non-ASCII org is kept", `{"org_id":"日本"}`, Identity{Org: "日本"}},
		{"the issuer is read", `{"iss":"https://issuer.test"}`, Identity{Issuer: "https://issuer.test"}},
		{"a comma-separated role string is split, sorted and deduplicated", `{"roles":"viewer,admin,viewer"}`, Identity{Roles: []string{"admin", "viewer"}}},
		{"an empty role array means no roles", `{"roles":[]}`, Identity{}},
		{"an OAuth scope is split on single spaces", `{"scope":"write read"}`, Identity{Permissions: []string{"read", "write"}}},
		{"permissions take precedence over scope", `{"permissions":["a:read"],"scope":"b"}`, Identity{Permissions: []string{"a:read"}}},
		{"org_roles map each org to its roles", `{"org_roles":{"acme":"admin,viewer","globex":["viewer"]}}`,
			Identity{OrgRoles: map[string][]string{"acme": {"admin", "viewer"}, "globex": {"viewer"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := identityOf(t, c.claims)
			if err != nil {
				t.Fatal(err)
			}
			c.want.Expires = 2000000000
			if !reflect.DeepEqual(*id, c.want) {
				t.Fatalf("got %+v, want %+v", *id, c.want)
			}
		})
	}
}

func TestTokenCarriedAssignments(t *testing.T) {
	cases := []struct {
		name   string
		claims string
		want   []Assignment // nil with ok false: refused
		ok     bool
	}{
		{"an absent scope grants the role in the whole org", `{"assignments":[{"role":"moderator","org":"forum"}]}`,
			[]Assignment{{Role: "moderator", Org: "forum"}}, true},
		{"a scope array is kept sorted", `{"assignments":[{"role":"moderator","org":"forum","scope":["/topics/b","/topics/a"]}]}`,
			[]Assignment{{Role: "moderator", Org: "forum", Scope: []string{"/topics/a", "/topics/b"}}}, true},
		{"a single scope string is one path", `{"assignments":[{"role":"moderator","org":"forum","scope":"/topics/a"}]}`,
			[]Assignment{{Role: "moderator", Org: "forum", Scope: []string{"/topics/a"}}}, true},
		{"an empty assignments array carries none", `{"assignments":[]}`, nil, true},
		{"an empty scope array is refused, not read as the whole org", `{"assignments":[{"role":"m","org":"forum","scope":[]}]}`, nil, false},
		{"an empty scope string is refused", `{"assignments":[{"role":"m","org":"forum","scope":""}]}`, nil, false},
		{"a scope of only a comma is refused", `{"assignments":[{"role":"m","org":"forum","scope":","}]}`, nil, false},
		{"a null scope is refused", `{"assignments":[{"role":"m","org":"forum","scope":null}]}`, nil, false},
		{"a scope array holding an empty path is refused", `{"assignments":[{"role":"m","org":"forum","scope":["/topics/a",""]}]}`, nil, false},
		{"a padded scope path is refused", `{"assignments":[{"role":"m","org":"forum","scope":["/topics/a "]}]}`, nil, false},
		{"a scope that is not a path is refused", `{"assignments":[{"role":"m","org":"forum","scope":"topics/a"}]}`, nil, false},
		{"a scope string of two paths is refused", `{"assignments":[{"role":"m","org":"forum","scope":"/a,/b"}]}`, nil, false},
		{"a numeric scope element is refused", `{"assignments":[{"role":"m","org":"forum","scope":[1]}]}`, nil, false},
		{"a scope object is refused", `{"assignments":[{"role":"m","org":"forum","scope":{"path":"/a"}}]}`, nil, false},
		{"an unknown member is refused", `{"assignments":[{"role":"m","org":"forum","until":"2030-01-01"}]}`, nil, false},
		{"a padded role is refused", `{"assignments":[{"role":"m ","org":"forum"}]}`, nil, false},
		{"an empty org is refused", `{"assignments":[{"role":"m","org":""}]}`, nil, false},
		{"a missing role is refused", `{"assignments":[{"org":"forum"}]}`, nil, false},
		{"a numeric org is refused", `{"assignments":[{"role":"m","org":7}]}`, nil, false},
		{"an assignment that is not an object is refused", `{"assignments":["moderator"]}`, nil, false},
		{"assignments that are not an array are refused", `{"assignments":{"role":"m","org":"forum"}}`, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := identityOf(t, c.claims)
			if !c.ok {
				if !errors.Is(err, ErrClaimValue) {
					t.Fatalf("got %+v, %v; want ErrClaimValue", id, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(id.Assignments, c.want) {
				t.Fatalf("got %#v, want %#v", id.Assignments, c.want)
			}
			for _, a := range id.Assignments {
				if a.Scope != nil && len(a.Scope) == 0 {
					t.Fatal("a present scope must never be empty")
				}
			}
		})
	}
}

func TestCacheBounds(t *testing.T) {
	id := func() *Identity { return &Identity{Subject: "alice", Expires: 1 << 40} }
	token := func(i int) string { return string(rune('a'+i)) + "0123456789012345678901234567890123456789" }
	one := int64(stringCost(token(0))) + id().Bytes() + cacheEntryOverhead
	cases := []struct {
		name       string
		maxEntries int
		maxBytes   int64
		puts       []string
		wantLen    int
	}{
		{"the entry bound holds", 3, 1 << 20, []string{token(0), token(1), token(2), token(3), token(4)}, 3},
		{"the byte budget evicts until the new entry fits", 100, 2*one + one/2, []string{token(0), token(1), token(2), token(3)}, 2},
		{"a budget of exactly one entry keeps one", 100, one, []string{token(0), token(1)}, 1},
		{"an entry larger than the budget is not cached", 100, one - 1, []string{token(0)}, 0},
		{"putting the same token again does not count it twice", 100, 1 << 20, []string{token(0), token(0), token(0)}, 1},
		{"a cache with no entries allowed stores nothing", 0, 1 << 20, []string{token(0)}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cache := NewCache(c.maxEntries, c.maxBytes)
			for _, tok := range c.puts {
				cache.Put(tok, id())
				if cache.Bytes() > c.maxBytes || cache.Len() > c.maxEntries {
					t.Fatalf("%d entries cost %d bytes, bounds %d and %d", cache.Len(), cache.Bytes(), c.maxEntries, c.maxBytes)
				}
			}
			if cache.Len() != c.wantLen || cache.Bytes() != int64(c.wantLen)*one {
				t.Fatalf("%d entries cost %d bytes, want %d entries costing %d", cache.Len(), cache.Bytes(), c.wantLen, int64(c.wantLen)*one)
			}
		})
	}
}

func TestCacheGivesBackTheBytesOfAnExpiredEntry(t *testing.T) {
	cache := NewCache(10, 0)
	cache.Put("tok", &Identity{Subject: "alice", Expires: 100, key: &Key{}})
	if cache.Bytes() == 0 || cache.Get("tok", 50, 0) == nil {
		t.Fatal("a fresh entry must be cached and charged")
	}
	if cache.Get("tok", 100, 0) != nil || cache.Len() != 0 || cache.Bytes() != 0 {
		t.Fatalf("an expired entry must leave with its bytes: %d entries, %d bytes", cache.Len(), cache.Bytes())
	}
}

func TestIdentityBytesCountsEveryForwardedValue(t *testing.T) {
	cases := []struct {
		name string
		id   *Identity
		than *Identity // nil: an empty identity
	}{
		{"the subject counts", &Identity{Subject: "alice"}, nil},
		{"the issuer counts", &Identity{Issuer: "https://issuer.test"}, nil},
		{"the org counts", &Identity{Org: "acme"}, nil},
		{"roles count", &Identity{Roles: []string{"admin"}}, nil},
		{"permissions count", &Identity{Permissions: []string{"a:read"}}, nil},
		{"org roles count", &Identity{OrgRoles: map[string][]string{"acme": nil}}, nil},
		{"assignments count", &Identity{Assignments: []Assignment{{}}}, nil},
		{"assignment scopes count", &Identity{Assignments: []Assignment{{Scope: []string{"/a"}}}}, &Identity{Assignments: []Assignment{{}}}},
		{"org roles' roles count", &Identity{OrgRoles: map[string][]string{"acme": {"admin"}}}, &Identity{OrgRoles: map[string][]string{"acme": nil}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			than := c.than
			if than == nil {
				than = &Identity{}
			}
			if c.id.Bytes() <= than.Bytes() {
				t.Fatalf("Bytes() = %d, no more than %d without the value", c.id.Bytes(), than.Bytes())
			}
		})
	}
}

// TestACachedIdentityCarriesItsBytes: the verified-token cache stores an identity's byte estimate
// with it (BytesOf then reads it), and that estimate is what identityBytes computes and what the
// cache charged.
func TestACachedIdentityCarriesItsBytes(t *testing.T) {
	v := testVerifier(t, fixedNow, nil)
	claims := validClaims(fixedNow)
	claims["roles"] = []string{"viewer", "admin"}
	claims["scope"] = "a:read b:write"
	tok := sign(t, "ES256", claims, nil)
	id, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.bytes == 0 || BytesOf(id) != id.bytes || id.bytes != identityBytes(id) || id.Bytes() != refBytes(id) {
		t.Fatalf("stored %d, BytesOf %d, identityBytes %d, the original %d", id.bytes, BytesOf(id), identityBytes(id), refBytes(id))
	}
	if want := int64(arrayCost(len(tok))) + id.bytes + cacheEntryOverhead; v.cache.Bytes() != want {
		t.Fatalf("the cache charged %d, want %d", v.cache.Bytes(), want)
	}
	if again, _ := v.Verify(tok); again != id {
		t.Fatal("the second Verify did not answer from the cache")
	}
}

// TestIdentityBytesIsTheOriginalEstimate: BytesOf (identityBytes, with its roles loop and arrayCost
// written out) costs identities as the original estimate does, spare capacity and empty values
// included.
func TestIdentityBytesIsTheOriginalEstimate(t *testing.T) {
	spare := make([]string, 1, 5)
	spare[0] = "admin"
	for _, id := range []*Identity{
		{},
		{Subject: "alice", Issuer: "https://issuer.test", Org: "acme"},
		{Subject: "alice", Roles: []string{"admin"}},
		{Roles: []string{}},
		{Roles: []string{"admin", "viewer", "a-much-longer-role-name-than-the-others"}},
		{Issuer: "i", Roles: spare},
		{Org: "acme", Roles: []string{"r"}, Permissions: []string{"a:read"}, OrgRoles: map[string][]string{"o": {"x"}},
			Assignments: []Assignment{{Role: "r", Org: "o", Scope: []string{"/a"}}}},
	} {
		if got, want := BytesOf(id), refBytes(id); got != want {
			t.Errorf("%+v: BytesOf %d, the original %d", *id, got, want)
		}
	}
}
