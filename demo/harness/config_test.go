package harness

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/demo/loader"
)

func TestConfigurationErrors(t *testing.T) {
	cases := []struct {
		name   string
		config map[string]interface{}
		want   []string // substrings that must all appear in the error
	}{
		{"a misspelled option fails New and suggests the right one", baseConfig("audiance", "x"), []string{"audiance: unknown option", "did you mean audiences"}},
		{"a misspelled claims option fails New", baseConfig("claims", map[string]interface{}{"subjct": "sub"}), []string{"claims.subjct: unknown option"}},
		{"every problem is reported at once with its location", baseConfig("keys", []string{keys().pemByFa["RSA"], "not a key -----BEGIN nothing"}, "leeway", "soon", "algorithms", "none"),
			[]string{"keys[1]:", "leeway: not a duration", "algorithms[0]: \"none\" is never allowed"}},
		{"a short HMAC secret is refused", cfg("secret", "short"), []string{"secret: HMAC secret must be at least 32 bytes"}},
		{"a private key is refused", cfg("keys", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), []string{"keys[0]: is a private key"}},
		{"no key source is refused", cfg("audiences", "x"), []string{"no key source"}},
		{"an algorithm without a key of its type is refused", cfg("secret", secret, "algorithms", "RS256"), []string{"algorithms[0]: \"RS256\" has no configured key"}},
		{"an unknown token source is refused", baseConfig("tokenSources", "body:token"), []string{"tokenSources[0]"}},
		{"overlapping routes are refused naming both and a path", baseConfig("trustTokenPermissions", "true", "routes", []string{"GET /a/{x}/c p", "GET /a/b/{y} p"}),
			[]string{"routes[1]", "conflicts with routes[0]", "\"/a/b/c\""}},
		{"a route naming an undeclared permission is refused", baseConfig("routes", "GET /x workflows:raed", "policy", "permissions: [workflows:read]\n"),
			[]string{"routes[0] \"GET /x workflows:raed\": unknown permission \"workflows:raed\""}},
		{"a route nothing could grant is refused", baseConfig("routes", "GET /x workflows:read"), []string{"nothing can grant"}},
		{"a bad tenant mode is refused", baseConfig("tenant", "cookie:org"), []string{"tenant:"}},
		{"a wildcard permission in the policy is refused for least privilege", baseConfig("policy", "permissions: [\"workflows:*\"]\n"), []string{"wildcard permissions are not allowed", "least privilege"}},
		{"a role containing a role is refused", baseConfig("policy", "permissions: [a]\nroles:\n  viewer: [a]\n  admin: [viewer]\n"), []string{"roles.admin[0] \"viewer\": roles cannot contain roles"}},
		{"a duplicate role is refused", baseConfig("policy", "permissions: [a]\nroles:\n  viewer: [a]\n  viewer: [a]\n"), []string{"duplicate role \"viewer\""}},
		{"malformed policy YAML is refused", baseConfig("policy", "permissions: [a\n"), []string{"malformed YAML"}},
		{"an unknown permission in a role is refused", baseConfig("policy", "permissions: [a]\nroles:\n  viewer: [b]\n"), []string{"roles.viewer[0] \"b\": unknown permission"}},
		{"an assignment of an unknown role is refused", baseConfig("policy", "permissions: [a]\nroles:\n  viewer: [a]\nassignments:\n  - {subject: s, org: o, role: ghost}\n"), []string{"assignments[0]: unknown role \"ghost\""}},
		{"a missing policy file is refused", baseConfig("policyFile", "/nonexistent/policy.yaml"), []string{"policyFile:"}},
		{"an invalid mode is refused", baseConfig("mode", "audit"), []string{"mode:"}},
		{"the tenant wildcard must match one segment", baseConfig("trustTokenPermissions", "true", "routes", "GET /orgs/{org...} p"), []string{"must match one segment"}},
		{"a policy and a policy file together are refused", baseConfig("policy", "permissions: [a]\n", "policyFile", "/tmp/x.yaml"), []string{"set policy or policyFile, not both"}},
		{"an unmatched value other than deny, authenticated or public is refused", baseConfig("unmatched", "allow"), []string{"unmatched: want deny"}},
		{"a jwksURL that is not http(s) is refused", cfg("jwksURL", "file:///etc/jwks.json"), []string{"jwksURL: must be an absolute http(s) URL"}},
	}
	for _, l := range loaders(t) {
		for _, c := range cases {
			l, c := l, c
			t.Run(l.Name()+"/"+c.name, func(t *testing.T) {
				_, err := l.New(context.Background(), http.NotFoundHandler(), c.config, "test")
				if err == nil {
					t.Fatal("New accepted the configuration")
				}
				for _, want := range c.want {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error lacks %q:\n%v", want, err)
					}
				}
			})
		}
	}
}

// TestTraefikManifestTestData loads .traefik.yml's testData the way the plugin catalog does: New
// must succeed offline within 10 s.
func TestTraefikManifestTestData(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(loader.RepoRoot(), ".traefik.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Import   string                 `yaml:"import"`
		TestData map[string]interface{} `yaml:"testData"`
	}
	if err := yaml.Unmarshal(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.Import != loader.ModuleName {
		t.Fatalf("import %q", manifest.Import)
	}
	conf := loader.Stringify(manifest.TestData).(map[string]interface{})
	for _, l := range loaders(t) {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := l.New(ctx, http.NotFoundHandler(), conf, "testdata"); err != nil {
			t.Fatalf("%s: %v", l.Name(), err)
		}
		cancel()
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: New took %v", l.Name(), d)
		}
	}
}

// TestLabelAndFileDecoding checks that the same settings decode identically from Docker labels and
// from a file-provider document.
func TestLabelAndFileDecoding(t *testing.T) {
	labels := map[string]string{
		"traefik.http.middlewares.wf.plugin.gatehouse.issuers":               issuer,
		"traefik.http.middlewares.wf.plugin.gatehouse.audiences":             audience,
		"traefik.http.middlewares.wf.plugin.gatehouse.secret":                secret,
		"traefik.http.middlewares.wf.plugin.gatehouse.leeway":                "5s",
		"traefik.http.middlewares.wf.plugin.gatehouse.forwardToken":          "false",
		"traefik.http.middlewares.wf.plugin.gatehouse.claims.org":            "tenant",
		"traefik.http.middlewares.wf.plugin.gatehouse.routes":                "GET /orgs/{org}/workflows workflows:read,GET /healthz public",
		"traefik.http.middlewares.wf.plugin.gatehouse.tokenSources[0]":       "header:Authorization",
		"traefik.http.middlewares.wf.plugin.gatehouse.tokenSources[1]":       "cookie:session",
		"traefik.http.middlewares.wf.plugin.gatehouse.trustTokenPermissions": "true",
	}
	file := `
http:
  middlewares:
    wf:
      plugin:
        gatehouse:
          issuers: [` + issuer + `]
          audiences: [` + audience + `]
          secret: ` + secret + `
          leeway: 5s
          forwardToken: false
          claims:
            org: tenant
          routes:
            - GET /orgs/{org}/workflows workflows:read
            - GET /healthz public
          tokenSources: [header:Authorization, cookie:session]
          trustTokenPermissions: true
`
	fromLabels, err := loader.FromLabels(labels)
	if err != nil {
		t.Fatal(err)
	}
	fromFile, err := loader.FromFile([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, "HS256", claims("alice", "", nil, mapClaims("tenant", "acme", "permissions", []string{"workflows:read"})), nil)
	for _, l := range loaders(t) {
		for src, conf := range map[string]map[string]interface{}{"labels": fromLabels["wf"], "file": fromFile["wf"]} {
			h, b := instance(t, l, conf)
			rec := serve(h, request{path: "/orgs/acme/workflows", headers: [][2]string{{"Cookie", "session=" + tok}}})
			if rec.Code != 200 || b.header.Get("X-Auth-Org") != "acme" || b.header.Get("Cookie") != "" {
				t.Errorf("%s/%s: status %d org %q cookie %q", l.Name(), src, rec.Code, b.header.Get("X-Auth-Org"), b.header.Get("Cookie"))
			}
			if rec := serve(h, request{path: "/orgs/globex/workflows", token: tok}); rec.Code != 403 {
				t.Errorf("%s/%s: cross-tenant status %d", l.Name(), src, rec.Code)
			}
		}
	}
}

// TestSettingsFile: a shared settings file fills what the labels leave at the default; the labels'
// own values win; unknown options in the file fail New.
func TestSettingsFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "gatehouse.yaml")
	os.WriteFile(good, []byte("issuers: ["+issuer+"]\naudiences: "+audience+"\nsecret: "+secret+"\nleeway: 1s\ntrustTokenPermissions: true\nclaims:\n  org: tenant\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("audiance: x\nclaims:\n  subjct: s\n"), 0o644)
	labels := map[string]string{
		"traefik.http.middlewares.a.plugin.gatehouse.settingsFile": good,
		"traefik.http.middlewares.a.plugin.gatehouse.routes":       "GET /orgs/{org}/w w:read",
		"traefik.http.middlewares.b.plugin.gatehouse.settingsFile": good,
		"traefik.http.middlewares.b.plugin.gatehouse.audiences":    "other-api",
		"traefik.http.middlewares.b.plugin.gatehouse.routes":       "GET /orgs/{org}/w w:read",
	}
	confs, err := loader.FromLabels(labels)
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, "HS256", claims("alice", "", nil, mapClaims("tenant", "acme", "permissions", []string{"w:read"})), nil)
	for _, l := range loaders(t) {
		ha, _ := instance(t, l, confs["a"])
		if rec := serve(ha, request{path: "/orgs/acme/w", token: tok}); rec.Code != 200 {
			t.Errorf("%s: settings from the file: %d %s", l.Name(), rec.Code, rec.Header().Get("WWW-Authenticate"))
		}
		hb, _ := instance(t, l, confs["b"])
		if rec := serve(hb, request{path: "/orgs/acme/w", token: tok}); rec.Code != 401 {
			t.Errorf("%s: the label's audiences must win over the file's: %d", l.Name(), rec.Code)
		}
		_, err := l.New(context.Background(), http.NotFoundHandler(), cfg("settingsFile", bad), "bad")
		if err == nil || !strings.Contains(err.Error(), "settingsFile: audiance: unknown option") || !strings.Contains(err.Error(), "settingsFile: claims.subjct: unknown option") {
			t.Errorf("%s: %v", l.Name(), err)
		}
	}
}
