package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/demo/loader"
)

// step is one call a person would try, with the status they should see.
type step struct {
	say     string
	sub     string // token subject; "" for no token
	token   string // explicit token (overrides sub)
	method  string
	path    string
	body    string
	headers map[string]string
	direct  bool // sent straight to the workflows API, around the gateway
	want    int
	wantWho string // the backend must report this subject
}

// client talks to a running demo.
type client struct {
	d      *Demo
	http   *http.Client
	tokens map[string]string
}

func (c *client) token(sub, alg, ttl string) (string, error) {
	form := url.Values{"sub": {sub}, "alg": {alg}, "ttl": {ttl}}
	resp, err := c.http.PostForm(c.d.IssuerURL+"/token", form)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	if out.AccessToken == "" {
		return "", fmt.Errorf("issuer: %s", out.Error)
	}
	return out.AccessToken, nil
}

// call makes the step's request and returns status, the backend's "who" and a one-line summary.
func (c *client) call(s step) (int, string, string, error) {
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	base := c.d.GatewayURL
	if s.direct {
		base = c.d.WorkflowsURL
	}
	req, err := http.NewRequest(s.method, base+s.path, body)
	if err != nil {
		return 0, "", "", err
	}
	tok := s.token
	if tok == "" && s.sub != "" {
		if tok = c.tokens[s.sub]; tok == "" {
			if tok, err = c.token(s.sub, "", ""); err != nil {
				return 0, "", "", err
			}
			c.tokens[s.sub] = tok
		}
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]interface{}
	json.Unmarshal(raw, &out)
	who, _ := out["who"].(string)
	summary := ""
	if did, ok := out["did"].(string); ok {
		summary = fmt.Sprintf("%v in %v: %s", who, out["org"], did)
	} else if detail, ok := out["detail"].(string); ok {
		summary = detail
		if ch := resp.Header.Get("WWW-Authenticate"); ch != "" {
			summary += "  (WWW-Authenticate: " + ch + ")"
		}
	}
	return resp.StatusCode, who, summary, nil
}

// Walkthrough makes the calls a person would try against a running demo and prints each with its
// status. It returns an error if any status (or reported subject) is not the expected one.
func Walkthrough(w io.Writer, d *Demo) error {
	c := &client{d: d, http: &http.Client{Timeout: 10 * time.Second}, tokens: map[string]string{}}
	expired, err := c.token("alice", "", "-2m")
	if err != nil {
		return err
	}
	rs256, err := c.token("bob", "RS256", "")
	if err != nil {
		return err
	}
	alice, err := c.token("alice", "", "")
	if err != nil {
		return err
	}
	c.tokens["alice"] = alice
	tampered := alice[:strings.LastIndexByte(alice, '.')] + ".AAAA" + alice[strings.LastIndexByte(alice, '.')+5:]
	steps := []step{
		{say: "anyone can check health (public route)", method: "GET", path: "/healthz", want: 200},
		{say: "no token: 401 with a bare Bearer challenge", method: "GET", path: "/orgs/acme/workflows", want: 401},
		{say: "alice (admin) creates a workflow in acme", sub: "alice", method: "POST", path: "/orgs/acme/workflows", body: `{"name":"nightly-report"}`, want: 201, wantWho: "alice"},
		{say: "bob (developer) creates a workflow", sub: "bob", method: "POST", path: "/orgs/acme/workflows", body: `{"name":"etl"}`, want: 201, wantWho: "bob"},
		{say: "carol (analyst) lists workflows", sub: "carol", method: "GET", path: "/orgs/acme/workflows", want: 200, wantWho: "carol"},
		{say: "carol (analyst) runs one", sub: "carol", method: "POST", path: "/orgs/acme/workflows/wf-1/run", want: 200, wantWho: "carol"},
		{say: "dave (viewer) lists workflows", sub: "dave", method: "GET", path: "/orgs/acme/workflows", want: 200, wantWho: "dave"},
		{say: "dave (viewer) tries to create one", sub: "dave", method: "POST", path: "/orgs/acme/workflows", body: `{"name":"x"}`, want: 403},
		{say: "carol (analyst) tries to delete one", sub: "carol", method: "DELETE", path: "/orgs/acme/workflows/wf-1", want: 403},
		{say: "bob (developer) tries to share one", sub: "bob", method: "POST", path: "/orgs/acme/workflows/wf-1/share", body: `{"with":"carol"}`, want: 403},
		{say: "alice (admin) shares it", sub: "alice", method: "POST", path: "/orgs/acme/workflows/wf-1/share", body: `{"with":"carol"}`, want: 200, wantWho: "alice"},
		{say: "erin (admin of globex) reaches into acme", sub: "erin", method: "GET", path: "/orgs/acme/workflows", want: 403},
		{say: "erin works in her own org", sub: "erin", method: "POST", path: "/orgs/globex/workflows", body: `{"name":"forecast"}`, want: 201, wantWho: "erin"},
		{say: "an expired token", token: expired, method: "GET", path: "/orgs/acme/workflows", want: 401},
		{say: "a token with a forged signature", token: tampered, method: "GET", path: "/orgs/acme/workflows", want: 401},
		{say: "alice sends X-Auth-Subject: mallory (stripped; the backend sees alice)", sub: "alice", method: "GET", path: "/orgs/acme/workflows", headers: map[string]string{"X-Auth-Subject": "mallory", "X_Auth_Org": "globex"}, want: 200, wantWho: "alice"},
		{say: "an encoded slash in the path is refused", sub: "alice", method: "GET", path: "/orgs/acme%2Fglobex/workflows", want: 400},
		{say: "svc-ci creates a workflow through its policy assignment (developer)", sub: "svc-ci", method: "POST", path: "/orgs/acme/workflows", body: `{"name":"ci"}`, want: 201, wantWho: "svc-ci"},
		{say: "svc-ci cannot delete: developer lacks workflows:delete", sub: "svc-ci", method: "DELETE", path: "/orgs/acme/workflows/wf-1", want: 403},
		{say: "bob with an RS256 token runs a workflow", token: rs256, method: "POST", path: "/orgs/acme/workflows/wf-2/run", want: 200, wantWho: "bob"},
	}
	failures := 0
	run := func(s step) error {
		got, who, summary, err := c.call(s)
		if err != nil {
			return err
		}
		mark := "ok "
		if got != s.want || (s.wantWho != "" && who != s.wantWho) {
			mark = "BAD"
			failures++
		}
		fmt.Fprintf(w, "%s %d (want %d)  %-72s %s\n", mark, got, s.want, s.say, summary)
		return nil
	}
	for _, s := range steps {
		if err := run(s); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "--- key rotation")
	resp, err := c.http.Post(d.IssuerURL+"/rotate", "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	fmt.Fprintln(w, "    the issuer rotated its keys; waiting 1.1s for the demo's jwksCooldown (1s) before a refetch is allowed")
	time.Sleep(1100 * time.Millisecond)
	fresh, err := c.token("alice", "", "")
	if err != nil {
		return err
	}
	for _, s := range []step{
		{say: "alice's old token (old key) still works", token: alice, method: "GET", path: "/orgs/acme/workflows", want: 200, wantWho: "alice"},
		{say: "alice's new token (new kid) verifies after the JWKS refetch", token: fresh, method: "GET", path: "/orgs/acme/workflows", want: 200, wantWho: "alice"},
		{say: "alice deletes a workflow with the new token", token: fresh, method: "DELETE", path: "/orgs/acme/workflows/wf-1", want: 200, wantWho: "alice"},
	} {
		if err := run(s); err != nil {
			return err
		}
	}
	for _, s := range assertionSteps(w, c) {
		if err := run(s); err != nil {
			return err
		}
	}
	if d.ControlPlane != nil {
		ok, err := revocation(w, c, run)
		if err != nil {
			return err
		}
		if !ok {
			failures++
		}
		if ok, err = auditReview(w, d); err != nil {
			return err
		}
		if !ok {
			failures++
		}
	}
	if failures > 0 {
		return fmt.Errorf("%d unexpected results", failures)
	}
	fmt.Fprintln(w, "all calls answered as expected")
	return nil
}

// assertionSteps are the calls around the gateway. With assertions on, a request sent straight to
// the workflows API with forged identity headers (or a self-made assertion) is refused, and the
// same call through the gateway accepted; with them off, the forged headers are believed, which is
// the gap the assertion closes.
func assertionSteps(w io.Writer, c *client) []step {
	forgedIdentity := map[string]string{"X-Auth-Subject": "alice", "X-Auth-Issuer": IssuerName, "X-Auth-Org": "acme"}
	if !c.d.Assertion {
		fmt.Fprintln(w, "--- signed identity assertion: off (go -C demo run . -assertion, once the gateway signs)")
		return []step{
			{say: "direct to the API, X-Auth-Subject: mallory is believed (the gap)", direct: true, method: "GET", path: "/orgs/acme/workflows", headers: map[string]string{"X-Auth-Subject": "mallory", "X-Auth-Org": "acme"}, want: 200, wantWho: "mallory"},
		}
	}
	fmt.Fprintln(w, "--- signed identity assertion: the workflows API verifies X-Auth-Assertion against the gateway's JWKS")
	forged := c.forgeAssertion()
	withForged := map[string]string{"X-Auth-Assertion": forged}
	for k, v := range forgedIdentity {
		withForged[k] = v
	}
	return []step{
		{say: "direct to the API, forged X-Auth-Subject: alice, no assertion: refused", direct: true, method: "GET", path: "/orgs/acme/workflows", headers: forgedIdentity, want: 401},
		{say: "direct, with a self-signed assertion under the gateway's kid: refused", direct: true, method: "GET", path: "/orgs/acme/workflows", headers: withForged, want: 401},
		{say: "the same call through the gateway: accepted", sub: "alice", method: "GET", path: "/orgs/acme/workflows", want: 200, wantWho: "alice"},
		{say: "alice sends that forged assertion via the gateway: replaced, accepted", sub: "alice", method: "GET", path: "/orgs/acme/workflows", headers: map[string]string{"X-Auth-Assertion": forged}, want: 200, wantWho: "alice"},
	}
}

// forgeAssertion signs the claims the gateway would sign for alice with a key of its own, under
// the kid the gateway publishes: what an attacker who can reach the API could make.
func (c *client) forgeAssertion() string {
	kid := "forged"
	if resp, err := c.http.Get(c.d.GatewayURL + AssertionJWKSPath); err == nil {
		var set struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		json.NewDecoder(resp.Body).Decode(&set)
		resp.Body.Close()
		if len(set.Keys) > 0 {
			kid = set.Keys[0].Kid
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "forged"
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": AssertionIssuer, "aud": AssertionAudience, "sub": "alice", "idp": IssuerName, "org": "acme",
		"permission": "workflows:read", "route": "GET /orgs/{org}/workflows", "method": "GET", "path": "/orgs/acme/workflows",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "jti": "forged",
	})
	tok.Header["kid"] = kid
	signed, err := tok.SignedString(key)
	if err != nil {
		return "forged"
	}
	return signed
}

// revocation is the control plane's step: svc-ci holds developer through an assignment in the
// control plane; alice removes it with the CLI; the gateway, re-checking the bundle every
// policyReload, denies svc-ci's very same token within that interval. It reports false when the
// denial came late or never.
func revocation(w io.Writer, c *client, run func(step) error) (bool, error) {
	cp := c.d.ControlPlane
	reload, err := controlPlaneReload()
	if err != nil {
		return false, err
	}
	fmt.Fprintf(w, "--- control plane: the policy comes from gatehouse serve over PostgreSQL (signed bundle, policyReload %s)\n", reload)
	list := step{say: "svc-ci lists workflows (developer: an assignment in the control plane)", sub: "svc-ci", method: "GET", path: "/orgs/acme/workflows", want: 200, wantWho: "svc-ci"}
	if err := run(list); err != nil {
		return false, err
	}
	args := []string{"assignments", "remove", "--org", "acme", "--subject", "svc-ci", "--role", "developer"}
	fmt.Fprintf(w, "    $ gatehouse %s\n", strings.Join(args, " "))
	out, err := cp.CLI(args...)
	for _, line := range strings.Split(out, "\n") {
		fmt.Fprintf(w, "    %s\n", line)
	}
	if err != nil {
		return false, fmt.Errorf("gatehouse assignments remove: %v", err)
	}
	// The same token, sent again every 50 ms until the gateway denies it (the first request after
	// policyReload has passed re-checks the bundle and is decided by the new one), for at most
	// policyReload plus a second. The time reported is when the denied request was sent.
	revoked := time.Now()
	deadline := revoked.Add(reload + time.Second)
	denied := step{say: "", sub: "svc-ci", method: "GET", path: "/orgs/acme/workflows", want: 403}
	got, summary := 0, ""
	var sent time.Time
	for {
		sent = time.Now()
		got, _, summary, err = c.call(denied)
		if err != nil {
			return false, err
		}
		if got == http.StatusForbidden || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := sent.Sub(revoked)
	ok := got == http.StatusForbidden && took <= reload+250*time.Millisecond
	mark := "ok "
	if !ok {
		mark = "BAD"
	}
	say := fmt.Sprintf("the same svc-ci token, sent %.2fs after revoking it (policyReload %s)", took.Seconds(), reload)
	fmt.Fprintf(w, "%s %d (want %d)  %-72s %s\n", mark, got, denied.want, say, summary)
	return ok, nil
}

// controlPlaneReload is the gateway's policyReload in demo/gatehouse-controlplane.yaml.
func controlPlaneReload() (time.Duration, error) {
	raw, err := os.ReadFile(filepath.Join(loader.RepoRoot(), "demo", "gatehouse-controlplane.yaml"))
	if err != nil {
		return 0, err
	}
	var settings struct {
		PolicyReload string `yaml:"policyReload"`
	}
	if err := yaml.Unmarshal(raw, &settings); err != nil {
		return 0, err
	}
	return time.ParseDuration(settings.PolicyReload)
}
