package check

import (
	"errors"
	"sort"
	"strings"
	"testing"
)

// td is where the fixtures are, seen from the repository root (the working directory of these
// tests, as Traefik's working_dir is the demo's: settingsFile and policyFile resolve from there).
const td = "server/check/testdata/"

// summary lists findings as "code file option", sorted.
func summary(findings []Finding) []string {
	out := make([]string, 0, len(findings))
	for _, f := range findings {
		out = append(out, f.Code+" "+f.Location.File+" "+f.Location.Option)
	}
	sort.Strings(out)
	return out
}

func TestFindings(t *testing.T) {
	t.Chdir("../..")
	tests := []struct {
		name  string
		files []string
		want  []string
	}{
		{"the demo's compose file, settings and policy are clean", []string{"demo/compose.yaml"}, nil},
		{"a misspelt option and an unknown permission in labels come from New with their locations", []string{td + "invalid.compose.yaml"}, []string{
			"invalid-config " + td + "invalid.compose.yaml routes[0] \"GET /orgs/{org}/workflows/{id} workflows:raed\"",
			"invalid-config " + td + "invalid.compose.yaml unmatchd",
		}},
		{"an unknown option in the settings file is located in the settings file", []string{td + "settingstypo.yaml"}, []string{
			"invalid-config " + td + "settings.typo.yaml secert",
			"invalid-config " + td + "settingstypo.yaml keys",
		}},
		{"a role naming an undeclared permission is located in the policy file", []string{td + "badpolicy.yaml"}, []string{
			"invalid-config " + td + "badpolicy.policy.yaml roles.viewer[0] \"workflows:raed\"",
		}},
		{"a permission no role grants makes its route unreachable", []string{td + "unreachable.yaml"}, []string{
			"unreachable-route " + td + "unreachable.yaml routes[1] \"GET /orgs/{org}/audit audit:read\"",
		}},
		{"permissions no route requires and a role no route needs are flagged in the policy file", []string{td + "unused.yaml"}, []string{
			"unused-permission " + td + "unused.policy.yaml permissions[1] \"workflows:export\"",
			"unused-permission " + td + "unused.policy.yaml permissions[2] \"workflows:archive\"",
			"unused-role " + td + "unused.policy.yaml roles.exporter",
		}},
		{"a route whose every path goes to more specific public and deny routes is shadowed", []string{td + "shadowed.dynamic.yaml"}, []string{
			"shadowed-route " + td + "shadowed.dynamic.yaml routes[0] \"GET /files/{path...} files:read\"",
		}},
		{"unmatched public, shadow mode, trusted permissions without audiences, any audience and an unused {org} are flagged", []string{td + "risky.dynamic.yaml"}, []string{
			"allow-any-audience " + td + "risky.dynamic.yaml allowAnyAudience",
			"shadow-mode " + td + "risky.dynamic.yaml mode",
			"trust-without-audiences " + td + "risky.dynamic.yaml trustTokenPermissions",
			"unmatched-public " + td + "risky.dynamic.yaml unmatched",
			"unused-tenant-placeholder " + td + "risky.dynamic.yaml tenant",
		}},
		{"shadow mode set in the settings file is located there", []string{td + "settings.compose.yaml"}, []string{
			"shadow-mode " + td + "settings.shadow.yaml mode",
		}},
		{"a Kubernetes Middleware is read and the other objects of the manifest are skipped", []string{td + "middleware.k8s.yaml"}, []string{
			"shadow-mode " + td + "middleware.k8s.yaml mode",
		}},
		{"a middleware alone leaves the shared policy's other permissions unused", []string{td + "shared.a.yaml"}, []string{
			"unused-permission demo/policy.yaml permissions[3] \"workflows:delete\"",
			"unused-permission demo/policy.yaml permissions[4] \"workflows:share\"",
		}},
		{"a policy shared by two middlewares counts the routes of both", []string{td + "shared.a.yaml", td + "shared.b.yaml"}, nil},
		{"a route only partly taken by public routes is not shadowed", []string{td + "partial.dynamic.yaml"}, nil},
		{"malformed YAML is an error finding", []string{td + "malformed.yaml"}, []string{"malformed-file " + td + "malformed.yaml "}},
		{"a file without a gatehouse middleware is a warning", []string{td + "other.dynamic.yaml"}, []string{"no-middleware " + td + "other.dynamic.yaml "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings, err := Files(tt.files)
			if err != nil {
				t.Fatal(err)
			}
			got := summary(findings)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("findings:\n  %s\nwant:\n  %s\n(%v)", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "), findings)
			}
		})
	}
}

func TestUnreadableFiles(t *testing.T) {
	t.Chdir("../..")
	for _, tt := range []struct {
		name string
		file string
	}{
		{"a missing file cannot be checked", td + "missing.yaml"},
		{"a TOML file is refused, not misread", td + "dynamic.toml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Files([]string{tt.file}); !errors.Is(err, ErrUnreadable) {
				t.Errorf("err %v, want ErrUnreadable", err)
			}
		})
	}
}

func TestFindingLine(t *testing.T) {
	f := Finding{Severity: Warning, Code: "shadow-mode", Message: "m",
		Location: Location{File: "compose.yaml", Service: "api", Middleware: "api-gatehouse", Option: "mode"}}
	if got, want := f.String(), "compose.yaml: service api: middleware api-gatehouse: mode: warning: m [shadow-mode]"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
