// Package issuer is the demo token issuer. It is NOT an identity provider: anyone who can reach it
// gets a token for any seeded subject. It serves an OIDC discovery document, a JWKS holding an
// ES256 and an RS256 key (plus the previous generation after a rotation), and short-lived access
// tokens; and, for the control plane's web UI, an OpenID Connect authorization code flow with
// PKCE (S256): a login page where one picks a seeded subject, with no password.
package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"math/big"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Subject is a seeded demo user.
type Subject struct {
	Org   string
	Roles []string
}

// Subjects are the seeded users. svc-ci has no role in its token: its role comes from the policy
// file's assignments. svc-gateway is the gateway's service account for the control plane (go run
// . -postgres, compose.postgres.yaml), which gives it the role gatehouse-gateway.
var Subjects = map[string]Subject{
	"alice":  {Org: "acme", Roles: []string{"admin"}},
	"bob":    {Org: "acme", Roles: []string{"developer"}},
	"carol":  {Org: "acme", Roles: []string{"analyst"}},
	"dave":   {Org: "acme", Roles: []string{"viewer"}},
	"erin":   {Org: "globex", Roles: []string{"admin"}},
	"svc-ci": {Org: "acme"},

	"svc-gateway": {Org: "acme"},
}

// Audience is the audience of every demo token.
const Audience = "workflows-api"

type signingKey struct {
	kid string
	key crypto.Signer
}

// Issuer issues demo tokens. Safe for concurrent use.
type Issuer struct {
	name string
	id   string // random, in every kid: two issuers of one process (tests) never share a kid

	mu         sync.Mutex
	public     string              // the authorization endpoint's base URL, as a browser reaches it ("": name)
	clients    map[string][]string // OIDC clients: their registered redirect URIs
	codes      map[string]*authCode
	generation int
	current    map[string]signingKey // by alg: ES256, RS256
	previous   map[string]signingKey
}

// New returns an issuer whose iss claim and discovery URLs use name (e.g. http://issuer:9000).
func New(name string) (*Issuer, error) {
	id := make([]byte, 4)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	i := &Issuer{name: name, id: hex.EncodeToString(id), clients: map[string][]string{}, codes: map[string]*authCode{}}
	if err := i.Rotate(); err != nil {
		return nil, err
	}
	return i, nil
}

// Rotate makes a new ES256 and RS256 key current; the previous keys stay published so that tokens
// they signed keep verifying until they expire.
func (i *Issuer) Rotate() error {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	rs, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.generation++
	i.previous = i.current
	i.current = map[string]signingKey{
		"ES256": {kid: fmt.Sprintf("es256-%s-%d", i.id, i.generation), key: ec},
		"RS256": {kid: fmt.Sprintf("rs256-%s-%d", i.id, i.generation), key: rs},
	}
	return nil
}

// Token issues an access token for a seeded subject, valid for ttl (negative: already expired).
func (i *Issuer) Token(sub, alg string, ttl time.Duration) (string, error) {
	s, ok := Subjects[sub]
	if !ok {
		return "", fmt.Errorf("unknown subject %q", sub)
	}
	if alg == "" {
		alg = "ES256"
	}
	i.mu.Lock()
	k, ok := i.current[alg]
	i.mu.Unlock()
	if !ok {
		return "", fmt.Errorf("unsupported alg %q (ES256 or RS256)", alg)
	}
	now := time.Now()
	claims := jwt.MapClaims{"iss": i.name, "aud": Audience, "sub": sub, "org_id": s.Org, "iat": now.Unix(), "exp": now.Add(ttl).Unix()}
	if ttl < 0 {
		claims["iat"] = now.Add(2 * ttl).Unix()
	}
	if len(s.Roles) > 0 {
		claims["roles"] = s.Roles
	}
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(alg), claims)
	tok.Header["kid"] = k.kid
	tok.Header["typ"] = "at+jwt"
	return tok.SignedString(k.key)
}

// Handler serves /.well-known/openid-configuration, /jwks, POST /token, POST /rotate, and the
// login page /authorize (GET shows it, POST signs in) of the authorization code flow.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, i.discovery())
	})
	mux.HandleFunc("GET /authorize", i.authorizePage)
	mux.HandleFunc("POST /authorize", i.authorizeLogin)
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, i.jwks()) })
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("grant_type") == "authorization_code" {
			i.exchangeCode(w, r)
			return
		}
		ttl := 5 * time.Minute
		if s := r.FormValue("ttl"); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil {
				writeJSON(w, 400, map[string]string{"error": "ttl must be a duration such as 5m or -2m"})
				return
			}
			ttl = d
		}
		tok, err := i.Token(r.FormValue("sub"), r.FormValue("alg"), ttl)
		if err != nil {
			writeJSON(w, 400, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, 200, map[string]interface{}{"access_token": tok, "token_type": "Bearer", "expires_in": int(ttl.Seconds())})
	})
	mux.HandleFunc("POST /rotate", func(w http.ResponseWriter, r *http.Request) {
		if err := i.Rotate(); err != nil {
			writeJSON(w, 500, map[string]string{"error": err.Error()})
			return
		}
		i.mu.Lock()
		g := i.generation
		i.mu.Unlock()
		writeJSON(w, 200, map[string]string{"rotated": "generation " + strconv.Itoa(g)})
	})
	return mux
}

func (i *Issuer) jwks() map[string]interface{} {
	i.mu.Lock()
	defer i.mu.Unlock()
	var keys []map[string]string
	for _, set := range []map[string]signingKey{i.current, i.previous} {
		for _, alg := range []string{"ES256", "RS256"} {
			if k, ok := set[alg]; ok {
				keys = append(keys, publicJWK(k, alg))
			}
		}
	}
	return map[string]interface{}{"keys": keys}
}

func publicJWK(k signingKey, alg string) map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	switch pub := k.key.Public().(type) {
	case *ecdsa.PublicKey:
		x, y := make([]byte, 32), make([]byte, 32)
		pub.X.FillBytes(x)
		pub.Y.FillBytes(y)
		return map[string]string{"kty": "EC", "crv": "P-256", "kid": k.kid, "alg": alg, "use": "sig", "x": b64(x), "y": b64(y)}
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": k.kid, "alg": alg, "use": "sig", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// The authorization code flow (OpenID Connect Core 1.0 Section 3.1, with PKCE, RFC 7636): only
// for registered clients (AllowClient), only to their registered redirect URIs, only with an S256
// code challenge. Codes live one minute and are used once.

// authCode is an issued authorization code.
type authCode struct {
	client, redirect, sub, challenge, nonce string
	expires                                 time.Time
}

// codeTTL is how long an authorization code can be exchanged.
const codeTTL = time.Minute

// AllowClient registers an OIDC client and the redirect URIs it may use (exact matches).
func (i *Issuer) AllowClient(id string, redirectURIs ...string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.clients[id] = append(i.clients[id], redirectURIs...)
}

// SetPublicURL sets the base URL browsers reach the login page at, when it is not the issuer's
// name (under compose the name resolves only inside the compose network).
func (i *Issuer) SetPublicURL(u string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.public = u
}

func (i *Issuer) discovery() map[string]interface{} {
	i.mu.Lock()
	public := i.public
	i.mu.Unlock()
	if public == "" {
		public = i.name
	}
	return map[string]interface{}{
		"issuer": i.name, "jwks_uri": i.name + "/jwks", "token_endpoint": i.name + "/token",
		"authorization_endpoint":                public + "/authorize",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256", "RS256"},
		"scopes_supported":                      []string{"openid"},
		"token_endpoint_auth_methods_supported": []string{"none"},
	}
}

// authorizeRequest checks the parameters of /authorize; a bad client or redirect URI is shown,
// never redirected to.
func (i *Issuer) authorizeRequest(r *http.Request) (url.Values, string) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		q = r.PostForm
	}
	i.mu.Lock()
	uris, known := i.clients[q.Get("client_id")]
	i.mu.Unlock()
	switch {
	case !known:
		return q, "unknown client_id " + strconv.Quote(q.Get("client_id"))
	case !contains(uris, q.Get("redirect_uri")):
		return q, "redirect_uri " + strconv.Quote(q.Get("redirect_uri")) + " is not registered for this client"
	case q.Get("response_type") != "code":
		return q, "response_type must be code"
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43:
		return q, "a PKCE code_challenge with code_challenge_method S256 is required"
	case !strings.Contains(" "+q.Get("scope")+" ", " openid "):
		return q, "scope must include openid"
	}
	return q, ""
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo issuer: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem}
.warn{border:2px solid #b45309;background:#fffbeb;padding:.5rem 1rem}button{font:inherit;margin:.25rem 0;padding:.4rem 1rem;min-width:12rem;text-align:left}
button:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}.err{border:2px solid #b91c1c;background:#fef2f2;padding:.5rem 1rem}</style></head>
<body><main><h1>Demo issuer</h1>
{{if .Error}}<p class="err" role="alert">This sign-in request is refused: {{.Error}}.</p>{{else}}
<p class="warn"><strong>This is the demo issuer, not an identity provider:</strong> there is no password; anyone who reaches this page can sign in as any demo subject.</p>
<form method="post" action="authorize"><fieldset><legend>Sign in to {{.Client}} as</legend>
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
{{range .Subjects}}<div><button type="submit" name="sub" value="{{.Name}}" id="sub-{{.Name}}">{{.Name}} ({{.Org}}{{range .Roles}}, {{.}}{{end}})</button></div>{{end}}
</fieldset></form>{{end}}</main></body></html>
`))

type loginSubject struct {
	Name, Org string
	Roles     []string
}

func (i *Issuer) showLogin(w http.ResponseWriter, q url.Values, problem string) {
	params := map[string]string{}
	for _, k := range []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method"} {
		params[k] = q.Get(k)
	}
	var subs []loginSubject
	for name, s := range Subjects {
		if !strings.HasPrefix(name, "svc-") {
			subs = append(subs, loginSubject{name, s.Org, s.Roles})
		}
	}
	sort.Slice(subs, func(a, b int) bool { return subs[a].Name < subs[b].Name })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	csp, status := "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' "+q.Get("redirect_uri"), http.StatusOK
	if problem != "" {
		csp, status = "default-src 'none'; style-src 'unsafe-inline'", http.StatusBadRequest
	}
	w.Header().Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	loginPage.Execute(w, map[string]interface{}{"Error": problem, "Client": q.Get("client_id"), "Params": params, "Subjects": subs})
}

func (i *Issuer) authorizePage(w http.ResponseWriter, r *http.Request) {
	q, problem := i.authorizeRequest(r)
	i.showLogin(w, q, problem)
}

// authorizeLogin signs the chosen subject in: a code, sent to the redirect URI with the state.
func (i *Issuer) authorizeLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		i.showLogin(w, url.Values{}, "the form does not parse")
		return
	}
	q, problem := i.authorizeRequest(r)
	if problem != "" {
		i.showLogin(w, q, problem)
		return
	}
	sub := q.Get("sub")
	if _, ok := Subjects[sub]; !ok {
		i.showLogin(w, q, "unknown subject "+strconv.Quote(sub))
		return
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		http.Error(w, "no randomness", http.StatusInternalServerError)
		return
	}
	code := base64.RawURLEncoding.EncodeToString(b)
	i.mu.Lock()
	now := time.Now()
	for k, c := range i.codes {
		if now.After(c.expires) {
			delete(i.codes, k)
		}
	}
	i.codes[code] = &authCode{client: q.Get("client_id"), redirect: q.Get("redirect_uri"), sub: sub,
		challenge: q.Get("code_challenge"), nonce: q.Get("nonce"), expires: now.Add(codeTTL)}
	i.mu.Unlock()
	back := url.Values{"code": {code}}
	if st := q.Get("state"); st != "" {
		back.Set("state", st)
	}
	sep := "?"
	if strings.Contains(q.Get("redirect_uri"), "?") {
		sep = "&"
	}
	http.Redirect(w, r, q.Get("redirect_uri")+sep+back.Encode(), http.StatusSeeOther)
}

// exchangeCode answers grant_type=authorization_code: the code (once), the same client and
// redirect URI, and a code_verifier whose S256 is the challenge; an access token and an ID token.
func (i *Issuer) exchangeCode(w http.ResponseWriter, r *http.Request) {
	code := r.FormValue("code")
	i.mu.Lock()
	c := i.codes[code]
	delete(i.codes, code) // used once, whatever follows
	i.mu.Unlock()
	fail := func(e, desc string) {
		writeJSON(w, 400, map[string]string{"error": e, "error_description": desc})
	}
	sum := sha256.Sum256([]byte(r.FormValue("code_verifier")))
	switch {
	case c == nil || time.Now().After(c.expires):
		fail("invalid_grant", "unknown, used or expired code")
	case r.FormValue("client_id") != c.client:
		fail("invalid_grant", "the code was issued to another client")
	case r.FormValue("redirect_uri") != c.redirect:
		fail("invalid_grant", "redirect_uri differs from the authorization request's")
	case subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(c.challenge)) != 1:
		fail("invalid_grant", "code_verifier does not match the code_challenge (PKCE)")
	default:
		ttl := 15 * time.Minute
		access, err := i.Token(c.sub, "", ttl)
		if err != nil {
			fail("server_error", err.Error())
			return
		}
		id, err := i.idToken(c, ttl)
		if err != nil {
			fail("server_error", err.Error())
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, 200, map[string]interface{}{"access_token": access, "id_token": id, "token_type": "Bearer", "expires_in": int(ttl.Seconds())})
	}
}

// idToken is the ID token of a code: aud the client, the request's nonce, the subject's org.
func (i *Issuer) idToken(c *authCode, ttl time.Duration) (string, error) {
	i.mu.Lock()
	k := i.current["ES256"]
	i.mu.Unlock()
	now := time.Now()
	claims := jwt.MapClaims{"iss": i.name, "aud": c.client, "sub": c.sub, "org_id": Subjects[c.sub].Org,
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(), "auth_time": now.Unix(), "name": c.sub}
	if c.nonce != "" {
		claims["nonce"] = c.nonce
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = k.kid
	tok.Header["typ"] = "JWT"
	return tok.SignedString(k.key)
}
