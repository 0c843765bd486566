package admin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse"
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
