package harness

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"hash"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/demo/loader"
)

const otherIssuer = "https://other-issuer.test"

// issuerPolicy grants svc-ci developer in acme, as an assignment of the first issuer only.
const issuerPolicy = `
permissions: [workflows:create, workflows:read, workflows:run, workflows:delete, workflows:share]
roles:
  developer: [workflows:create, workflows:read, workflows:run]
assignments:
  - subject: svc-ci
    issuer: https://issuer.test
    org: acme
    role: developer
`

// TestIdentityIsIssuerAware: with two trusted issuers, subjects are unique only within their issuer.
func TestIdentityIsIssuerAware(t *testing.T) {
	two := baseConfig("issuers", []string{issuer, otherIssuer}, "routes", workflowRoutes, "policy", issuerPolicy)
	create := func(iss string) func(t testing.TB) request {
		return withToken("svc-ci", "acme", nil, jwt.MapClaims{"iss": iss}, request{method: "POST", path: "/orgs/acme/workflows"})
	}
	cases := []tokenCase{
		{name: "svc-ci of the first issuer receives its assignment", config: two, want: 200, req: create(issuer),
			check: onlyDecidedIdentity(map[string]string{"X-Auth-Subject": "svc-ci", "X-Auth-Issuer": issuer, "X-Auth-Org": "acme",
				"X-Auth-Roles": "developer", "X-Auth-Permissions": "workflows:create,workflows:read,workflows:run"}, "")},
		{name: "svc-ci of the second issuer does not receive the first issuer's assignment", config: two, want: 403, req: create(otherIssuer)},
	}
	for _, l := range loaders(t) {
		for _, c := range cases {
			l, c := l, c
			t.Run(l.Name()+"/"+c.name, func(t *testing.T) {
				h, b := instance(t, l, c.config)
				rec := serve(h, c.req(t))
				if rec.Code != c.want {
					t.Fatalf("status %d, want %d", rec.Code, c.want)
				}
				if c.check != nil {
					c.check(t, rec, b)
				}
			})
		}
		l := l
		t.Run(l.Name()+"/the audit line names the issuer that vouched", func(t *testing.T) {
			h, _ := instance(t, l, two)
			lines := captureStderr(t, func() { serve(h, create(otherIssuer)(t)) })
			if len(lines) != 1 || !strings.Contains(lines[0], `"issuer":"`+otherIssuer+`"`) {
				t.Fatalf("audit lines %q", lines)
			}
		})
	}
}

// TestTrustConfigurationErrors: configurations that would weaken the trust boundary fail New.
func TestTrustConfigurationErrors(t *testing.T) {
	unqualified := strings.Replace(issuerPolicy, "    issuer: https://issuer.test\n", "", 1)
	short := secret[:32]
	cases := []struct {
		name   string
		config map[string]interface{}
		want   []string
	}{
		{"an assignment without issuer is refused when two issuers are trusted",
			baseConfig("issuers", []string{issuer, otherIssuer}, "routes", workflowRoutes, "policy", unqualified), []string{"assignments[0]", "names no issuer"}},
		{"an assignment naming an untrusted issuer is refused",
			baseConfig("routes", workflowRoutes, "policy", strings.Replace(issuerPolicy, "https://issuer.test", "https://isuer.test", 1)), []string{"https://isuer.test", "not among issuers"}},
		{"a JWKS without audiences is refused (RFC 8725 §3.9)", cfg("issuers", issuer, "jwksURL", "https://issuer.test/jwks"), []string{"audiences: required"}},
		{"OIDC discovery without audiences is refused", cfg("issuers", issuer), []string{"audiences: required"}},
		{"audiences and allowAnyAudience together are refused", cfg("issuers", issuer, "jwksURL", "https://issuer.test/jwks", "audiences", audience, "allowAnyAudience", "true"), []string{"not both"}},
		{"HS512 with a 32-byte secret is refused (RFC 7518 §3.2)", cfg("secret", short, "algorithms", "HS512"), []string{"algorithms[0]", "64 bytes"}},
		{"HS384 with a 32-byte secret is refused", cfg("secret", short, "algorithms", "HS256,HS384"), []string{"algorithms[1]", "48 bytes"}},
		{"a non-boolean forwardToken is refused", baseConfig("forwardToken", "nope"), []string{"forwardToken: want true or false"}},
		{"a negative cacheSize is refused", baseConfig("cacheSize", "-1"), []string{"cacheSize"}},
		{"a malformed cacheBytes is refused", baseConfig("cacheBytes", "lots"), []string{"cacheBytes"}},
		{"maxPathLength 0 is refused", baseConfig("maxPathLength", "0"), []string{"maxPathLength"}},
		{"an unknown overrides mode is refused", baseConfig("overrides", "ignore"), []string{"overrides"}},
		{"a tenant header under the identity prefix is refused", baseConfig("tenant", "header:X-Auth-Org-Id"), []string{"tenant", "headerPrefix"}},
	}
	for _, l := range loaders(t) {
		for _, c := range cases {
			l, c := l, c
			t.Run(l.Name()+"/"+c.name, func(t *testing.T) {
				_, err := l.New(context.Background(), &backend{}, c.config, "test")
				if err == nil {
					t.Fatal("New accepted the configuration")
				}
				for _, w := range c.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error lacks %q:\n%v", w, err)
					}
				}
			})
		}
		l := l
		t.Run(l.Name()+"/allowAnyAudience is an explicit, visible opt-out", func(t *testing.T) {
			var err error
			lines := captureStderr(t, func() {
				_, err = l.New(context.Background(), &backend{}, cfg("issuers", issuer, "jwksURL", "https://issuer.test/jwks", "allowAnyAudience", "true"), "any-aud")
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) == 0 || !strings.Contains(lines[0], "allowAnyAudience") {
				t.Errorf("no warning on stderr: %q", lines)
			}
		})
		t.Run(l.Name()+"/a 32-byte secret verifies HS256 and the default list leaves HS384 and HS512 out", func(t *testing.T) {
			h, _ := instance(t, l, cfg("secret", short))
			ok := mintWith(t, "HS256", []byte(short), claims("alice", "acme", nil, nil), nil)
			if rec := serve(h, bearer(ok)); rec.Code != 200 {
				t.Fatalf("HS256: status %d", rec.Code)
			}
			for _, alg := range []string{"HS384", "HS512"} {
				if rec := serve(h, bearer(mintWith(t, alg, []byte(short), claims("alice", "acme", nil, nil), nil))); rec.Code != 401 {
					t.Errorf("%s with a 32-byte key: status %d, want 401", alg, rec.Code)
				}
			}
		})
	}
}

// TestSettingsPrecedence: a middleware's own option wins over the settings file even when it equals
// the default, and the file fills what the middleware leaves unset. Both ways, with string labels.
func TestSettingsPrecedence(t *testing.T) {
	viewerDelete := withToken("dave", "acme", []string{"viewer"}, nil, request{method: "DELETE", path: "/orgs/acme/workflows/w1"})
	read := withToken("dave", "acme", []string{"viewer"}, nil, request{path: "/orgs/acme/workflows"})
	cases := []struct {
		option     string
		file       string // the settings file's value
		label      string // the label's value, equal to the default
		req        func(t testing.TB) request
		fileWant   int // status when only the file sets the option
		labelWant  int // status when the label sets it too
		fileCheck  func(t testing.TB, rec *httptest.ResponseRecorder, b *backend)
		labelCheck func(t testing.TB, rec *httptest.ResponseRecorder, b *backend)
	}{
		{option: "mode", file: "shadow", label: "enforce", req: viewerDelete, fileWant: 200, labelWant: 403},
		{option: "forwardToken", file: "false", label: "true", req: read, fileWant: 200, labelWant: 200,
			fileCheck:  func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) { wantHeader(t, b, "Authorization", false) },
			labelCheck: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) { wantHeader(t, b, "Authorization", true) }},
		{option: "headerPrefix", file: "X-User-", label: "X-Auth-", req: read, fileWant: 200, labelWant: 200,
			fileCheck:  func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) { wantHeader(t, b, "X-User-Subject", true) },
			labelCheck: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) { wantHeader(t, b, "X-Auth-Subject", true) }},
		{option: "unmatched", file: "authenticated", label: "deny", req: withToken("dave", "acme", nil, nil, request{path: "/orgs/acme/other"}), fileWant: 200, labelWant: 403},
		{option: "tenant", file: "none", label: "path:org", req: withToken("dave", "globex", []string{"viewer"}, nil, request{path: "/orgs/acme/workflows"}), fileWant: 200, labelWant: 403},
		{option: "trustTokenPermissions", file: "true", label: "false", req: withToken("dave", "acme", nil, jwt.MapClaims{"permissions": []string{"workflows:delete"}}, request{method: "DELETE", path: "/orgs/acme/workflows/w1"}), fileWant: 200, labelWant: 403},
		{option: "leeway", file: "0s", label: "30s", req: withToken("dave", "acme", []string{"viewer"}, jwt.MapClaims{"exp": nowUnix() - 10}, request{path: "/orgs/acme/workflows"}), fileWant: 401, labelWant: 200},
		{option: "maxPathLength", file: "10", label: "4096", req: read, fileWant: 414, labelWant: 200},
		{option: "overrides", file: "bogus", label: "refuse", req: read, fileWant: 0, labelWant: 200},
		{option: "realm", file: "files", label: "gatehouse", req: func(t testing.TB) request { return request{path: "/orgs/acme/workflows"} }, fileWant: 401, labelWant: 401,
			fileCheck: func(t testing.TB, rec *httptest.ResponseRecorder, _ *backend) {
				if !strings.Contains(rec.Header().Get("WWW-Authenticate"), `realm="files"`) {
					t.Errorf("challenge %q", rec.Header().Get("WWW-Authenticate"))
				}
			},
			labelCheck: func(t testing.TB, rec *httptest.ResponseRecorder, _ *backend) {
				if !strings.Contains(rec.Header().Get("WWW-Authenticate"), `realm="gatehouse"`) {
					t.Errorf("challenge %q", rec.Header().Get("WWW-Authenticate"))
				}
			}},
	}
	for _, l := range loaders(t) {
		for _, c := range cases {
			l, c := l, c
			dir := t.TempDir()
			file := filepath.Join(dir, "gatehouse.yaml")
			if err := os.WriteFile(file, []byte(c.option+": "+c.file+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, withLabel := range []bool{false, true} {
				withLabel := withLabel
				name := "the settings file's " + c.option + ": " + c.file + " applies when the label is unset"
				want, check := c.fileWant, c.fileCheck
				conf := workflowsConfig(t, "settingsFile", file)
				if withLabel {
					name = "a label " + c.option + "=" + c.label + " (the default) overrides the file's " + c.file
					want, check = c.labelWant, c.labelCheck
					conf[c.option] = c.label
				}
				t.Run(l.Name()+"/"+name, func(t *testing.T) {
					b := &backend{}
					h, err := l.New(context.Background(), b, conf, "test")
					if want == 0 {
						if err == nil {
							t.Fatal("New accepted the file's invalid value")
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					rec := serve(h, c.req(t))
					if rec.Code != want {
						t.Fatalf("status %d, want %d", rec.Code, want)
					}
					if check != nil {
						check(t, rec, b)
					}
				})
			}
		}
	}
}

func wantHeader(t testing.TB, b *backend, name string, present bool) {
	t.Helper()
	if got := b.header.Get(name) != ""; got != present {
		t.Errorf("backend header %s present = %v, want %v (headers %v)", name, got, present, b.header)
	}
}

// TestJOSEAsTheRFCsSay drives the plugin, compiled and interpreted, with tokens that conformant JOSE
// implementations must refuse.
func TestJOSEAsTheRFCsSay(t *testing.T) {
	r := keys()
	pss := func(alg string, h crypto.Hash, salt int) func(t testing.TB) request {
		return func(t testing.TB) request {
			return bearer(rawToken(`{"alg":"`+alg+`"}`, claimsJSON(t), func(s string) []byte {
				d := h.New()
				d.Write([]byte(s))
				sig, err := rsa.SignPSS(rand.Reader, r.rsa, h, d.Sum(nil), &rsa.PSSOptions{SaltLength: salt})
				if err != nil {
					t.Fatal(err)
				}
				return sig
			}))
		}
	}
	hs := func(alg string, newHash func() hash.Hash, key []byte) func(t testing.TB) request {
		return func(t testing.TB) request {
			return bearer(rawToken(`{"alg":"`+alg+`"}`, claimsJSON(t), func(s string) []byte {
				m := hmac.New(newHash, key)
				m.Write([]byte(s))
				return m.Sum(nil)
			}))
		}
	}
	long := []byte(strings.Repeat("k", 64))
	hsConfig := cfg("issuers", issuer, "audiences", audience, "secret", string(long))
	var cases []tokenCase
	for _, p := range []struct {
		alg  string
		hash crypto.Hash
	}{{"PS256", crypto.SHA256}, {"PS384", crypto.SHA384}, {"PS512", crypto.SHA512}} {
		size := p.hash.Size()
		cases = append(cases, tokenCase{name: p.alg + " with a salt as long as the hash verifies", want: 200, req: pss(p.alg, p.hash, size)})
		for _, salt := range []int{0, 1, size - 1, size + 1} {
			cases = append(cases, tokenCase{name: p.alg + " with a salt of " + itoa(salt) + " bytes is refused (RFC 7518 §3.5)", want: 401, req: pss(p.alg, p.hash, salt)})
		}
	}
	cases = append(cases,
		tokenCase{name: "HS512 with a 64-byte secret verifies", config: hsConfig, want: 200, req: hs("HS512", sha512.New, long)},
		tokenCase{name: "HS256 signed with a 31-byte key is refused", config: cfg("issuers", issuer, "audiences", audience, "secret", string(long[:32])), want: 401, req: hs("HS256", sha256.New, long[:31])},
		tokenCase{name: "a signature with non-zero trailing bits is malformed: one signature, one encoding", want: 401, challenge: "malformed",
			req: func(t testing.TB) request {
				tok := mint(t, "HS256", claims("alice", "acme", nil, nil), nil)
				return bearer(flipTrailingBits(tok))
			}},
		tokenCase{name: "the same token with canonical trailing bits verifies", want: 200,
			req: func(t testing.TB) request { return bearer(mint(t, "HS256", claims("alice", "acme", nil, nil), nil)) }},
	)
	for _, l := range loaders(t) {
		for _, c := range cases {
			l, c := l, c
			t.Run(l.Name()+"/"+c.name, func(t *testing.T) {
				conf := c.config
				if conf == nil {
					conf = baseConfig()
				}
				h, _ := instance(t, l, conf)
				rec := serve(h, c.req(t))
				if rec.Code != c.want {
					t.Fatalf("status %d, want %d (%s)", rec.Code, c.want, rec.Header().Get("WWW-Authenticate"))
				}
				if c.challenge != "" && !strings.Contains(rec.Header().Get("WWW-Authenticate"), c.challenge) {
					t.Errorf("WWW-Authenticate %q lacks %q", rec.Header().Get("WWW-Authenticate"), c.challenge)
				}
			})
		}
		l := l
		for _, alone := range []bool{false, true} {
			alone := alone
			name := "/a key whose use changes to enc on a refetch stops verifying"
			if alone {
				name += ", even when it was the only key"
			}
			t.Run(l.Name()+name, func(t *testing.T) {
				srv := newJWKS(t)
				k := newEC(t)
				srv.set(jwkOf("k1", k))
				h, _ := instance(t, l, jwksConfig(srv.URL, "cacheSize", "0"))
				tok := mintWith(t, "ES256", k, claims("alice", "acme", nil, nil), map[string]interface{}{"kid": "k1"})
				if rec := serve(h, bearer(tok)); rec.Code != 200 {
					t.Fatalf("before: status %d", rec.Code)
				}
				enc := jwkOf("k1", k)
				enc["use"] = "enc"
				if alone {
					srv.set(enc)
				} else {
					srv.set(enc, jwkOf("k3", newEC(t)))
				}
				// An unknown kid forces the refetch (after the 50 ms cooldown).
				waitCooldown()
				serve(h, bearer(mintWith(t, "ES256", newEC(t), claims("x", "acme", nil, nil), map[string]interface{}{"kid": "k2"})))
				if rec := serve(h, bearer(tok)); rec.Code != 401 {
					t.Fatalf("after use became enc: status %d, want 401", rec.Code)
				}
			})
		}
	}
}

func nowUnix() int64 { return time.Now().Unix() }

// waitCooldown outlasts jwksConfig's 50 ms jwksCooldown.
func waitCooldown() { time.Sleep(60 * time.Millisecond) }

func claimsJSON(t testing.TB) string {
	return `{"iss":"` + issuer + `","aud":"` + audience + `","sub":"alice","org_id":"acme","exp":` + itoa(int(nowUnix()+3600)) + `}`
}

// flipTrailingBits changes the last character of the signature to another one that decodes to the
// same bytes under a lenient decoder (only the unused low bits differ).
func flipTrailingBits(tok string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, tok[len(tok)-1])
	// An HS256 signature is 32 bytes: 43 characters, the last carrying 4 data bits and 2 unused ones.
	return tok[:len(tok)-1] + string(alphabet[last|1])
}

// TestROCAKeysAreNotTrusted: an RSA modulus with the ROCA fingerprint (CVE-2017-15361; the key in
// testdata/roca-public.pem is built with the structure of Infineon's flawed primes) is refused as a
// configured key and never verifies from a JWKS.
func TestROCAKeysAreNotTrusted(t *testing.T) {
	pemText, err := os.ReadFile(filepath.Join(loader.RepoRoot(), "testdata", "roca-public.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemText)
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	n := pub.(*rsa.PublicKey).N
	for _, l := range loaders(t) {
		l := l
		t.Run(l.Name()+"/a ROCA key in keys fails New", func(t *testing.T) {
			_, err := l.New(context.Background(), &backend{}, cfg("keys", string(pemText)), "test")
			if err == nil || !strings.Contains(err.Error(), "ROCA") {
				t.Fatalf("New: %v", err)
			}
		})
		t.Run(l.Name()+"/a ROCA key in a JWKS is skipped: its kid is unknown", func(t *testing.T) {
			srv := newJWKS(t)
			srv.set(map[string]string{"kty": "RSA", "kid": "roca", "use": "sig", "n": b64(n.Bytes()), "e": "AQAB"})
			h, _ := instance(t, l, jwksConfig(srv.URL))
			// Signed by nobody (the private key is unknown). The request fails either way; what
			// shows the key was skipped is the warning that the fetched set holds no usable key.
			tok := rawToken(`{"alg":"RS256","kid":"roca"}`, claimsJSON(t), func(string) []byte { return make([]byte, 256) })
			var rec *httptest.ResponseRecorder
			lines := captureStderr(t, func() { rec = serve(h, bearer(tok)) })
			if rec.Code != 401 {
				t.Fatalf("status %d, want 401", rec.Code)
			}
			if !strings.Contains(strings.Join(lines, "\n"), "no usable signature key") {
				t.Errorf("the ROCA key was taken from the JWKS: stderr %q", lines)
			}
		})
	}
}
