package admin

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// TestBundleIsTheStoresDocumentWithAStrongETag: the bundle parses with policy.Parse, holds no
// control-plane entry, its ETag is the SHA-256 of its bytes, If-None-Match answers 304, and a
// change moves both the revision and the ETag.
func TestBundleIsTheStoresDocumentWithAStrongETag(t *testing.T) {
	e := newEnv(t)
	e.seed()
	gw := e.gateway()
	a := e.must(200, req{method: "GET", path: "/v1/bundle", token: gw})
	sum := sha256.Sum256(a.body)
	if a.header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` || a.header.Get("Content-Type") != "application/json" || a.header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("headers %v", a.header)
	}
	if _, err := policy.Parse(a.body); err != nil {
		t.Fatalf("the bundle does not parse: %v\n%s", err, a.body)
	}
	if strings.Contains(string(a.body), "gatehouse") {
		t.Fatalf("the bundle holds control-plane entries: %s", a.body)
	}
	rev := a.header.Get("Gatehouse-Revision")
	if want := itoa(revisionOf(t, e)); rev != want {
		t.Fatalf("Gatehouse-Revision %s, want %s", rev, want)
	}
	nm := e.must(304, req{method: "GET", path: "/v1/bundle", token: gw, header: map[string]string{"If-None-Match": a.header.Get("ETag")}})
	if len(nm.body) != 0 || nm.header.Get("ETag") != a.header.Get("ETag") || nm.header.Get("Gatehouse-Revision") != rev {
		t.Fatalf("304: %v %q", nm.header, nm.body)
	}
	if e.srv.metrics.BundleBuilds("full") != 1 {
		t.Fatalf("an unchanged revision rebuilt the bundle: %d builds", e.srv.metrics.BundleBuilds("full"))
	}
	e.assign("dave", "acme", "viewer")
	b := e.must(200, req{method: "GET", path: "/v1/bundle", token: gw, header: map[string]string{"If-None-Match": a.header.Get("ETag")}})
	if b.header.Get("ETag") == a.header.Get("ETag") || b.header.Get("Gatehouse-Revision") <= rev || !strings.Contains(string(b.body), `"dave"`) {
		t.Fatalf("after a change: %v %s", b.header, b.body)
	}
	none := e.must(200, req{method: "GET", path: "/v1/bundle?assignments=none", token: gw})
	if !strings.Contains(string(none.body), `"assignments":[]`) || !strings.Contains(string(none.body), `"viewer"`) {
		t.Fatalf("?assignments=none: %s", none.body)
	}
}

// TestReplicasServeTheSameBytes: two servers over one database answer the same bundle and ETag,
// and a change made through one is served by the other on its next request.
func TestReplicasServeTheSameBytes(t *testing.T) {
	key := ed25519Key(t)
	e := newEnv(t, withKey(key))
	e.seed()
	f := newEnvOn(t, e.dsn, withKey(key))
	gw := e.gateway()
	a := e.must(200, req{method: "GET", path: "/v1/bundle", token: gw})
	b := f.must(200, req{method: "GET", path: "/v1/bundle", token: gw})
	if string(a.body) != string(b.body) || a.header.Get("ETag") != b.header.Get("ETag") {
		t.Fatalf("replicas differ:\n%s\n%s", a.body, b.body)
	}
	e.must(201, req{method: "POST", path: "/v1/orgs/acme/assignments", token: tok(t, root, adminOrgID), body: `{"subject":"dave","role":"viewer"}`})
	c := f.must(200, req{method: "GET", path: "/v1/bundle", token: gw, header: map[string]string{"If-None-Match": a.header.Get("ETag")}})
	if c.header.Get("ETag") == a.header.Get("ETag") {
		t.Fatal("the other replica still serves the old bundle")
	}
}

// TestSignedBundlesVerifyWithThePluginsOwnCode: with a bundle key the body is a compact JWS that
// tokens.VerifyJWS accepts with the key bundle-key prints (PEM and JWKS), typ and rev in its
// header, the document as payload (the bytes the ETag hashes), and the same bytes on every call.
func TestSignedBundlesVerifyWithThePluginsOwnCode(t *testing.T) {
	for _, c := range []struct {
		name string
		key  *SigningKey
		alg  string
	}{{"Ed25519", ed25519Key(t), "EdDSA"}, {"P-256 (RFC 6979)", p256Key(t), "ES256"}} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, withKey(c.key))
			e.seed()
			gw := e.gateway()
			a := e.must(200, req{method: "GET", path: "/v1/bundle", token: gw})
			if a.header.Get("Content-Type") != "application/jose" {
				t.Fatalf("Content-Type %q", a.header.Get("Content-Type"))
			}
			for _, keyText := range []string{string(c.key.PublicPEM()), string(c.key.JWKS())} {
				keys, err := tokens.ParseVerificationKeys(keyText)
				if err != nil {
					t.Fatal(err)
				}
				header, payload, err := tokens.VerifyJWS(string(a.body), keys, TypBundle)
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				sum := sha256.Sum256(payload)
				if header["alg"] != c.alg || header["kid"] != tokens.Thumbprint(keys[0]) || fmtRev(header["rev"]) != a.header.Get("Gatehouse-Revision") ||
					a.header.Get("ETag") != `"`+hex.EncodeToString(sum[:])+`"` {
					t.Fatalf("header %v, ETag %s", header, a.header.Get("ETag"))
				}
				if _, err := policy.Parse(payload); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := tokens.VerifyJWS(string(a.body), mustKeys(t, ed25519Key(t)), TypBundle); err == nil {
				t.Fatal("another key verified the bundle")
			}
			// Deterministic: a second replica signs the same bytes.
			f := newEnvOn(t, e.dsn, withKey(c.key))
			if b := f.must(200, req{method: "GET", path: "/v1/bundle", token: gw}); string(b.body) != string(a.body) {
				t.Fatal("two replicas signed the same bundle differently")
			}
			s := e.must(200, req{method: "GET", path: "/v1/subjects/bob/assignments?issuer=" + testIssuer, token: gw})
			if _, payload, err := tokens.VerifyJWS(string(s.body), mustKeys(t, c.key), TypAssignments); err != nil || !strings.Contains(string(payload), `"bob"`) {
				t.Fatalf("per-subject answer: %v %s", err, payload)
			}
		})
	}
}

// TestPerSubjectAssignments: the answer of docs/control-plane.md, filtered by issuer, empty (200)
// for an unknown subject, served from memory while the revision stands and fresh after a change.
func TestPerSubjectAssignments(t *testing.T) {
	e := newEnv(t)
	e.seed()
	gw := e.gateway()
	type answer struct {
		Subject     string                   `json:"subject"`
		Issuer      string                   `json:"issuer"`
		Rev         int64                    `json:"rev"`
		Assignments []map[string]interface{} `json:"assignments"`
	}
	var ans answer
	a := e.must(200, req{method: "GET", path: "/v1/subjects/carol/assignments?issuer=" + testIssuer, token: gw})
	a.decode(t, &ans)
	if ans.Subject != "carol" || ans.Issuer != testIssuer || ans.Rev != revisionOf(t, e) || len(ans.Assignments) != 1 {
		t.Fatalf("answer %s", a.body)
	}
	if got, _ := json.Marshal(ans.Assignments[0]); string(got) != `{"issuer":"`+testIssuer+`","org":"acme","role":"viewer","scope":["/projects/p1"],"subject":"carol"}` {
		t.Fatalf("assignment %s", got)
	}
	ans = answer{}
	e.must(200, req{method: "GET", path: "/v1/subjects/carol/assignments", token: gw}).decode(t, &ans)
	if len(ans.Assignments) != 0 || ans.Issuer != "" {
		t.Fatalf("without issuer (carol's assignment names one): %+v", ans)
	}
	e.must(200, req{method: "GET", path: "/v1/subjects/nobody/assignments?issuer=" + testIssuer, token: gw}).decode(t, &ans)
	if ans.Subject != "nobody" || len(ans.Assignments) != 0 {
		t.Fatalf("unknown subject: %+v", ans)
	}
	again := e.must(200, req{method: "GET", path: "/v1/subjects/carol/assignments?issuer=" + testIssuer, token: gw})
	if string(again.body) != string(a.body) || e.srv.subjects.get(testIssuer+"\x00carol", revisionOf(t, e)) == nil {
		t.Fatal("the second answer was not the cached one")
	}
	e.assign("carol", "globex", "viewer")
	e.must(200, req{method: "GET", path: "/v1/subjects/carol/assignments?issuer=" + testIssuer, token: gw}).decode(t, &ans)
	if len(ans.Assignments) != 2 {
		t.Fatalf("after a change the cache still answered: %+v", ans)
	}
	e.must(403, req{method: "GET", path: "/v1/subjects/carol/assignments", token: tok(t, "carol", "acme")})
}

func ed25519Key(t testing.TB) *SigningKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pkcs8(t, priv)
}

func p256Key(t testing.TB) *SigningKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pkcs8(t, priv)
}

func pkcs8(t testing.TB, priv interface{}) *SigningKey {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseSigningKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustKeys(t testing.TB, k *SigningKey) []*tokens.Key {
	t.Helper()
	keys, err := tokens.ParseVerificationKeys(string(k.PublicPEM()))
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestSigningKeysRefused(t *testing.T) {
	rsaLike := "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(p384)
	for _, c := range []struct{ name, pem, want string }{
		{"not PEM", "hello", "no PEM block"},
		{"a public key", rsaLike, "PUBLIC KEY"},
		{"a P-384 key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "P-256"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseSigningKey([]byte(c.pem)); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

// fmtRev prints a header's rev as VerifyJWS decodes it (a json.Number).
func fmtRev(v interface{}) string {
	if n, ok := v.(json.Number); ok {
		return n.String()
	}
	return "not a number"
}
