package check

import (
	"encoding/json"
	"errors"
	"sort"
	"strconv"
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
		{"a TOML dynamic configuration gives the findings of its YAML equivalent", []string{td + "risky.dynamic.toml"}, []string{
			"allow-any-audience " + td + "risky.dynamic.toml allowAnyAudience",
			"shadow-mode " + td + "risky.dynamic.toml mode",
			"trust-without-audiences " + td + "risky.dynamic.toml trustTokenPermissions",
			"unmatched-public " + td + "risky.dynamic.toml unmatched",
			"unused-tenant-placeholder " + td + "risky.dynamic.toml tenant",
		}},
		{"New's errors in a TOML dynamic configuration name the option and the array item", []string{td + "invalid.dynamic.toml"}, []string{
			"invalid-config " + td + "invalid.dynamic.toml routes[1] \"GET /orgs/{org}/workflows/{id} workflows:raed\"",
			"invalid-config " + td + "invalid.dynamic.toml unmatchd",
		}},
		{"a TOML secret is decoded as a string and checked by New", []string{td + "dynamic.toml"}, []string{
			"invalid-config " + td + "dynamic.toml keys",
			"invalid-config " + td + "dynamic.toml secret",
		}},
		{"TOML that does not parse is an error finding", []string{td + "broken.dynamic.toml"}, []string{"malformed-file " + td + "broken.dynamic.toml "}},
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
		{"a missing TOML file cannot be checked", td + "missing.toml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Files([]string{tt.file}); !errors.Is(err, ErrUnreadable) {
				t.Errorf("err %v, want ErrUnreadable", err)
			}
		})
	}
}

func TestFindingLine(t *testing.T) {
	for _, tt := range []struct {
		name string
		line int
		want string
	}{
		{"a finding without a known line names the file alone", 0, "compose.yaml: service api: middleware api-gatehouse: mode: warning: m [shadow-mode]"},
		{"a finding with a line names it as file:line", 12, "compose.yaml:12: service api: middleware api-gatehouse: mode: warning: m [shadow-mode]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := Finding{Severity: Warning, Code: "shadow-mode", Message: "m",
				Location: Location{File: "compose.yaml", Line: tt.line, Service: "api", Middleware: "api-gatehouse", Option: "mode"}}
			if got := f.String(); got != tt.want {
				t.Errorf("%q, want %q", got, tt.want)
			}
		})
	}
}

// TestFindingLines: each finding's line is the line of what it names, in every kind of source.
func TestFindingLines(t *testing.T) {
	t.Chdir("../..")
	tests := []struct {
		name   string
		file   string
		code   string
		file2  string // the file the finding is in, when not file
		option string // a prefix of the finding's option
		line   int
	}{
		{"YAML file provider: the option's key", td + "risky.dynamic.yaml", "shadow-mode", "", "mode", 11},
		{"YAML file provider: the middleware's key for an option left unset", td + "risky.dynamic.yaml", "unused-tenant-placeholder", "", "tenant", 4},
		{"YAML file provider: the route's list item", td + "shadowed.dynamic.yaml", "shadowed-route", "", "routes[0]", 17},
		{"YAML inline policy in a literal block: the line inside the block", td + "inline.dynamic.yaml", "unused-permission", "", "policy permissions[1]", 13},
		{"plain YAML: a route's list item", td + "unreachable.yaml", "unreachable-route", "", "routes[1]", 5},
		{"plain YAML: the document's first key for an option nowhere in the file", td + "settingstypo.yaml", "invalid-config", "", "keys", 2},
		{"settings file: the unknown key's line", td + "settingstypo.yaml", "invalid-config", td + "settings.typo.yaml", "secert", 1},
		{"policy file: a role's item in a flow sequence", td + "badpolicy.yaml", "invalid-config", td + "badpolicy.policy.yaml", "roles.viewer[0]", 3},
		{"policy file: an unused role's key", td + "unused.yaml", "unused-role", td + "unused.policy.yaml", "roles.exporter", 4},
		{"compose labels (map form): the option's label", td + "invalid.compose.yaml", "invalid-config", "", "unmatchd", 10},
		{"compose labels: a route inside a comma-separated label is the label's line", td + "invalid.compose.yaml", "invalid-config", "", "routes[0]", 9},
		{"compose labels (list form) with the option from the settings file: the settings file's line", td + "settings.compose.yaml", "shadow-mode", td + "settings.shadow.yaml", "mode", 3},
		{"Kubernetes Middleware: the option under spec.plugin.gatehouse", td + "middleware.k8s.yaml", "shadow-mode", "", "mode", 19},
		{"Kubernetes ConfigMap: the line inside the data key's literal block", td + "k8s.badpolicy.yaml", "invalid-config", "", "roles.viewer[0]", 17},
		{"TOML: the option's key in the middleware's table", td + "risky.dynamic.toml", "shadow-mode", "", "mode", 7},
		{"TOML: the middleware's table for an option left unset", td + "risky.dynamic.toml", "unused-tenant-placeholder", "", "tenant", 2},
		{"TOML: an item of a multi-line array", td + "invalid.dynamic.toml", "invalid-config", "", "routes[1]", 13},
		{"TOML: an unknown option's key", td + "invalid.dynamic.toml", "invalid-config", "", "unmatchd", 5},
		{"TOML that does not parse: the decoder's line", td + "broken.dynamic.toml", "malformed-file", "", "", 4},
		{"YAML that does not parse: the decoder's line", td + "malformed.yaml", "malformed-file", "", "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings, err := Files([]string{tt.file})
			if err != nil {
				t.Fatal(err)
			}
			in := tt.file2
			if in == "" {
				in = tt.file
			}
			var seen []string
			for _, f := range findings {
				if f.Code == tt.code && f.Location.File == in && strings.HasPrefix(f.Location.Option, tt.option) {
					if f.Location.Line != tt.line {
						t.Errorf("%s: line %d, want %d", f, f.Location.Line, tt.line)
					}
					return
				}
				seen = append(seen, f.String())
			}
			t.Errorf("no %s finding in %s at %q; got:\n  %s", tt.code, in, tt.option, strings.Join(seen, "\n  "))
		})
	}
}

func TestFindingsInJSONCarryTheLine(t *testing.T) {
	t.Chdir("../..")
	findings, err := Files([]string{td + "risky.dynamic.toml"})
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(findings[0].Location)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"line":` + strconv.Itoa(findings[0].Location.Line) + `,`; findings[0].Location.Line == 0 || !strings.Contains(string(js), want) {
		t.Errorf("%s, want a line field", js)
	}
}
