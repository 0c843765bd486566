package harness

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var allAlgs = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

type tokenCase struct {
	name      string
	config    map[string]interface{} // nil: baseConfig()
	req       func(t testing.TB) request
	want      int
	challenge string // substring expected in WWW-Authenticate
	check     func(t testing.TB, rec *httptest.ResponseRecorder, b *backend)
}

func bearer(tok string) request { return request{path: "/anything", token: tok} }

func withClaims(extra jwt.MapClaims) func(t testing.TB) request {
	return func(t testing.TB) request {
		return bearer(mint(t, "ES256", claims("alice", "acme", []string{"admin"}, extra), nil))
	}
}

// tamper changes the payload of a signed token without re-signing it.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	parts[1] = b64([]byte(`{"sub":"mallory","org_id":"acme","exp":9999999999,"iss":"` + issuer + `","aud":"` + audience + `"}`))
	return strings.Join(parts, ".")
}

func tokenCases() []tokenCase {
	var cases []tokenCase
	for _, alg := range allAlgs {
		alg := alg
		cases = append(cases,
			tokenCase{name: alg + " token signed by a trusted key is accepted", want: 200,
				req: func(t testing.TB) request {
					return bearer(mint(t, alg, claims("alice", "acme", []string{"admin"}, nil), nil))
				},
				check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
					if got := b.header.Get("X-Auth-Subject"); got != "alice" {
						t.Errorf("backend saw X-Auth-Subject %q, want alice", got)
					}
				}},
			tokenCase{name: alg + " token with a tampered payload is rejected", want: 401, challenge: `error_description="signature"`,
				req: func(t testing.TB) request {
					return bearer(tamper(mint(t, alg, claims("alice", "acme", nil, nil), nil)))
				}},
		)
	}
	now := time.Now().Unix()
	cases = append(cases,
		tokenCase{name: "a request without a token gets a bare Bearer challenge", want: 401,
			req: func(t testing.TB) request { return request{path: "/x"} },
			check: func(t testing.TB, rec *httptest.ResponseRecorder, _ *backend) {
				if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="gatehouse"` {
					t.Errorf("WWW-Authenticate = %q, want the bare challenge of RFC 6750 §3.1", got)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("Content-Type = %q", ct)
				}
			}},
		tokenCase{name: "an expired token is rejected as expired", want: 401, challenge: `error_description="expired"`,
			req: withClaims(jwt.MapClaims{"exp": now - 3600})},
		tokenCase{name: "a token without exp is rejected", want: 401, challenge: "invalid_token",
			req: withClaims(jwt.MapClaims{"exp": nil})},
		tokenCase{name: "a token with a string exp is rejected", want: 401, challenge: "invalid_token",
			req: withClaims(jwt.MapClaims{"exp": "9999999999"})},
		tokenCase{name: "a token not valid before next hour is rejected", want: 401, challenge: `error_description="not yet valid"`,
			req: withClaims(jwt.MapClaims{"nbf": now + 3600})},
		tokenCase{name: "a token issued in the future is rejected", want: 401, challenge: `error_description="not yet valid"`,
			req: withClaims(jwt.MapClaims{"iat": now + 3600})},
		tokenCase{name: "a token expired 20s ago is accepted within the 30s leeway", want: 200,
			req: withClaims(jwt.MapClaims{"exp": now - 20})},
		tokenCase{name: "a token expired 40s ago is rejected beyond the 30s leeway", want: 401,
			req: withClaims(jwt.MapClaims{"exp": now - 40})},
		tokenCase{name: "a token valid from 20s ahead is accepted within the leeway", want: 200,
			req: withClaims(jwt.MapClaims{"nbf": now + 20})},
		tokenCase{name: "a token valid from 40s ahead is rejected beyond the leeway", want: 401,
			req: withClaims(jwt.MapClaims{"nbf": now + 40})},
		tokenCase{name: "leeway 0s rejects a token expired 5s ago", want: 401, config: baseConfig("leeway", "0s"),
			req: withClaims(jwt.MapClaims{"exp": now - 5})},
		tokenCase{name: "a token from an untrusted issuer is rejected", want: 401, challenge: `error_description="issuer"`,
			req: withClaims(jwt.MapClaims{"iss": "https://evil.test"})},
		tokenCase{name: "a token without iss is rejected when issuers are set", want: 401, challenge: `error_description="issuer"`,
			req: withClaims(jwt.MapClaims{"iss": nil})},
		tokenCase{name: "a token for another audience is rejected", want: 401, challenge: `error_description="audience"`,
			req: withClaims(jwt.MapClaims{"aud": "billing-api"})},
		tokenCase{name: "a token whose aud array contains ours is accepted", want: 200,
			req: withClaims(jwt.MapClaims{"aud": []string{"billing-api", audience}})},
		tokenCase{name: "a token with a non-string in its aud array is rejected", want: 401,
			req: withClaims(jwt.MapClaims{"aud": []interface{}{audience, 7}})},
		tokenCase{name: "an alg none token is rejected", want: 401, challenge: "invalid_token",
			req: func(t testing.TB) request {
				return bearer(rawToken(`{"alg":"none","typ":"JWT"}`, `{"sub":"alice","iss":"`+issuer+`","aud":"`+audience+`","exp":9999999999}`, nil))
			}},
		tokenCase{name: "an HS256 token keyed with the RSA public key PEM is rejected", want: 401, challenge: `error_description="signature"`,
			config: baseConfig("secret", ""),
			req: func(t testing.TB) request {
				return bearer(mintWith(t, "HS256", []byte(keys().pemByFa["RSA"]), claims("alice", "acme", nil, nil), nil))
			}},
		tokenCase{name: "an HS256 token is rejected when only RS256 is allowed", want: 401, config: baseConfig("algorithms", "RS256"),
			req: func(t testing.TB) request { return bearer(mint(t, "HS256", claims("alice", "acme", nil, nil), nil)) }},
		tokenCase{name: "a token with a crit header is rejected", want: 401,
			req: func(t testing.TB) request {
				return bearer(mint(t, "ES256", claims("alice", "acme", nil, nil), map[string]interface{}{"crit": []string{"exp"}}))
			}},
		tokenCase{name: "a jku header pointing elsewhere is never followed", want: 401,
			req: func(t testing.TB) request {
				other, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("alice", "acme", nil, nil)).SignedString([]byte("attacker-secret-0123456789abcdefgh"))
				parts := strings.Split(other, ".")
				hdr := b64([]byte(`{"alg":"HS256","jku":"https://evil.test/jwks"}`))
				return bearer(hdr + "." + parts[1] + "." + parts[2])
			}},
		tokenCase{name: "a token larger than 8 KiB is rejected before parsing", want: 401,
			req: withClaims(jwt.MapClaims{"pad": strings.Repeat("a", 9000)})},
		tokenCase{name: "a token that is not three segments is rejected as malformed", want: 401, challenge: `error_description="malformed"`,
			req: func(t testing.TB) request { return bearer("abc.def") }},
		tokenCase{name: "two Authorization headers are rejected", want: 401,
			req: func(t testing.TB) request {
				tok := mint(t, "ES256", claims("alice", "acme", nil, nil), nil)
				return request{path: "/x", headers: [][2]string{{"Authorization", "Bearer " + tok}, {"Authorization", "Bearer " + tok}}}
			}},
		tokenCase{name: "different tokens in the header and the cookie are rejected", want: 401,
			config: baseConfig("tokenSources", "header:Authorization,cookie:session"),
			req: func(t testing.TB) request {
				a := mint(t, "ES256", claims("alice", "acme", nil, nil), nil)
				b := mint(t, "ES256", claims("bob", "acme", nil, nil), nil)
				return request{path: "/x", token: a, headers: [][2]string{{"Cookie", "session=" + b}}}
			}},
		tokenCase{name: "the same token in the header and the cookie is accepted", want: 200,
			config: baseConfig("tokenSources", "header:Authorization,cookie:session"),
			req: func(t testing.TB) request {
				a := mint(t, "ES256", claims("alice", "acme", nil, nil), nil)
				return request{path: "/x", token: a, headers: [][2]string{{"Cookie", "other=1; session=" + a}}}
			}},
		tokenCase{name: "a token in a query parameter is accepted when configured", want: 200,
			config: baseConfig("tokenSources", "query:access_token"),
			req: func(t testing.TB) request {
				return request{path: "/x?access_token=" + mint(t, "ES256", claims("alice", "acme", nil, nil), nil)}
			}},
		tokenCase{name: "the Bearer scheme is case-insensitive", want: 200,
			req: func(t testing.TB) request {
				return request{path: "/x", headers: [][2]string{{"Authorization", "bEaReR " + mint(t, "ES256", claims("alice", "acme", nil, nil), nil)}}}
			}},
		tokenCase{name: "a Basic Authorization header counts as no token", want: 401,
			req: func(t testing.TB) request {
				return request{path: "/x", headers: [][2]string{{"Authorization", "Basic YWxpY2U6cHc="}}}
			},
			check: func(t testing.TB, rec *httptest.ResponseRecorder, _ *backend) {
				if strings.Contains(rec.Header().Get("WWW-Authenticate"), "error=") {
					t.Errorf("no-token challenge must carry no error code: %q", rec.Header().Get("WWW-Authenticate"))
				}
			}},
		tokenCase{name: "a spoofed X-Auth-Subject never reaches the backend", want: 200,
			req: func(t testing.TB) request {
				r := bearer(mint(t, "ES256", claims("alice", "acme", nil, nil), nil))
				r.headers = [][2]string{{"X-Auth-Subject", "root"}, {"X-Auth-Roles", "admin"}}
				return r
			},
			check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
				if got := b.header.Values("X-Auth-Subject"); len(got) != 1 || got[0] != "alice" {
					t.Errorf("backend saw X-Auth-Subject %q, want only alice", got)
				}
				if got := b.header.Values("X-Auth-Roles"); len(got) != 0 {
					t.Errorf("backend saw client roles %q", got)
				}
			}},
		tokenCase{name: "X_Auth_Subject, X.Auth.Subject and x-auth-org spellings are stripped", want: 200,
			req: func(t testing.TB) request {
				r := bearer(mint(t, "ES256", claims("alice", "acme", nil, nil), nil))
				r.headers = [][2]string{{"X_Auth_Subject", "root"}, {"X.Auth.Subject", "root"}, {"x-auth-org", "globex"}, {"X-AUTH_ROLES", "admin"}}
				return r
			},
			check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
				for name, v := range b.header {
					n := strings.NewReplacer("_", "-", ".", "-").Replace(strings.ToLower(name))
					if strings.HasPrefix(n, "x-auth-") && v[0] != "alice" && v[0] != "acme" && v[0] != "admin" && v[0] != issuer {
						t.Errorf("backend saw client-sent %s: %q", name, v)
					}
					if strings.HasPrefix(n, "x-auth-") && name != "X-Auth-Subject" && name != "X-Auth-Org" && name != "X-Auth-Roles" && name != "X-Auth-Issuer" {
						t.Errorf("backend saw non-canonical identity header %s", name)
					}
				}
			}},
		tokenCase{name: "identity headers are stripped on a denied request too", want: 401,
			req: func(t testing.TB) request {
				return request{path: "/x", headers: [][2]string{{"X-Auth-Subject", "root"}}}
			},
			check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
				if b.calls != 0 {
					t.Errorf("backend called %d times on a denial", b.calls)
				}
			}},
		tokenCase{name: "a subject with CR LF invalidates the token", want: 401,
			req: withClaims(jwt.MapClaims{"sub": "alice\r\nX-Auth-Roles: admin"})},
		tokenCase{name: "an org with a NUL byte invalidates the token", want: 401,
			req: withClaims(jwt.MapClaims{"org_id": "acme\x00"})},
		tokenCase{name: "a role containing a comma invalidates the token", want: 401,
			req: withClaims(jwt.MapClaims{"roles": []string{"viewer,admin"}})},
		tokenCase{name: "the problem body never echoes the token", want: 401,
			req: withClaims(jwt.MapClaims{"exp": now - 3600}),
			check: func(t testing.TB, rec *httptest.ResponseRecorder, _ *backend) {
				if strings.Contains(rec.Body.String(), "eyJ") {
					t.Errorf("body echoes a token: %s", rec.Body.String())
				}
			}},
		tokenCase{name: "requireTyp at+jwt accepts application/at+jwt", want: 200, config: baseConfig("requireTyp", "at+jwt"),
			req: func(t testing.TB) request {
				return bearer(mint(t, "ES256", claims("alice", "acme", nil, nil), map[string]interface{}{"typ": "application/at+JWT"}))
			}},
		tokenCase{name: "requireTyp at+jwt rejects a plain JWT", want: 401, config: baseConfig("requireTyp", "at+jwt"),
			req: func(t testing.TB) request { return bearer(mint(t, "ES256", claims("alice", "acme", nil, nil), nil)) }},
		tokenCase{name: "forwardToken false removes the Authorization header", want: 200, config: baseConfig("forwardToken", "false"),
			req: func(t testing.TB) request { return bearer(mint(t, "ES256", claims("alice", "acme", nil, nil), nil)) },
			check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
				if b.header.Get("Authorization") != "" {
					t.Error("token forwarded despite forwardToken: false")
				}
			}},
		tokenCase{name: "forwardToken false removes a query token and keeps other parameters", want: 200,
			config: baseConfig("forwardToken", "false", "tokenSources", "query:access_token"),
			req: func(t testing.TB) request {
				return request{path: "/x?a=1&access_token=" + mint(t, "ES256", claims("alice", "acme", nil, nil), nil)}
			},
			check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
				if b.url != "/x?a=1" {
					t.Errorf("backend URL %q, want /x?a=1", b.url)
				}
			}},
		tokenCase{name: "forwardToken false removes a query token and leaves the rest of the query byte for byte", want: 200,
			config: baseConfig("forwardToken", "false", "tokenSources", "query:access_token"),
			req: func(t testing.TB) request {
				return request{path: "/x?b=2&access_token=" + mint(t, "ES256", claims("alice", "acme", nil, nil), nil) + "&a=1&tags=x&tags=y"}
			},
			check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
				if b.url != "/x?b=2&a=1&tags=x&tags=y" {
					t.Errorf("backend URL %q, want /x?b=2&a=1&tags=x&tags=y", b.url)
				}
			}},
		tokenCase{name: "nested claims are read through dotted paths", want: 200,
			config: baseConfig("claims", map[string]interface{}{"roles": "realm_access.roles", "org": "tenant.id"}),
			req:    withClaims(jwt.MapClaims{"realm_access": map[string]interface{}{"roles": []string{"viewer"}}, "tenant": map[string]interface{}{"id": "acme"}}),
			check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
				if b.header.Get("X-Auth-Roles") != "viewer" || b.header.Get("X-Auth-Org") != "acme" {
					t.Errorf("roles %q org %q", b.header.Get("X-Auth-Roles"), b.header.Get("X-Auth-Org"))
				}
			}},
		tokenCase{name: "space-separated scope becomes sorted permissions", want: 200,
			config: baseConfig("trustTokenPermissions", "true"),
			req:    withClaims(jwt.MapClaims{"scope": "workflows:run workflows:read workflows:run"}),
			check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
				if got := b.header.Get("X-Auth-Permissions"); got != "workflows:read,workflows:run" {
					t.Errorf("X-Auth-Permissions %q", got)
				}
			}},
		tokenCase{name: "a custom header prefix forwards and strips under that prefix", want: 200,
			config: baseConfig("headerPrefix", "X-User-"),
			req: func(t testing.TB) request {
				r := bearer(mint(t, "ES256", claims("alice", "acme", nil, nil), nil))
				r.headers = [][2]string{{"X_User_Subject", "root"}}
				return r
			},
			check: func(t testing.TB, _ *httptest.ResponseRecorder, b *backend) {
				if b.header.Get("X-User-Subject") != "alice" || len(b.header.Values("X_User_Subject")) != 0 {
					t.Errorf("headers %v", b.header)
				}
			}},
		tokenCase{name: "an HMAC token forged with a different secret is rejected", want: 401,
			req: func(t testing.TB) request {
				tok := rawToken(`{"alg":"HS256"}`, `{"sub":"alice","iss":"`+issuer+`","aud":"`+audience+`","exp":9999999999}`, func(s string) []byte {
					m := hmac.New(sha256.New, []byte("guess-guess-guess-guess-guess-guess"))
					m.Write([]byte(s))
					return m.Sum(nil)
				})
				return bearer(tok)
			}},
	)
	return cases
}

func TestTokenScenarios(t *testing.T) {
	for _, l := range loaders(t) {
		for _, c := range tokenCases() {
			l, c := l, c
			t.Run(l.Name()+"/"+c.name, func(t *testing.T) {
				conf := c.config
				if conf == nil {
					conf = baseConfig()
				}
				h, b := instance(t, l, conf)
				rec := serve(h, c.req(t))
				if rec.Code != c.want {
					t.Fatalf("status %d, want %d; WWW-Authenticate %q body %s", rec.Code, c.want, rec.Header().Get("WWW-Authenticate"), rec.Body.String())
				}
				if c.challenge != "" && !strings.Contains(rec.Header().Get("WWW-Authenticate"), c.challenge) {
					t.Errorf("WWW-Authenticate %q lacks %q", rec.Header().Get("WWW-Authenticate"), c.challenge)
				}
				if c.want >= 400 && b.calls != 0 {
					t.Errorf("backend called on a denial")
				}
				if c.check != nil {
					c.check(t, rec, b)
				}
			})
		}
	}
}
