package admin

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/tokens"
)

// TestAGatewaysSettingsFileWillDo: the token settings may come from a settingsFile; the options
// that decide routes and policy in it (and in the configuration itself) are ignored, so a
// gateway's settings file can be given to serve as it is. A misspelled option still fails.
func TestAGatewaysSettingsFileWillDo(t *testing.T) {
	dir := t.TempDir()
	settings := filepath.Join(dir, "settings.yaml")
	os.WriteFile(settings, []byte("issuers: ["+testIssuer+"]\naudiences: ["+testAud+"]\nsecret: "+testSecret+
		"\nroutes: [GET /v1/roles public]\npolicyFile: /nonexistent.yaml\ntrustTokenPermissions: \"true\"\ntenant: none\n"), 0o600)
	c := gatehouse.CreateConfig()
	c.SettingsFile = settings
	c.Unmatched = "public"
	e := newEnv(t, withConfig(c))
	e.must(401, req{method: "GET", path: "/v1/roles"})
	e.must(200, req{method: "GET", path: "/v1/roles", token: tok(t, root, adminOrgID)})
	e.must(403, req{method: "GET", path: "/v1/changes", token: mint(t, "mallory", adminOrgID, 10*time.Minute, claims{"permissions": []string{"gatehouse:audit:read"}})})

	bad := gatehouse.CreateConfig()
	bad.Secret = testSecret
	bad.Unknown = map[string]interface{}{"audiance": "x"}
	st := e.store
	if _, err := New(ctx, Options{Store: st, Config: bad}); err == nil || !strings.Contains(err.Error(), "audiance") {
		t.Fatalf("a misspelled option: %v", err)
	}
	if _, err := New(ctx, Options{Store: st}); err == nil {
		t.Fatal("no token settings were accepted")
	}
}

// TestAdminPolicyRenamesRolesAndDropsAssignmentsNewWouldRefuse: the admin policy's roles carry a
// double quote (no token role claim can), and the assignments kept are those gatehouse.New accepts
// for the trusted issuers.
func TestAdminPolicyRenamesRolesAndDropsAssignmentsNewWouldRefuse(t *testing.T) {
	doc := `{"permissions":["gatehouse:policy:read"],"roles":{"gatehouse-auditor":["gatehouse:policy:read"]},"assignments":[` +
		`{"subject":"a","org":"o","role":"gatehouse-auditor"},` +
		`{"subject":"b","issuer":"https://one","org":"o","role":"gatehouse-auditor"},` +
		`{"subject":"c","issuer":"https://untrusted","org":"o","role":"gatehouse-auditor"}]}`
	for _, c := range []struct {
		name    string
		issuers []string
		kept    string // subjects kept
	}{
		{"no issuers configured: every assignment", nil, "abc"},
		{"one issuer: unqualified ones and its own", []string{"https://one"}, "ab"},
		{"two issuers: only qualified ones of a trusted issuer", []string{"https://one", "https://two"}, "b"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pol, dropped, err := adminPolicy([]byte(doc), c.issuers)
			if err != nil {
				t.Fatal(err)
			}
			var d struct {
				Roles       map[string][]string `json:"roles"`
				Assignments []map[string]string `json:"assignments"`
			}
			if err := json.Unmarshal([]byte(pol), &d); err != nil {
				t.Fatal(err)
			}
			kept := ""
			for _, a := range d.Assignments {
				kept += a["subject"]
				if a["role"] != `gatehouse-auditor"store` {
					t.Fatalf("role %q", a["role"])
				}
			}
			if _, ok := d.Roles[`gatehouse-auditor"store`]; !ok || len(d.Roles) != 1 || kept != c.kept || dropped != 3-len(c.kept) {
				t.Fatalf("roles %v, kept %q, dropped %d", d.Roles, kept, dropped)
			}
			if _, err := policy.Parse([]byte(pol)); err != nil {
				t.Fatalf("the admin policy does not parse: %v", err)
			}
			if tokens.ValidListElement(`gatehouse-auditor"store`) {
				t.Fatal("a token role claim could name the renamed role")
			}
		})
	}
}
