package store

import (
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/tokens"
	"gopkg.in/yaml.v3"
)

// richPolicy uses every form the schema allows: issuers, a scope as one path and as a list, a
// trailing slash, a whole-segment star, a duplicate assignment, a role without permissions.
const richPolicy = `
permissions: [topics:read, topics:write, topics:moderate, billing:read]
roles:
  reader: [topics:read]
  writer: [topics:read, topics:write, topics:read]
  moderator: [topics:moderate, topics:read]
  nobody: []
assignments:
  - {subject: alice, org: acme, role: writer, scope: /topics/houseplants/}
  - {subject: alice, issuer: "https://id.example", org: acme, role: moderator, scope: [/topics/*/posts, /topics/cacti]}
  - {subject: bob, org: globex, role: reader}
  - {subject: bob, org: globex, role: reader}
  - {subject: svc-ci, org: acme, role: writer}
`

// policyFiles are the policy documents the round trip is tested with.
func policyFiles(t *testing.T) map[string][]byte {
	files := map[string][]byte{"rich": []byte(richPolicy), "empty": []byte("{}")}
	for _, p := range []string{"../../demo/policy.yaml", "../check/testdata/unused.policy.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = b
	}
	return files
}

// normalized decodes a policy document into the store's normal form: permissions sorted, role
// permissions sorted and deduplicated, assignments canonical, deduplicated and sorted.
func normalized(t *testing.T, data []byte) ([]string, map[string][]string, []Assignment) {
	t.Helper()
	var f fileDocument
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	perms := sortedSet(f.Permissions)
	roles := map[string][]string{}
	for k, v := range f.Roles {
		roles[k] = sortedSet(v)
	}
	seen := map[string]bool{}
	var list []Assignment
	for _, fa := range f.Assignments {
		a := Assignment{Subject: fa.Subject, Org: fa.Org, Role: fa.Role}
		a.Issuer, _ = fa.Issuer.(string)
		switch v := fa.Scope.(type) {
		case string:
			a.Scopes = []string{v}
		case []interface{}:
			for _, e := range v {
				a.Scopes = append(a.Scopes, e.(string))
			}
		}
		a, err := checkAssignment(a)
		if err != nil {
			t.Fatal(err)
		}
		if k := assignmentKey(a); !seen[k] {
			seen[k] = true
			list = append(list, a)
		}
	}
	sortAssignments(list)
	return perms, roles, list
}

func TestDocumentAfterImportIsThePolicyFileAndDecidesAlike(t *testing.T) {
	for name, file := range policyFiles(t) {
		t.Run(name, func(t *testing.T) {
			s, _ := newStore(t)
			res := must[ImportResult](t)(s.Import(ctx, "cli:root", file))
			doc, rev, err := s.Document(ctx, DocumentOptions{})
			ok(t, err)
			if rev != res.Revision {
				t.Fatalf("document revision %d, import revision %d", rev, res.Revision)
			}
			wp, wr, wa := normalized(t, file)
			gp, gr, ga := normalized(t, doc)
			if !reflect.DeepEqual(wp, gp) || !reflect.DeepEqual(wr, gr) || !reflect.DeepEqual(wa, ga) {
				t.Fatalf("the document differs from the file:\nfile %v %v %v\ndoc  %v %v %v\n%s", wp, wr, wa, gp, gr, ga, doc)
			}
			orig, err := policy.Parse(file)
			ok(t, err)
			back, err := policy.Parse(doc)
			ok(t, err)
			sameDecisions(t, orig, back, wa)

			// Document -> Import -> Document is byte for byte the same, and changes nothing.
			again := must[ImportResult](t)(s.Import(ctx, "cli:root", doc))
			if again.Created+again.Updated+again.Deleted != 0 || again.Revision != rev {
				t.Fatalf("importing the store's own document changed it: %+v", again)
			}
			doc2, _, err := s.Document(ctx, DocumentOptions{})
			ok(t, err)
			if string(doc2) != string(doc) {
				t.Fatalf("document changed:\n%s\n%s", doc, doc2)
			}
			// and into another store
			other, _ := newStore(t)
			must[ImportResult](t)(other.Import(ctx, "cli:root", doc))
			doc3, _, err := other.Document(ctx, DocumentOptions{})
			ok(t, err)
			if string(doc3) != string(doc) {
				t.Fatalf("another store's document differs:\n%s\n%s", doc, doc3)
			}
		})
	}
}

// sameDecisions compares what both policies grant every assigned subject, with and without
// issuer, at the org and below each scope.
func sameDecisions(t *testing.T, a, b *policy.Policy, list []Assignment) {
	t.Helper()
	for _, as := range list {
		resources := [][]string{nil, {"elsewhere"}}
		for _, sc := range as.Scopes {
			segs, _ := policy.ParseScope(sc)
			resources = append(resources, append(segs, "leaf"))
		}
		for _, iss := range []string{"", as.Issuer, "https://other.example"} {
			id := &tokens.Identity{Subject: as.Subject, Issuer: iss, Org: as.Org}
			for _, res := range resources {
				for _, opts := range []policy.Options{{}, {IssuerQualified: true}} {
					r1, p1 := policy.Grants(a, opts, id, as.Org, res)
					r2, p2 := policy.Grants(b, opts, id, as.Org, res)
					if !reflect.DeepEqual(r1, r2) || !reflect.DeepEqual(p1, p2) {
						t.Fatalf("%+v at %v: file grants %v %v, document %v %v", id, res, r1, p1, r2, p2)
					}
				}
			}
		}
	}
}

func TestTheDocumentIsSortedAndLeavesOutTheControlPlane(t *testing.T) {
	s, _ := newStore(t)
	must[Assignment](t)(s.Bootstrap(ctx, "cli:root", "root", "https://id.example", "platform"))
	must[ImportResult](t)(s.Import(ctx, "cli:root", []byte(richPolicy)))
	must[Assignment](t)(s.CreateAssignment(ctx, actor, Assignment{Subject: "gw", Org: "acme", Role: RoleGateway}))
	got, _, err := s.Document(ctx, DocumentOptions{})
	ok(t, err)
	want := `{"permissions":["billing:read","topics:moderate","topics:read","topics:write"],` +
		`"roles":{"moderator":["topics:moderate","topics:read"],"nobody":[],"reader":["topics:read"],"writer":["topics:read","topics:write"]},` +
		`"assignments":[{"subject":"alice","org":"acme","role":"writer","scope":["/topics/houseplants"]},` +
		`{"subject":"alice","issuer":"https://id.example","org":"acme","role":"moderator","scope":["/topics/*/posts","/topics/cacti"]},` +
		`{"subject":"svc-ci","org":"acme","role":"writer"},` +
		`{"subject":"bob","org":"globex","role":"reader"}]}`
	if string(got) != want {
		t.Fatalf("document\n%s\nwant\n%s", got, want)
	}
	bare, _, err := s.Document(ctx, DocumentOptions{NoAssignments: true})
	ok(t, err)
	if !strings.HasSuffix(string(bare), `"assignments":[]}`) || !strings.HasPrefix(string(bare), want[:strings.Index(want, `"assignments"`)]) {
		t.Fatalf("without assignments: %s", bare)
	}
	sys, _, err := s.Document(ctx, DocumentOptions{System: true})
	ok(t, err)
	if _, err := policy.Parse(sys); err != nil {
		t.Fatal(err)
	}
	var d doc
	ok(t, json.Unmarshal(sys, &d))
	var system []string
	for _, p := range must[[]Permission](t)(s.ListPermissions(ctx)) {
		if strings.HasPrefix(p.Name, SystemPermissionPrefix) {
			system = append(system, p.Name)
		}
	}
	if !reflect.DeepEqual(d.Permissions, system) || len(d.Roles) != 4 || len(d.Assignments) != 2 {
		t.Fatalf("system document: %s", sys)
	}
	for _, p := range d.Permissions {
		if !strings.HasPrefix(p, SystemPermissionPrefix) {
			t.Fatalf("system document holds %q", p)
		}
	}
	if d.Assignments[0].Role != RoleGateway || d.Assignments[1].Role != RolePlatformAdmin || d.Assignments[1].Org != "platform" {
		t.Fatalf("system assignments %+v", d.Assignments)
	}
	if !reflect.DeepEqual(d.Roles[RolePlatformAdmin], d.Permissions) {
		t.Fatalf("the platform admin lacks some permission: %v", d.Roles[RolePlatformAdmin])
	}
}

func TestImportRefusesWhatTheGatewayWouldRefuseAndChangesNothing(t *testing.T) {
	s, dsn := newStore(t)
	must[ImportResult](t)(s.Import(ctx, "cli:root", []byte(richPolicy)))
	before, rev, err := s.Document(ctx, DocumentOptions{})
	ok(t, err)
	cases := []struct{ name, doc, field, detail string }{
		{"malformed YAML", "permissions: [a", "document", "malformed YAML"},
		{"malformed JSON", `{"permissions": ["a"`, "document", "malformed"},
		{"an unknown key", "permisions: [a]", "document", "permisions"},
		{"a wildcard permission", "permissions: ['a:*']", "document", "wildcard"},
		{"a role inside a role", "permissions: [a]\nroles: {r: [a], s: [r]}", "document", "roles cannot contain roles"},
		{"an unknown role", "permissions: [a]\nroles: {r: [a]}\nassignments: [{subject: x, org: o, role: q}]", "document", `unknown role "q"`},
		{"a bad scope", "permissions: [a]\nroles: {r: [a]}\nassignments: [{subject: x, org: o, role: r, scope: x}]", "document", "must be a path"},
		{"a padded subject", "permissions: [a]\nroles: {r: [a]}\nassignments: [{subject: ' x', org: o, role: r}]", "document", "not a valid value"},
		{"a control-plane permission", "permissions: ['gatehouse:x']", "permissions[0]", "reserved"},
		{"a control-plane role", "permissions: [a]\nroles: {gatehouse-x: [a]}", "roles.gatehouse-x", "reserved"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Import(ctx, "cli:root", []byte(c.doc))
			wantError(t, err, 422, c.field, c.detail)
			after, now, err := s.Document(ctx, DocumentOptions{})
			ok(t, err)
			if now != rev || string(after) != string(before) {
				t.Fatal("a refused import changed the store")
			}
		})
	}
	_ = dsn
}

func TestImportReplacesTheContentAndLogsEachChange(t *testing.T) {
	s, _ := newStore(t)
	must[ImportResult](t)(s.Import(ctx, "cli:root", []byte(richPolicy)))
	start := must[int64](t)(s.Revision(ctx))
	next := `
permissions: [topics:read, topics:write, wiki:edit]
roles:
  reader: [topics:read]
  writer: [topics:write, wiki:edit]
assignments:
  - {subject: alice, org: acme, role: writer, scope: /topics/houseplants}
  - {subject: carol, org: acme, role: reader}
`
	res := must[ImportResult](t)(s.Import(ctx, "cli:bob", []byte(next)))
	// created: wiki:edit, subject carol, carol's assignment; updated: writer; deleted: 4 assignments
	// (alice's moderator, bob's reader, svc-ci's writer), roles moderator and nobody, permissions topics:moderate and billing:read
	if res.Created != 3 || res.Updated != 1 || res.Deleted != 7 {
		t.Fatalf("%+v", res)
	}
	log := must[[]Change](t)(s.Changes(ctx, ChangeFilter{After: start}))
	if int64(len(log)) != res.Revision-start || len(log) != 11 {
		t.Fatalf("%d entries for %+v", len(log), res)
	}
	for _, c := range log {
		if c.Actor != "cli:bob" {
			t.Fatalf("entry by %q", c.Actor)
		}
	}
	_, _, got := normalized(t, mustDoc(t, s))
	_, _, want := normalized(t, []byte(next))
	if len(got) != len(want) {
		t.Fatalf("assignments %+v", got)
	}
	if _, err := s.GetSubject(ctx, "bob", ""); err != nil {
		t.Fatal("import deleted a subject")
	}
}

func mustDoc(t *testing.T, s *Store) []byte {
	b, _, err := s.Document(ctx, DocumentOptions{})
	ok(t, err)
	return b
}

func TestSubjectAssignmentsNameTheIssuerOrNone(t *testing.T) {
	s, _ := newStore(t)
	must[ImportResult](t)(s.Import(ctx, "cli:root", []byte(richPolicy)))
	must[Assignment](t)(s.CreateAssignment(ctx, actor, Assignment{Subject: "alice", Issuer: "https://other.example", Org: "acme", Role: "reader"}))
	must[Assignment](t)(s.CreateAssignment(ctx, actor, Assignment{Subject: "alice", Org: "acme", Role: RoleAuditor}))
	cases := []struct {
		issuer string
		roles  string
	}{
		{"", "writer"},
		{"https://id.example", "writer,moderator"},
		{"https://other.example", "writer,reader"},
		{"https://unknown.example", "writer"},
	}
	for _, c := range cases {
		t.Run("issuer "+c.issuer, func(t *testing.T) {
			list, rev, err := s.SubjectAssignments(ctx, "alice", c.issuer)
			ok(t, err)
			var roles []string
			for _, a := range list {
				roles = append(roles, a.Role)
			}
			if strings.Join(roles, ",") != c.roles || rev != must[int64](t)(s.Revision(ctx)) {
				t.Fatalf("roles %v rev %d", roles, rev)
			}
		})
	}
	list, _, err := s.SubjectAssignments(ctx, "nobody", "")
	if err != nil || list == nil || len(list) != 0 {
		t.Fatalf("an unknown subject: %v %v", list, err)
	}
}

func TestCanAndWhoCanAnswerAsTheEngine(t *testing.T) {
	s, _ := newStore(t)
	must[ImportResult](t)(s.Import(ctx, "cli:root", []byte(richPolicy)))
	cases := []struct {
		name, subject, issuer, org, resource string
		perms                                string
	}{
		{"inside the scope", "alice", "", "acme", "/topics/houseplants/p1", "topics:read,topics:write"},
		{"outside the scope", "alice", "", "acme", "/topics/cacti", ""},
		{"the issuer's scoped role", "alice", "https://id.example", "acme", "/topics/cacti", "topics:moderate,topics:read"},
		{"a star segment", "alice", "https://id.example", "acme", "/topics/ferns/posts/9", "topics:moderate,topics:read"},
		{"another issuer", "alice", "https://other.example", "acme", "/topics/cacti", ""},
		{"the whole org", "svc-ci", "", "acme", "/", "topics:read,topics:write"},
		{"another org", "svc-ci", "", "globex", "/", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			acc := must[Access](t)(s.Can(ctx, c.subject, c.issuer, c.org, c.resource))
			if strings.Join(acc.Permissions, ",") != c.perms {
				t.Fatalf("permissions %v, want %s", acc.Permissions, c.perms)
			}
			allowed := []string{}
			for _, ch := range acc.Checks {
				if ch.Allow {
					allowed = append(allowed, ch.Permission)
				}
				if ch.Reason == "" {
					t.Fatalf("no reason for %s", ch.Permission)
				}
			}
			if strings.Join(allowed, ",") != c.perms {
				t.Fatalf("checks allow %v, grants %v", allowed, acc.Permissions)
			}
		})
	}
	holders := must[[]Holder](t)(s.WhoCan(ctx, "topics:write", "acme"))
	var got []string
	for _, h := range holders {
		got = append(got, h.Subject+"/"+h.Role+"/"+strings.Join(h.Scopes, ","))
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "alice/writer//topics/houseplants svc-ci/writer/" {
		t.Fatalf("who can write: %v", got)
	}
	if h := must[[]Holder](t)(s.WhoCan(ctx, "billing:read", "acme")); len(h) != 0 {
		t.Fatalf("nobody holds billing:read, got %+v", h)
	}
}
