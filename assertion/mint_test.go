package assertion

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var decided = Claims{
	Subject:    "alice",
	Vouched:    "https://issuer.example.com",
	Org:        "acme",
	Roles:      []string{"admin", "developer"},
	Permission: "workflows:create",
	Route:      "POST /orgs/{org}/workflows",
	Method:     "POST",
	Path:       "/orgs/acme/workflows",
}

func TestMintedAssertionsVerifyWithGolangJWT(t *testing.T) {
	for _, tc := range []struct{ name, key, alg string }{
		{"an ES256 assertion verifies against the published key and carries the decision", testdata("ec-p256-sec1.pem"), "ES256"},
		{"an EdDSA assertion verifies against the published key and carries the decision", testdata("ed25519-pkcs8.pem"), "EdDSA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := settings(t, tc.key)
			sg := mustSigner(t, s, t0)
			tok, exp := sg.Mint(decided, t0)
			claims, err := verify(t, tok, sg.JWKS(t0), s.Issuer, s.Audience, t0.Add(time.Second))
			if err != nil {
				t.Fatalf("does not verify: %v", err)
			}
			want := map[string]interface{}{
				"iss": s.Issuer, "aud": s.Audience, "sub": "alice", "idp": "https://issuer.example.com",
				"org": "acme", "permission": "workflows:create", "route": "POST /orgs/{org}/workflows",
				"method": "POST", "path": "/orgs/acme/workflows",
				"iat": float64(t0.Unix()), "exp": float64(t0.Unix() + 60),
			}
			for k, v := range want {
				if claims[k] != v {
					t.Errorf("%s = %v, want %v", k, claims[k], v)
				}
			}
			if roles, _ := claims["roles"].([]interface{}); len(roles) != 2 || roles[0] != "admin" || roles[1] != "developer" {
				t.Errorf("roles = %v", claims["roles"])
			}
			if len(claims) != len(want)+2 { // roles and jti
				t.Errorf("unexpected claims: %v", claims)
			}
			if exp != t0.Unix()+60 {
				t.Errorf("Mint returned exp %d", exp)
			}
			header := decodeSegment(t, tok, 0)
			if header["alg"] != tc.alg || header["kid"] != sg.KeyID() || header["typ"] != Typ || len(header) != 3 {
				t.Errorf("header %v", header)
			}
			if sig := decodeB64(t, tok[strings.LastIndexByte(tok, '.')+1:]); len(sig) != 64 {
				t.Errorf("signature of %d bytes, want 64 (R||S, RFC 7518 §3.4; Ed25519, RFC 8032)", len(sig))
			}
		})
	}
}

func TestMintedAssertionsAreRefusedOutsideTheirTerms(t *testing.T) {
	s := settings(t, testdata("ec-p256-pkcs8.pem"))
	sg := mustSigner(t, s, t0)
	tok, _ := sg.Mint(decided, t0)
	other := mustSigner(t, settings(t, newECPEM(t)), t0)
	for _, tc := range []struct {
		name     string
		set      []byte
		iss, aud string
		at       time.Time
	}{
		{"an assertion is refused once exp is reached", sg.JWKS(t0), s.Issuer, s.Audience, t0.Add(61 * time.Second)},
		{"an assertion is refused before its iat", sg.JWKS(t0), s.Issuer, s.Audience, t0.Add(-time.Minute)},
		{"an assertion is refused by a backend expecting another audience", sg.JWKS(t0), s.Issuer, "billing-api", t0},
		{"an assertion is refused by a backend expecting another issuer", sg.JWKS(t0), "https://elsewhere.test", s.Audience, t0},
		{"an assertion is refused against another gateway's key with the same kid", renameKid(t, other.JWKS(t0), other.KeyID(), sg.KeyID()), s.Issuer, s.Audience, t0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := verify(t, tok, tc.set, tc.iss, tc.aud, tc.at); err == nil {
				t.Error("accepted")
			}
		})
	}
	t.Run("the same assertion verifies one second before exp", func(t *testing.T) {
		if _, err := verify(t, tok, sg.JWKS(t0), s.Issuer, s.Audience, t0.Add(59*time.Second)); err != nil {
			t.Error(err)
		}
	})
}

func renameKid(t *testing.T, set []byte, from, to string) []byte {
	out := strings.Replace(string(set), `"kid":"`+from+`"`, `"kid":"`+to+`"`, 1)
	if out == string(set) {
		t.Fatal("kid not found")
	}
	return []byte(out)
}

func TestMintClaims(t *testing.T) {
	sg := mustSigner(t, settings(t, newEdPEM(t)), t0)
	t.Run("empty subject, idp, org and roles are left out and the route facts kept", func(t *testing.T) {
		tok, _ := sg.Mint(Claims{Permission: "public", Route: "GET /healthz", Method: "GET", Path: "/healthz"}, t0)
		p := decodeSegment(t, tok, 1)
		for _, k := range []string{"sub", "idp", "org", "roles"} {
			if _, ok := p[k]; ok {
				t.Errorf("%s present: %v", k, p)
			}
		}
		if p["permission"] != "public" || p["route"] != "GET /healthz" || p["method"] != "GET" || p["path"] != "/healthz" {
			t.Errorf("claims %v", p)
		}
	})
	t.Run("quotes, backslashes, escapes and non-ASCII in claims read back exactly", func(t *testing.T) {
		odd := Claims{Subject: `a"b\c`, Org: "äcme <&>", Path: "/orgs/a%20b/%E2%9C%93\u2028", Route: "GET /orgs/{org}/x", Roles: []string{`r"1`}}
		tok, _ := sg.Mint(odd, t0)
		p := decodeSegment(t, tok, 1)
		if p["sub"] != odd.Subject || p["org"] != odd.Org || p["path"] != odd.Path {
			t.Errorf("claims %v", p)
		}
		if roles, _ := p["roles"].([]interface{}); len(roles) != 1 || roles[0] != `r"1` {
			t.Errorf("roles %v", p["roles"])
		}
	})
	t.Run("every assertion gets a fresh 16-byte jti", func(t *testing.T) {
		seen := map[string]bool{}
		for i := 0; i < 200; i++ {
			tok, _ := sg.Mint(decided, t0)
			jti, _ := decodeSegment(t, tok, 1)["jti"].(string)
			if len(decodeB64(t, jti)) != 16 {
				t.Fatalf("jti %q is not 16 bytes base64url", jti)
			}
			if seen[jti] {
				t.Fatalf("jti %q repeated after %d assertions", jti, i)
			}
			seen[jti] = true
		}
	})
	t.Run("exp is iat plus the lifetime at any clock", func(t *testing.T) {
		later := t0.Add(1234567 * time.Second)
		tok, exp := sg.Mint(decided, later)
		p := decodeSegment(t, tok, 1)
		if p["iat"] != float64(later.Unix()) || p["exp"] != float64(later.Unix()+60) || exp != later.Unix()+60 {
			t.Errorf("iat %v exp %v returned %d", p["iat"], p["exp"], exp)
		}
	})
}

func decodeSegment(t *testing.T, tok string, i int) map[string]interface{} {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%d segments", len(parts))
	}
	var m map[string]interface{}
	if err := json.Unmarshal(decodeB64(t, parts[i]), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestThumbprintMatchesRFC8037 checks the default kid against the Ed25519 example of RFC 8037
// Appendix A.1 and A.3.
func TestThumbprintMatchesRFC8037(t *testing.T) {
	seed := decodeB64(t, "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
	k := edKey(ed25519.NewKeyFromSeed(seed))
	if k.jwk["x"] != "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" {
		t.Errorf("x %q", k.jwk["x"])
	}
	if k.thumb != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Errorf("thumbprint %q", k.thumb)
	}
}

// TestThumbprintOfECKeys checks the default kid of an EC key against RFC 7638 §3 computed another
// way: the required members, marshalled with sorted keys and no white space, hashed with SHA-256.
func TestThumbprintOfECKeys(t *testing.T) {
	sg := mustSigner(t, settings(t, testdata("ec-p256-pkcs8.pem")), t0)
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(sg.JWKS(t0), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %v %v", set, err)
	}
	k := set.Keys[0]
	canonical, _ := json.Marshal(map[string]string{"crv": k["crv"], "kty": k["kty"], "x": k["x"], "y": k["y"]})
	sum := sha256.Sum256(canonical)
	if want := base64.RawURLEncoding.EncodeToString(sum[:]); k["kid"] != want {
		t.Errorf("kid %q, want the thumbprint %q", k["kid"], want)
	}
}
