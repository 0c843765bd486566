package check

import (
	"encoding/json"
	"strings"
	"testing"
)

// fakeSecrets are the secret values of the Kubernetes fixtures: none may appear in any output.
var fakeSecrets = []string{
	"fake-kubernetes-example-secret-change-me-0123456789", // deploy/kubernetes/gatehouse.yaml
	"fake-check-test-secret-base64-0123456789",            // k8s.secret.yaml, as base64 data
	"fake-check-test-secret-stringdata-0123456789",
	"fake-check-test-path-secret-0123456789",
}

func TestKubernetesManifests(t *testing.T) {
	t.Chdir("../..")
	tests := []struct {
		name  string
		files []string
		want  []string // Finding.String() of each finding, in order
	}{
		{"the example manifest checks clean, its secret and policy resolved from the Secret and ConfigMap", []string{"deploy/kubernetes/gatehouse.yaml"}, nil},
		{"a Middleware whose Secret is missing has an unresolved secret named by its option", []string{td + "k8s.nosecret.yaml"}, []string{
			td + `k8s.nosecret.yaml:21: middleware workflows-gatehouse: secret: error: "urn:k8s:secret:gatehouse-hmac:secret": no Secret gatehouse-hmac among the files checked: Traefik reads it from the Middleware's namespace, so pass its manifest in the same check run [unresolved-secret]`,
		}},
		{"a Secret in another file of the same run resolves the reference, base64 data decoded", []string{td + "k8s.nosecret.yaml", td + "k8s.secret.yaml"}, nil},
		{"a broken policy in the ConfigMap gives New's error located in the ConfigMap", []string{td + "k8s.badpolicy.yaml"}, []string{
			td + `k8s.badpolicy.yaml:17: ConfigMap gatehouse-policy, policy.yaml: middleware workflows-gatehouse: roles.viewer[0] "workflows:raed": error: unknown permission: declare it under permissions [invalid-config]`,
		}},
		{"an error New reports with a secret's value prints the value redacted", []string{td + "k8s.echo.yaml"}, []string{
			td + "k8s.echo.yaml:20: middleware workflows-gatehouse: policyFile: error: stat [secret]: no such file or directory [invalid-config]",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings, err := Files(tt.files)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range findings {
				got = append(got, f.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("findings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			js, err := json.Marshal(findings)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range fakeSecrets {
				if strings.Contains(string(js), s) || strings.Contains(strings.Join(got, "\n"), s) {
					t.Errorf("the output shows the secret value %q:\n%s", s, js)
				}
			}
		})
	}
}

func TestSecretReferences(t *testing.T) {
	b := &binder{objects: []*object{
		{kind: "Secret", name: "hmac", namespace: "apps", data: map[string]string{"secret": "v"}, bad: map[string]bool{"raw": true}},
	}}
	tests := []struct {
		name    string
		ref, ns string
		value   string
		problem string // a substring of why the reference does not resolve; "" when it resolves
	}{
		{"a reference resolves from the Secret of the Middleware's namespace", "urn:k8s:secret:hmac:secret", "apps", "v", ""},
		{"a reference resolves when the Middleware's namespace is left to kubectl", "urn:k8s:secret:hmac:secret", "", "v", ""},
		{"a Secret of another namespace does not resolve a reference", "urn:k8s:secret:hmac:secret", "other", "", "no Secret hmac"},
		{"a key the Secret lacks does not resolve", "urn:k8s:secret:hmac:token", "apps", "", `has no key "token"`},
		{"data that is not base64 does not resolve", "urn:k8s:secret:hmac:raw", "apps", "", "is not base64"},
		{"a reference without a key is malformed", "urn:k8s:secret:hmac", "apps", "", "write urn:k8s:secret:NAME:KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, problem := b.secret(tt.ref, tt.ns)
			if v != tt.value || !strings.Contains(problem, tt.problem) || (tt.problem == "") != (problem == "") {
				t.Errorf("value %q, problem %q; want %q, %q", v, problem, tt.value, tt.problem)
			}
		})
	}
}
