package forwardauth

import (
	"errors"
	"fmt"
	"net/textproto"
	"os"
	"strings"

	"github.com/mitchellh/mapstructure"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// ErrConfig marks a configuration file that cannot be read or decoded (New's own validation
// errors are returned as gatehouse.New reports them).
var ErrConfig = errors.New("configuration file")

// LoadConfig reads a plain Gatehouse YAML file (the plugin's keys at the top level, exactly as
// under a middleware's plugin.gatehouse in a Traefik dynamic configuration) and decodes it the way
// Traefik hands a configuration to the plugin: every scalar turned into a string, then mapstructure
// with WeaklyTypedInput and a comma-splitting string-to-slice hook. Keys match case-insensitively;
// a key Gatehouse does not know lands in Config.Unknown, which gatehouse.New refuses.
func LoadConfig(path string) (*gatehouse.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return DecodeConfig(data)
}

// DecodeConfig decodes a plain Gatehouse YAML document as LoadConfig does.
func DecodeConfig(data []byte) (*gatehouse.Config, error) {
	var doc interface{}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if doc == nil {
		doc = map[string]interface{}{}
	}
	m, ok := stringify(doc).(map[string]interface{})
	if !ok {
		return nil, fmt.Errorf("%w: want a mapping of Gatehouse options at the top level", ErrConfig)
	}
	cfg := gatehouse.CreateConfig()
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.StringToSliceHookFunc(","),
		WeaklyTypedInput: true,
		Result:           cfg,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return cfg, nil
}

// stringify turns every scalar of a decoded YAML value into its string form, as Traefik's file
// provider and labels hand every value to a plugin.
func stringify(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, e := range t {
			m[k] = stringify(e)
		}
		return m
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = stringify(e)
		}
		return m
	case []interface{}:
		s := make([]interface{}, len(t))
		for i, e := range t {
			s[i] = stringify(e)
		}
		return s
	case nil:
		return ""
	case string:
		return t
	}
	return fmt.Sprint(v)
}

// names are the header names a decision hands to the backend, and the routes, as the middleware
// resolves them: the configuration's own value, else the settingsFile's, else the plugin's default.
// The server needs them to name the headers of a 200 answer and to label metrics; it reads them
// only after gatehouse.New accepted the same configuration, so the settings file is known to be
// valid.
type names struct {
	prefix   string   // the identity prefix, CGI-folded ("x_auth_")
	identity []string // canonical X-Auth-Subject, -Issuer, -Org, -Roles, -Permissions (under the prefix)
	tenant   string   // the tenant header in header mode, canonical; "" otherwise
	routes   []string
}

// defaultPrefix is the plugin's default headerPrefix.
const defaultPrefix = "X-Auth-"

func resolveNames(cfg *gatehouse.Config) names {
	prefix := strings.TrimSpace(cfg.HeaderPrefix)
	tenant := cfg.Tenant
	routes := cfg.Routes
	if cfg.SettingsFile != "" {
		doc := settingsDoc(cfg.SettingsFile)
		if prefix == "" {
			prefix = strings.TrimSpace(settingString(doc, "headerprefix"))
		}
		if tenant == "" {
			tenant = settingString(doc, "tenant")
		}
		if len(routes) == 0 {
			routes = settingList(doc, "routes")
		}
	}
	if prefix == "" {
		prefix = defaultPrefix
	}
	n := names{prefix: fold(prefix), routes: routes}
	for _, s := range []string{"Subject", "Issuer", "Org", "Roles", "Permissions"} {
		n.identity = append(n.identity, textproto.CanonicalMIMEHeaderKey(prefix+s))
	}
	if t, err := policy.ParseTenant(tenant); err == nil && t.Mode() == "header" {
		n.tenant = t.Header()
	}
	return n
}

// fold reads a header name the way the plugin's header rule does (as CGI, WSGI, PHP-FPM and Rack
// read it): ASCII letters in lower case, digits kept, every other byte "_".
func fold(name string) string {
	b := []byte(name)
	for i, c := range b {
		switch {
		case c >= 'A' && c <= 'Z':
			b[i] = c + 'a' - 'A'
		case (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'):
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

// settingsDoc reads a settings file into a map with lower-cased keys (nil if unreadable).
func settingsDoc(path string) map[string]interface{} {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var doc map[string]interface{}
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	out := make(map[string]interface{}, len(doc))
	for k, v := range doc {
		out[strings.ToLower(k)] = stringify(v)
	}
	return out
}

func settingString(doc map[string]interface{}, key string) string {
	s, _ := doc[key].(string)
	return s
}

// settingList reads a list option as the settings file does: a YAML list or a comma-separated string.
func settingList(doc map[string]interface{}, key string) []string {
	switch v := doc[key].(type) {
	case []interface{}:
		var out []string
		for _, e := range v {
			s, _ := e.(string)
			out = append(out, s)
		}
		return out
	case string:
		if v == "" {
			return nil
		}
		return strings.Split(v, ",")
	}
	return nil
}
