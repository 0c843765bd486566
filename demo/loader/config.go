package loader

import (
	"fmt"
	"strings"

	"github.com/traefik/paerser/parser"
	"gopkg.in/yaml.v3"
)

// PluginName is the plugin's key under experimental.localPlugins / plugin.<name>.
const PluginName = "gatehouse"

type pluginConf map[string]interface{}

type dynamic struct {
	HTTP *struct {
		Middlewares map[string]*struct {
			Plugin map[string]pluginConf `json:"plugin,omitempty" label:"plugin"`
		} `json:"middlewares,omitempty"`
	} `json:"http,omitempty"`
}

// FromLabels decodes Docker labels the way Traefik's Docker provider does (paerser) and returns the
// raw configuration map of the gatehouse plugin of each middleware that has one.
func FromLabels(labels map[string]string) (map[string]map[string]interface{}, error) {
	filtered := map[string]string{}
	for k, v := range labels {
		if strings.HasPrefix(strings.ToLower(k), "traefik.http.middlewares.") {
			filtered[k] = v
		}
	}
	var d dynamic
	if err := parser.Decode(filtered, &d, parser.DefaultRootName, "traefik.http.middlewares"); err != nil {
		return nil, fmt.Errorf("decode labels: %w", err)
	}
	out := map[string]map[string]interface{}{}
	if d.HTTP == nil {
		return out, nil
	}
	for name, m := range d.HTTP.Middlewares {
		if m == nil {
			continue
		}
		for plugin, conf := range m.Plugin {
			if strings.EqualFold(plugin, PluginName) {
				out[name] = conf
			}
		}
	}
	return out, nil
}

// FromFile reads a file-provider YAML document and returns the gatehouse configuration of each
// middleware, with every scalar turned into a string as Traefik's file provider hands it over.
func FromFile(doc []byte) (map[string]map[string]interface{}, error) {
	var raw struct {
		HTTP struct {
			Middlewares map[string]struct {
				Plugin map[string]interface{} `yaml:"plugin"`
			} `yaml:"middlewares"`
		} `yaml:"http"`
	}
	if err := yaml.Unmarshal(doc, &raw); err != nil {
		return nil, err
	}
	out := map[string]map[string]interface{}{}
	for name, m := range raw.HTTP.Middlewares {
		for plugin, conf := range m.Plugin {
			if strings.EqualFold(plugin, PluginName) {
				c, _ := Stringify(conf).(map[string]interface{})
				out[name] = c
			}
		}
	}
	return out, nil
}

// Stringify turns every scalar of a decoded YAML value into its string form.
func Stringify(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := map[string]interface{}{}
		for k, e := range t {
			m[k] = Stringify(e)
		}
		return m
	case []interface{}:
		s := make([]interface{}, len(t))
		for i, e := range t {
			s[i] = Stringify(e)
		}
		return s
	case nil:
		return ""
	case string:
		return t
	}
	return fmt.Sprint(v)
}
