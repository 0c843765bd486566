package harness

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-dev/gatehouse/assertion"
	"github.com/gatehouse-dev/gatehouse/demo/loader"
)

// signers drives package assertion compiled or inside the plugin's Yaegi interpreter, so that a
// library nobody here wrote (keyfunc/v3 over jwkset, and golang-jwt/jwt/v5) verifies assertions
// minted both ways.
type signers struct {
	name string
	add  func(key, iss, aud string) (int, string)
	mint func(i int, sub, org, method, path string, now int64) string
	jwks func(i int, now int64) string
}

func compiledSigners() *signers {
	var mu sync.Mutex
	var list []*assertion.Signer
	get := func(i int) *assertion.Signer {
		mu.Lock()
		defer mu.Unlock()
		return list[i]
	}
	return &signers{
		name: "compiled",
		add: func(key, iss, aud string) (int, string) {
			s, err := assertion.New(assertion.Settings{Key: key, Issuer: iss, Audience: aud})
			if err != nil {
				return -1, err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			list = append(list, s)
			return len(list) - 1, ""
		},
		mint: func(i int, sub, org, method, path string, now int64) string {
			tok, _ := get(i).Mint(assertion.Claims{Subject: sub, Org: org, Permission: "workflows:read", Route: "GET /orgs/{org}/workflows", Method: method, Path: path}, time.Unix(now, 0))
			return tok
		},
		jwks: func(i int, now int64) string { return string(get(i).JWKS(time.Unix(now, 0))) },
	}
}

// yaegiSource runs in the plugin's interpreter: the package as Traefik would load it.
const yaegiSource = `
import (
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/assertion"
)

var harnessSignersMu sync.Mutex
var harnessSigners []*assertion.Signer

func harnessAssertionAdd(key, iss, aud string) (int, string) {
	s, err := assertion.New(assertion.Settings{Key: key, Issuer: iss, Audience: aud})
	if err != nil {
		return -1, err.Error()
	}
	harnessSignersMu.Lock()
	defer harnessSignersMu.Unlock()
	harnessSigners = append(harnessSigners, s)
	n := len(harnessSigners) - 1
	return n, ""
}

func harnessAssertionSigner(i int) *assertion.Signer {
	harnessSignersMu.Lock()
	defer harnessSignersMu.Unlock()
	return harnessSigners[i]
}

func harnessAssertionMint(i int, sub, org, method, path string, now int64) string {
	c := assertion.Claims{Subject: sub, Org: org, Permission: "workflows:read", Route: "GET /orgs/{org}/workflows", Method: method, Path: path}
	tok, _ := harnessAssertionSigner(i).Mint(c, time.Unix(now, 0))
	return tok
}

func harnessAssertionJWKS(i int, now int64) string {
	return string(harnessAssertionSigner(i).JWKS(time.Unix(now, 0)))
}
`

var (
	yaegiSignersOnce sync.Once
	yaegiSignersVal  *signers
	yaegiSignersErr  error
)

func interpretedSigners(t testing.TB) *signers {
	yaegiSignersOnce.Do(func() {
		y, err := loader.Shared()
		if err != nil {
			yaegiSignersErr = err
			return
		}
		if _, err := y.Eval(yaegiSource); err != nil {
			yaegiSignersErr = err
			return
		}
		s := &signers{name: "yaegi"}
		for _, f := range []struct {
			name string
			into func(interface{}) bool
		}{
			{"harnessAssertionAdd", func(v interface{}) bool {
				s.add, _ = v.(func(string, string, string) (int, string))
				return s.add != nil
			}},
			{"harnessAssertionMint", func(v interface{}) bool {
				s.mint, _ = v.(func(int, string, string, string, string, int64) string)
				return s.mint != nil
			}},
			{"harnessAssertionJWKS", func(v interface{}) bool { s.jwks, _ = v.(func(int, int64) string); return s.jwks != nil }},
		} {
			v, err := y.Eval(f.name)
			if err != nil {
				yaegiSignersErr = err
				return
			}
			if !f.into(v.Interface()) {
				yaegiSignersErr = errors.New(f.name + ": unexpected type " + v.Type().String())
				return
			}
		}
		yaegiSignersVal = s
	})
	if yaegiSignersErr != nil {
		t.Fatalf("yaegi: %v", yaegiSignersErr)
	}
	return yaegiSignersVal
}

func assertionKeys(t testing.TB) map[string]string {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for alg, k := range map[string]interface{}{"ES256": ec, "EdDSA": ed} {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		out[alg] = string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	}
	return out
}

// servedJWKS publishes signer i's JWK Set as the gateway would, at the clock now returns.
func servedJWKS(t *testing.T, s *signers, i int, now func() time.Time) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(s.jwks(i, now().Unix())))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func keyfuncFor(t *testing.T, url string) keyfunc.Keyfunc {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	k, err := keyfunc.NewDefaultCtx(ctx, []string{url})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// backendVerify is what a backend does: keyfunc over the JWKS URL, golang-jwt with the issuer,
// audience, expiry and algorithms pinned.
func backendVerify(k keyfunc.Keyfunc, tok, iss, aud string, extra ...jwt.ParserOption) (jwt.MapClaims, error) {
	opts := append([]jwt.ParserOption{jwt.WithValidMethods([]string{"ES256", "EdDSA"}), jwt.WithIssuer(iss),
		jwt.WithAudience(aud), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(5 * time.Second)}, extra...)
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, k.Keyfunc, opts...)
	return claims, err
}

func TestKeyfuncVerifiesAssertions(t *testing.T) {
	keysByAlg := assertionKeys(t)
	for _, s := range []*signers{compiledSigners(), interpretedSigners(t)} {
		s := s
		for _, alg := range []string{"ES256", "EdDSA"} {
			alg := alg
			iss := "https://gateway.test/" + s.name + "/" + alg
			i, problem := s.add(keysByAlg[alg], iss, audience)
			if problem != "" {
				t.Fatalf("%s: New: %s", s.name, problem)
			}
			srv := servedJWKS(t, s, i, time.Now)
			t.Run(s.name+"/keyfunc verifies an "+alg+" assertion against the published JWKS and reads the decision", func(t *testing.T) {
				tok := s.mint(i, "alice", "acme", "GET", "/orgs/acme/workflows", time.Now().Unix())
				claims, err := backendVerify(keyfuncFor(t, srv.URL), tok, iss, audience)
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				for k, want := range map[string]string{"sub": "alice", "org": "acme", "method": "GET", "path": "/orgs/acme/workflows", "permission": "workflows:read", "route": "GET /orgs/{org}/workflows"} {
					if claims[k] != want {
						t.Errorf("%s = %v, want %q", k, claims[k], want)
					}
				}
				if jti, _ := claims["jti"].(string); len(jti) != 22 {
					t.Errorf("jti %q", jti)
				}
			})
			t.Run(s.name+"/keyfunc refuses an "+alg+" assertion with a changed signature", func(t *testing.T) {
				tok := s.mint(i, "alice", "acme", "GET", "/orgs/acme/workflows", time.Now().Unix())
				dot := strings.LastIndexByte(tok, '.')
				c := "A"
				if tok[dot+1] == 'A' {
					c = "B"
				}
				flipped := tok[:dot+1] + c + tok[dot+2:]
				if _, err := backendVerify(keyfuncFor(t, srv.URL), flipped, iss, audience); err == nil {
					t.Error("accepted")
				}
			})
			t.Run(s.name+"/keyfunc refuses an "+alg+" assertion for another audience", func(t *testing.T) {
				tok := s.mint(i, "alice", "acme", "GET", "/orgs/acme/workflows", time.Now().Unix())
				if _, err := backendVerify(keyfuncFor(t, srv.URL), tok, iss, "billing-api"); err == nil {
					t.Error("accepted")
				}
			})
		}
	}
}

func TestKeyfuncFollowsAssertionKeyRotation(t *testing.T) {
	keysA := assertionKeys(t)
	keysB := assertionKeys(t)
	for _, s := range []*signers{compiledSigners(), interpretedSigners(t)} {
		s := s
		iss := "https://rotating.gateway.test/" + s.name
		old, problem := s.add(keysA["ES256"], iss, audience)
		if problem != "" {
			t.Fatal(problem)
		}
		oldTok := s.mint(old, "alice", "acme", "GET", "/orgs/acme/workflows", time.Now().Unix())
		fresh, problem := s.add(keysB["EdDSA"], iss, audience) // the configuration reload
		if problem != "" {
			t.Fatal(problem)
		}
		newTok := s.mint(fresh, "bob", "acme", "GET", "/orgs/acme/workflows", time.Now().Unix())
		t.Run(s.name+"/after a reload with a new key one JWKS fetch verifies the old and the new assertion", func(t *testing.T) {
			k := keyfuncFor(t, servedJWKS(t, s, fresh, time.Now).URL)
			for _, tok := range []string{oldTok, newTok} {
				if _, err := backendVerify(k, tok, iss, audience); err != nil {
					t.Errorf("refused: %v", err)
				}
			}
		})
		t.Run(s.name+"/once a lifetime has passed the JWKS no longer holds the old key", func(t *testing.T) {
			later := func() time.Time { return time.Now().Add(61 * time.Second) }
			k := keyfuncFor(t, servedJWKS(t, s, fresh, later).URL)
			if _, err := backendVerify(k, oldTok, iss, audience, jwt.WithoutClaimsValidation()); err == nil {
				t.Error("the old key still verifies")
			}
			if _, err := backendVerify(k, newTok, iss, audience, jwt.WithoutClaimsValidation()); err != nil {
				t.Errorf("the new key no longer verifies: %v", err)
			}
		})
	}
}

// TestTheDemoAssertionKeyLoads checks the demo's fake key (demo/assertion-demo-key.pem, named by
// the demo configuration) both ways, by path as the configuration gives it.
func TestTheDemoAssertionKeyLoads(t *testing.T) {
	path := filepath.Join(loader.RepoRoot(), "demo", "assertion-demo-key.pem")
	for _, s := range []*signers{compiledSigners(), interpretedSigners(t)} {
		t.Run(s.name+"/the demo key signs assertions that keyfunc verifies", func(t *testing.T) {
			iss := "https://demo-key.gateway.test/" + s.name
			i, problem := s.add(path, iss, audience)
			if problem != "" {
				t.Fatal(problem)
			}
			tok := s.mint(i, "alice", "acme", "GET", "/orgs/acme/workflows", time.Now().Unix())
			if _, err := backendVerify(keyfuncFor(t, servedJWKS(t, s, i, time.Now).URL), tok, iss, audience); err != nil {
				t.Error(err)
			}
		})
	}
}
