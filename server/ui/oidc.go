package ui

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/tokens"
)

// provider is the issuer's OpenID Connect endpoints and the ID-token verifier built from its
// discovery document (read once; again after a failure).
type provider struct {
	o Options

	mu       sync.Mutex
	ready    bool
	authURL  string // as the browser reaches it
	tokenURL string // as this server reaches it
	verifier *tokens.Verifier
	keys     *tokens.RemoteSet
}

func newProvider(o Options) *provider { return &provider{o: o} }

// close gives back the shared key set of the issuer's JWKS (process-wide, per URL): a key set left
// behind would serve its keys to the next UI whose issuer happens to answer at the same URL.
func (p *provider) close() {
	p.mu.Lock()
	keys := p.keys
	p.keys, p.verifier, p.ready = nil, nil, false
	p.mu.Unlock()
	keys.Release()
}

// internal is u as this server reaches it: under IssuerURL when it is under Issuer.
func (p *provider) internal(u string) string {
	if p.o.IssuerURL != p.o.Issuer && strings.HasPrefix(u, strings.TrimSuffix(p.o.Issuer, "/")+"/") {
		return strings.TrimSuffix(p.o.IssuerURL, "/") + strings.TrimPrefix(u, strings.TrimSuffix(p.o.Issuer, "/"))
	}
	return u
}

// discover reads the discovery document: its issuer must be Options.Issuer, and it must offer
// the code flow with S256.
func (p *provider) discover() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ready {
		return nil
	}
	resp, err := p.o.HTTPClient.Get(strings.TrimSuffix(p.o.IssuerURL, "/") + "/.well-known/openid-configuration")
	if err != nil {
		return fmt.Errorf("the issuer's discovery document: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the issuer's discovery document: status %d", resp.StatusCode)
	}
	var d struct {
		Issuer   string   `json:"issuer"`
		Auth     string   `json:"authorization_endpoint"`
		Token    string   `json:"token_endpoint"`
		JWKS     string   `json:"jwks_uri"`
		Methods  []string `json:"code_challenge_methods_supported"`
		IDTokens []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.Unmarshal(body, &d); err != nil {
		return fmt.Errorf("the issuer's discovery document does not parse: %v", err)
	}
	switch {
	case d.Issuer != p.o.Issuer:
		return fmt.Errorf("the discovery document names issuer %q, not %q", d.Issuer, p.o.Issuer)
	case d.Auth == "" || d.Token == "" || d.JWKS == "":
		return errors.New("the discovery document lacks authorization_endpoint, token_endpoint or jwks_uri")
	case !has(d.Methods, "S256"):
		return errors.New("the issuer does not offer PKCE with S256")
	}
	algs := []string{}
	for _, a := range d.IDTokens {
		if a != "none" && tokens.KnownAlgorithm(a) && tokens.AlgorithmFamily(a) != "HMAC" {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{"RS256"} // OpenID Connect's default
	}
	var leeway time.Duration
	if p.o.Config != nil && p.o.Config.Leeway != "" {
		leeway, _ = time.ParseDuration(p.o.Config.Leeway)
	}
	p.keys = tokens.SharedJWKS(p.internal(d.JWKS), tokens.DefaultRemoteSettings)
	p.verifier = tokens.NewVerifier(tokens.Options{Issuers: []string{p.o.Issuer}, Audiences: []string{p.o.ClientID}, Algorithms: algs,
		Leeway: leeway, Remote: []*tokens.RemoteSet{p.keys}, Now: p.o.Now})
	p.authURL, p.tokenURL, p.ready = d.Auth, p.internal(d.Token), true
	return nil
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// login starts a sign-in: a new session holding the pending state, nonce and PKCE verifier, and
// a redirect to the issuer.
func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if err := u.oidc.discover(); err != nil {
		u.logf("sign-in: %v", err)
		u.renderError(w, r, nil, http.StatusBadGateway, "The issuer cannot be reached", "Signing in needs the issuer "+u.o.Issuer+": "+err.Error()+".")
		return
	}
	back := r.URL.Query().Get("back")
	if !strings.HasPrefix(back, Prefix) || strings.HasPrefix(back, "//") || strings.Contains(back, "\\") {
		back = Prefix
	}
	now := u.o.Now()
	s := &session{id: random(32), csrf: random(32), state: random(24), nonce: random(24), verifier: random(48), back: back, expires: now.Add(10 * time.Minute)}
	u.sessions.put(s, now)
	u.setCookie(w, s.id, 0)
	sum := sha256.Sum256([]byte(s.verifier))
	q := url.Values{"response_type": {"code"}, "client_id": {u.o.ClientID}, "redirect_uri": {u.o.RedirectURL}, "scope": {"openid"},
		"state": {s.state}, "nonce": {s.nonce}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	sep := "?"
	if strings.Contains(u.oidc.authURL, "?") {
		sep = "&"
	}
	http.Redirect(w, r, u.oidc.authURL+sep+q.Encode(), http.StatusSeeOther)
}

// callback finishes a sign-in: the state must be the pending one, the code is exchanged with the
// PKCE verifier, the ID token must verify (issuer, audience, signature, expiry) and carry the
// nonce. The session then gets a new id (no fixation) and the access token.
func (u *UI) callback(w http.ResponseWriter, r *http.Request) {
	now := u.o.Now()
	s := u.sessions.get(u.cookieValue(r), now)
	refuse := func(detail string) {
		u.logf("sign-in refused: %s", detail)
		u.render(w, http.StatusBadRequest, "error", view{Title: "Sign-in failed", Problem: &shown{Title: "Sign-in failed", Detail: detail, Status: http.StatusBadRequest}, Data: map[string]bool{"SignIn": true}})
	}
	q := r.URL.Query()
	switch {
	case s == nil || s.state == "":
		refuse("this browser has no sign-in in progress (it expired, or the cookie was not sent). Start again.")
		return
	case q.Get("error") != "":
		refuse("the issuer answered " + q.Get("error") + ": " + q.Get("error_description"))
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(s.state)) != 1:
		refuse("the state the issuer sent back is not this sign-in's. Start again.")
		return
	case q.Get("code") == "":
		refuse("the issuer sent no authorization code.")
		return
	}
	u.sessions.drop(s.id) // the pending login is used once, whatever follows
	if err := u.oidc.discover(); err != nil {
		refuse(err.Error())
		return
	}
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {u.o.RedirectURL},
		"client_id": {u.o.ClientID}, "code_verifier": {s.verifier}}
	resp, err := u.o.HTTPClient.PostForm(u.oidc.tokenURL, form)
	if err != nil {
		refuse("the issuer's token endpoint: " + err.Error())
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	var t struct {
		Access    string `json:"access_token"`
		ID        string `json:"id_token"`
		Type      string `json:"token_type"`
		ExpiresIn int64  `json:"expires_in"`
		Error     string `json:"error"`
		Desc      string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &t); err != nil {
		refuse(fmt.Sprintf("the issuer's token answer (status %d) does not parse", resp.StatusCode))
		return
	}
	if resp.StatusCode != http.StatusOK {
		refuse("the issuer refused the code: " + t.Error + ": " + t.Desc)
		return
	}
	if t.Access == "" || t.ID == "" || !strings.EqualFold(t.Type, "bearer") {
		refuse("the issuer's answer lacks an access token or an ID token")
		return
	}
	claims, _, err := u.oidc.verifier.VerifyClaims(t.ID, now)
	if err != nil {
		refuse("the ID token does not verify: " + err.Error())
		return
	}
	nonce, _ := claims["nonce"].(string)
	if subtle.ConstantTimeCompare([]byte(nonce), []byte(s.nonce)) != 1 {
		refuse("the ID token's nonce is not this sign-in's")
		return
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		refuse("the ID token names no subject")
		return
	}
	orgClaim := "org_id"
	if u.o.Config != nil && u.o.Config.Claims.Org != "" {
		orgClaim = u.o.Config.Claims.Org
	}
	org, _ := claims[orgClaim].(string)
	expires := now.Add(time.Hour)
	if exp, ok := claims["exp"].(float64); ok {
		expires = time.Unix(int64(exp), 0)
	}
	if t.ExpiresIn > 0 && now.Add(time.Duration(t.ExpiresIn)*time.Second).Before(expires) {
		expires = now.Add(time.Duration(t.ExpiresIn) * time.Second)
	}
	n := &session{id: random(32), csrf: random(32), sub: sub, iss: u.o.Issuer, org: org, token: t.Access, expires: expires}
	u.sessions.put(n, now)
	u.setCookie(w, n.id, 0)
	http.Redirect(w, r, s.back, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, s *session) {
	u.sessions.drop(s.id)
	u.setCookie(w, "", -1)
	http.Redirect(w, r, Prefix+"signed-out", http.StatusSeeOther)
}

func (u *UI) signedOut(w http.ResponseWriter, r *http.Request) {
	u.render(w, http.StatusOK, "signedout", view{Title: "Signed out"})
}
