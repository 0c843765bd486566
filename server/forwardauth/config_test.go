package forwardauth

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse"
)

func TestTheConfigurationIsDecodedAsTraefikDecodesIt(t *testing.T) {
	cfg, err := DecodeConfig([]byte(`
Issuers: https://a.example,https://b.example
audiences: [api]
forwardToken: false
cacheSize: 0
leeway: 30s
claims:
  subject: user.id
routes: GET /a public,GET /b public
`))
	if err != nil {
		t.Fatal(err)
	}
	want := &gatehouse.Config{Issuers: []string{"https://a.example", "https://b.example"}, Audiences: []string{"api"}, ForwardToken: "false",
		CacheSize: "0", Leeway: "30s", Claims: gatehouse.ClaimsConfig{Subject: "user.id"}, Routes: []string{"GET /a public", "GET /b public"}}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
}

func TestConfigurationProblemsAreReportedAsThePluginReportsThem(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		says []string
	}{
		{"a misspelled key is refused with a suggestion", strings.Replace(testConfig, "audiences:", "audiance:", 1),
			[]string{"audiance: unknown option (did you mean audiences?)"}},
		{"every problem is reported at once", testConfig + "mode: loud\nleeway: soon\n",
			[]string{"mode: want enforce (default) or shadow", `leeway: not a duration such as 30s: "soon"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := DecodeConfig([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			_, err = New(context.Background(), cfg, Options{})
			for _, s := range tt.says {
				if err == nil || !strings.Contains(err.Error(), s) {
					t.Errorf("error %v, want it to say %q", err, s)
				}
			}
		})
	}
	t.Run("a document that is not a mapping is refused before the plugin sees it", func(t *testing.T) {
		if _, err := DecodeConfig([]byte("just a string")); !errors.Is(err, ErrConfig) {
			t.Errorf("got %v, want ErrConfig", err)
		}
	})
	t.Run("malformed YAML is refused", func(t *testing.T) {
		if _, err := DecodeConfig([]byte("a: [")); !errors.Is(err, ErrConfig) {
			t.Errorf("got %v, want ErrConfig", err)
		}
	})
}
