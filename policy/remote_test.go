package policy

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/tokens"
)

// The same documents, as YAML for Parse and as JSON for ParseJSON.
var parseJSONCases = []struct {
	name string
	doc  map[string]interface{}
}{
	{"an empty document", map[string]interface{}{}},
	{"permissions, roles and scoped, issuer-qualified assignments", map[string]interface{}{
		"permissions": []interface{}{"posts:read", "posts:delete"},
		"roles":       map[string]interface{}{"user": []interface{}{"posts:read"}, "moderator": []interface{}{"posts:read", "posts:delete"}},
		"assignments": []interface{}{
			map[string]interface{}{"subject": "user5", "org": "forum", "role": "moderator", "scope": []interface{}{"/topics/houseplants", "/topics/*/posts"}},
			map[string]interface{}{"subject": "user7", "issuer": "https://issuer.test", "org": "forum", "role": "user", "scope": "/topics/a"},
			map[string]interface{}{"subject": "user7", "org": "other", "role": "user"},
		}}},
	{"a wildcard permission", map[string]interface{}{"permissions": []interface{}{"posts:*"}}},
	{"a role containing a role", map[string]interface{}{"permissions": []interface{}{"a"}, "roles": map[string]interface{}{"viewer": []interface{}{"a"}, "admin": []interface{}{"viewer"}}}},
	{"an unknown role in an assignment", map[string]interface{}{"permissions": []interface{}{"a"}, "roles": map[string]interface{}{"viewer": []interface{}{"a"}},
		"assignments": []interface{}{map[string]interface{}{"subject": "s", "org": "o", "role": "ghost"}}}},
	{"a scope that is not below /", map[string]interface{}{"permissions": []interface{}{"a"}, "roles": map[string]interface{}{"viewer": []interface{}{"a"}},
		"assignments": []interface{}{map[string]interface{}{"subject": "s", "org": "o", "role": "viewer", "scope": "topics"}}}},
	{"an empty scope list", map[string]interface{}{"permissions": []interface{}{"a"}, "roles": map[string]interface{}{"viewer": []interface{}{"a"}},
		"assignments": []interface{}{map[string]interface{}{"subject": "s", "org": "o", "role": "viewer", "scope": []interface{}{}}}}},
	{"an empty issuer", map[string]interface{}{"permissions": []interface{}{"a"}, "roles": map[string]interface{}{"viewer": []interface{}{"a"}},
		"assignments": []interface{}{map[string]interface{}{"subject": "s", "issuer": "", "org": "o", "role": "viewer"}}}},
	{"a missing org", map[string]interface{}{"permissions": []interface{}{"a"}, "roles": map[string]interface{}{"viewer": []interface{}{"a"}},
		"assignments": []interface{}{map[string]interface{}{"subject": "s", "role": "viewer"}}}},
	{"a padded subject", map[string]interface{}{"permissions": []interface{}{"a"}, "roles": map[string]interface{}{"viewer": []interface{}{"a"}},
		"assignments": []interface{}{map[string]interface{}{"subject": " s", "org": "o", "role": "viewer"}}}},
	{"a duplicate permission", map[string]interface{}{"permissions": []interface{}{"a", "a"}}},
	{"an unknown key", map[string]interface{}{"permissions": []interface{}{"a"}, "groups": []interface{}{}}},
	{"an unknown assignment key", map[string]interface{}{"permissions": []interface{}{"a"}, "roles": map[string]interface{}{"viewer": []interface{}{"a"}},
		"assignments": []interface{}{map[string]interface{}{"subject": "s", "org": "o", "role": "viewer", "scopes": "/a"}}}},
}

func TestParseJSONAgreesWithParse(t *testing.T) {
	for _, c := range parseJSONCases {
		t.Run(c.name, func(t *testing.T) {
			data, err := json.Marshal(c.doc)
			if err != nil {
				t.Fatal(err)
			}
			fromYAML, errYAML := Parse(data) // JSON is YAML: Parse reads the very same bytes
			fromJSON, errJSON := ParseJSON(data)
			if (errYAML == nil) != (errJSON == nil) {
				t.Fatalf("Parse: %v\nParseJSON: %v", errYAML, errJSON)
			}
			if errYAML != nil {
				// Same location for every rule; the key checks are worded by each decoder.
				loc := func(e error) string { s := e.Error(); return s[:strings.IndexByte(s+":", ':')] }
				if loc(errYAML) != loc(errJSON) {
					t.Fatalf("Parse: %v\nParseJSON: %v", errYAML, errJSON)
				}
				if !strings.Contains(c.name, "unknown") && errYAML.Error() != errJSON.Error() {
					t.Fatalf("messages differ:\nParse: %v\nParseJSON: %v", errYAML, errJSON)
				}
				return
			}
			if !reflect.DeepEqual(fromYAML, fromJSON) {
				t.Fatalf("different policies:\nParse: %#v\nParseJSON: %#v", fromYAML, fromJSON)
			}
		})
	}
}

func TestParseJSONRefusesWhatIsNotOneDocumentOfTheSchema(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"a number where a subject string belongs", `{"permissions":["a"],"roles":{"v":["a"]},"assignments":[{"subject":5,"org":"o","role":"v"}]}`, "assignments[0].subject: must be a string"},
		{"a permission that is not a string", `{"permissions":[true]}`, "permissions[0]: must be a string"},
		{"roles that are a list", `{"roles":["a"]}`, "roles: must be an object"},
		{"an assignment that is a string", `{"assignments":["alice"]}`, "assignments[0]: must be an object"},
		{"a second document after the first", `{} {}`, "data after the document"},
		{"a truncated document", `{"permissions":["a"]`, "malformed JSON"},
		{"null", `null`, "must be a JSON object"},
		{"a list", `[]`, "malformed JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseJSON([]byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

const lookupBase = `{"permissions":["posts:read","posts:delete"],"roles":{"user":["posts:read"],"moderator":["posts:read","posts:delete"]},
"assignments":[{"subject":"alice","org":"forum","role":"user"},{"subject":"bob","org":"forum","role":"moderator"}]}`

func TestWithSubjectAssignments(t *testing.T) {
	base, err := ParseJSON([]byte(lookupBase))
	if err != nil {
		t.Fatal(err)
	}
	const iss = "https://issuer.test"
	answer := func(subject, issuer string, assignments string) []byte {
		s := `{"subject":"` + subject + `"`
		if issuer != "" {
			s += `,"issuer":"` + issuer + `"`
		}
		return []byte(s + `,"rev":3,"assignments":[` + assignments + `]}`)
	}
	t.Run("adds the subject's assignments to the base's and leaves the base alone", func(t *testing.T) {
		p, err := WithSubjectAssignments(base, "alice", iss, answer("alice", iss, `{"subject":"alice","issuer":"`+iss+`","org":"forum","role":"moderator","scope":["/topics/a"]},{"subject":"alice","org":"acme","role":"user"}`))
		if err != nil {
			t.Fatal(err)
		}
		got := p.grants["alice\x00forum"]
		if len(got) != 2 || got[0].role != "user" || got[1].role != "moderator" || got[1].issuer != iss || len(got[1].scopes) != 1 {
			t.Fatalf("grants %#v", got)
		}
		if len(base.grants["alice\x00forum"]) != 1 {
			t.Fatalf("the base changed: %#v", base.grants["alice\x00forum"])
		}
		if acme := p.grants["alice\x00acme"]; len(acme) != 1 || acme[0].issuer != "" {
			t.Fatalf("an assignment naming no issuer stays unqualified: %#v", acme)
		}
		if p.grants["bob\x00forum"] != nil {
			t.Fatalf("another subject's grants were copied")
		}
	})
	t.Run("an empty answer keeps the base's assignments only", func(t *testing.T) {
		p, err := WithSubjectAssignments(base, "alice", "", answer("alice", "", ``))
		if err != nil || len(p.grants["alice\x00forum"]) != 1 {
			t.Fatalf("%v %#v", err, p)
		}
	})
	refused := []struct {
		name, subject, issuer string
		doc                   []byte
		want                  string
	}{
		{"an answer for another subject", "alice", iss, answer("mallory", iss, ``), `for subject "mallory"`},
		{"an answer for another issuer", "alice", iss, answer("alice", "https://other.test", ``), `for issuer "https://other.test"`},
		{"an answer naming an issuer the request did not", "alice", "", answer("alice", iss, ``), "the request named none"},
		{"an assignment of another subject", "alice", iss, answer("alice", iss, `{"subject":"bob","org":"forum","role":"moderator"}`), "not the requested subject"},
		{"an assignment of another issuer", "alice", iss, answer("alice", iss, `{"subject":"alice","issuer":"https://other.test","org":"forum","role":"moderator"}`), "not the requested issuer"},
		{"an unknown role", "alice", iss, answer("alice", iss, `{"subject":"alice","org":"forum","role":"ghost"}`), `unknown role "ghost"`},
		{"a bad scope", "alice", iss, answer("alice", iss, `{"subject":"alice","org":"forum","role":"user","scope":"/a/../b"}`), "bad segment"},
		{"an unknown member", "alice", iss, []byte(`{"subject":"alice","issuer":"` + iss + `","assignments":[],"grants":[]}`), `"grants": unknown key`},
		{"no assignments list", "alice", iss, []byte(`{"subject":"alice","issuer":"` + iss + `"}`), "no assignments list"},
	}
	for _, c := range refused {
		t.Run("refuses "+c.name, func(t *testing.T) {
			_, err := WithSubjectAssignments(base, c.subject, c.issuer, c.doc)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

// signedBundle signs doc as the control plane does (docs/control-plane.md).
func signedBundle(t *testing.T, priv ed25519.PrivateKey, kid, typ string, rev int, doc string) string {
	t.Helper()
	h, _ := json.Marshal(map[string]interface{}{"alg": "EdDSA", "kid": kid, "typ": typ, "rev": rev})
	enc := base64.RawURLEncoding
	input := enc.EncodeToString(h) + "." + enc.EncodeToString([]byte(doc))
	return input + "." + enc.EncodeToString(ed25519.Sign(priv, []byte(input)))
}

func TestRemoteBundle(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	keys, err := tokens.ParsePEMKeys(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	if err != nil {
		t.Fatal(err)
	}
	kid := tokens.Thumbprint(keys[0])
	var body atomic.Value
	var contentType atomic.Value
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		b := body.Load().(string)
		sum := sha256.Sum256([]byte(b))
		etag := `"` + hex.EncodeToString(sum[:]) + `"`
		if r.Header.Get("If-None-Match") == etag {
			w.Header().Set("ETag", etag)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", contentType.Load().(string))
		w.Write([]byte(b))
	}))
	defer srv.Close()
	serveDoc := func(ct, b string) { contentType.Store(ct); body.Store(b) }
	serveDoc("application/jose", signedBundle(t, priv, kid, BundleType, 5, `{"permissions":["a"]}`))
	r := SharedRemote(srv.URL, keys, "test-key", "", 0)
	defer r.Release()
	first := r.Current(time.Now())
	if first == nil || !first.HasPermission("a") {
		t.Fatalf("first bundle: %#v", first)
	}
	steps := []struct {
		name      string
		ct, body  string
		wantFresh bool // a new policy is in force after the step
	}{
		{"an unchanged bundle is not parsed again (304)", "application/jose", signedBundle(t, priv, kid, BundleType, 5, `{"permissions":["a"]}`), false},
		{"an unsigned bundle is refused when a key is configured", "application/json", `{"permissions":["b"]}`, false},
		{"a bundle signed with the assignments typ is refused", "application/jose", signedBundle(t, priv, kid, AssignmentsType, 6, `{"permissions":["b"]}`), false},
		{"a rolled-back rev is refused", "application/jose", signedBundle(t, priv, kid, BundleType, 4, `{"permissions":["b"]}`), false},
		{"a bundle policy rules refuse is refused", "application/jose", signedBundle(t, priv, kid, BundleType, 6, `{"permissions":["b*"]}`), false},
		{"a newer signed bundle is taken", "application/jose", signedBundle(t, priv, kid, BundleType, 6, `{"permissions":["b"]}`), true},
		{"the same rev with other content is taken", "application/jose", signedBundle(t, priv, kid, BundleType, 6, `{"permissions":["c"]}`), true},
	}
	prev := first
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			serveDoc(s.ct, s.body)
			got := r.Current(time.Now())
			if got == nil {
				t.Fatal("no bundle in force")
			}
			if (got != prev) != s.wantFresh {
				t.Fatalf("new policy in force: %v, want %v", got != prev, s.wantFresh)
			}
			prev = got
		})
	}
}

func TestFetchRefusesABodyOverTheLimitAndRedirects(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/big", http.StatusFound)
			return
		}
		w.Write([]byte(strings.Repeat("x", 101)))
	}))
	defer srv.Close()
	if _, err := fetchWithin(srv.URL+"/big", "bundle", "", "", false, time.Second, 100); err == nil || !strings.Contains(err.Error(), "body larger than 100 bytes") {
		t.Errorf("a 101-byte body with a 100-byte limit: %v", err)
	}
	if res, err := fetchWithin(srv.URL+"/big", "bundle", "", "", false, time.Second, 101); err != nil || len(res.body) != 101 {
		t.Errorf("a 101-byte body with a 101-byte limit: %v", err)
	}
	if _, err := fetchWithin(srv.URL+"/moved", "bundle", "secret", "", false, time.Second, 1000); err == nil || !strings.Contains(err.Error(), "status 302") {
		t.Errorf("a redirect: %v", err)
	}
}
