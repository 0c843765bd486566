package check

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/traefik/paerser/file"
	"github.com/traefik/paerser/parser"
	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/server/forwardauth"
)

// ErrUnreadable marks a FILE that cannot be read: a usage error, not a finding.
var ErrUnreadable = errors.New("cannot check")

// pluginName is the plugin's key under a middleware's plugin (experimental.localPlugins.<name>).
const pluginName = "gatehouse"

// Middleware is one gatehouse middleware found in a file, decoded the way Traefik hands it to New.
type Middleware struct {
	Name     string // the name Traefik passes to New: "workflows-gatehouse@docker"
	Location Location
	Config   *gatehouse.Config

	raw       map[string]interface{} // a manifest's options, before Secrets and ConfigMaps are bound
	namespace string                 // a manifest's metadata.namespace
	files     map[string]Location    // files check wrote for ConfigMap keys → where their content is
}

// Load reads a Traefik dynamic configuration (file provider, YAML or TOML), a compose file with
// labels, a Kubernetes Middleware manifest or a plain Gatehouse YAML file, and returns every
// gatehouse middleware in it. Problems decoding a readable file are findings; err is only
// ErrUnreadable.
func Load(path string) ([]Middleware, []Finding, error) {
	mws, findings, _, err := load(path)
	return mws, findings, err
}

// load is Load that also returns the Secrets and ConfigMaps of a manifest.
func load(path string) ([]Middleware, []Finding, []*object, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	if strings.EqualFold(filepath.Ext(path), ".toml") {
		mws, findings := fromTOML(path, data)
		if len(mws) == 0 && len(findings) == 0 {
			findings = append(findings, Finding{Severity: Warning, Code: "no-middleware", Location: Location{File: path},
				Message: "no gatehouse middleware found (no plugin.gatehouse under a middleware)"})
		}
		return mws, findings, nil, nil
	}
	docs, err := documents(data)
	if err != nil {
		return nil, []Finding{malformed(Location{File: path}, err.Error())}, nil, nil
	}
	var mws []Middleware
	var findings []Finding
	var objects []*object
	for _, doc := range docs {
		var m []Middleware
		var f []Finding
		switch {
		case doc["services"] != nil:
			m, f = fromCompose(path, doc)
		case doc["http"] != nil:
			m, f = fromFileProvider(path, doc)
		case doc["apiVersion"] != nil && doc["kind"] != nil:
			m, f = fromManifest(path, doc) // other kinds carry no middleware
			if o := objectOf(path, doc); o != nil {
				objects = append(objects, o)
			}
		default:
			m, f = fromPlain(path, doc)
		}
		mws = append(mws, m...)
		findings = append(findings, f...)
	}
	if len(mws) == 0 && len(findings) == 0 && len(objects) == 0 { // Secrets and ConfigMaps serve manifests of the run
		findings = append(findings, Finding{Severity: Warning, Code: "no-middleware", Location: Location{File: path},
			Message: "no gatehouse middleware found (no plugin.gatehouse under a middleware)"})
	}
	return mws, findings, objects, nil
}

// documents decodes every YAML document of a file (manifests often hold several).
func documents(data []byte) ([]map[string]interface{}, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]interface{}
	for {
		var doc map[string]interface{}
		err := dec.Decode(&doc)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		docs = append(docs, map[string]interface{}{})
	}
	return docs, nil
}

// fromPlain decodes a plain Gatehouse YAML file, as gatehouse forward-auth --config does.
func fromPlain(path string, doc map[string]interface{}) ([]Middleware, []Finding) {
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return decodeOne(Location{File: path, Middleware: name}, name, doc)
}

// fromFileProvider reads http.middlewares.NAME.plugin.gatehouse of a file-provider document.
func fromFileProvider(path string, doc map[string]interface{}) ([]Middleware, []Finding) {
	http, _ := doc["http"].(map[string]interface{})
	mws, _ := http["middlewares"].(map[string]interface{})
	var out []Middleware
	var findings []Finding
	for _, name := range sortedKeys(mws) {
		conf, ok := pluginConf(mws[name])
		if !ok {
			continue
		}
		m, f := decodeOne(Location{File: path, Middleware: name}, name+"@file", conf)
		out = append(out, m...)
		findings = append(findings, f...)
	}
	return out, findings
}

// fromTOML reads http.middlewares.NAME.plugin.gatehouse of a file-provider configuration in TOML,
// decoded as Traefik's file provider decodes it (paerser's file decoder: every scalar a string,
// arrays as typed slices), then handed to New like the other sources.
func fromTOML(path string, data []byte) ([]Middleware, []Finding) {
	var conf labelConfig
	if err := file.DecodeContent(string(data), ".toml", &conf); err != nil {
		loc := Location{File: path}
		var perr toml.ParseError
		if errors.As(err, &perr) {
			loc.Line = perr.Position.Line
		}
		return nil, []Finding{malformed(loc, err.Error())}
	}
	if conf.HTTP == nil {
		return nil, nil
	}
	var out []Middleware
	var findings []Finding
	for _, name := range sortedMiddlewares(conf.HTTP.Middlewares) {
		for plugin, c := range conf.HTTP.Middlewares[name].Plugin {
			if !strings.EqualFold(plugin, pluginName) {
				continue
			}
			if c == nil {
				c = map[string]interface{}{}
			}
			m, f := decodeOne(Location{File: path, Middleware: name}, name+"@file", c)
			out = append(out, m...)
			findings = append(findings, f...)
		}
	}
	return out, findings
}

// fromManifest reads a Traefik Middleware custom resource: spec.plugin.gatehouse.
func fromManifest(path string, doc map[string]interface{}) ([]Middleware, []Finding) {
	if doc["kind"] != "Middleware" {
		return nil, nil
	}
	meta, _ := doc["metadata"].(map[string]interface{})
	name, _ := meta["name"].(string)
	ns, _ := meta["namespace"].(string)
	if ns != "" {
		name = ns + "-" + name
	}
	conf, ok := pluginConf(doc["spec"])
	if !ok {
		return nil, nil
	}
	mws, findings := decodeOne(Location{File: path, Middleware: name}, name+"@kubernetescrd", conf)
	for i := range mws {
		mws[i].raw, mws[i].namespace = conf, ns
	}
	return mws, findings // bound again by Files to the Secrets and ConfigMaps of the run
}

// pluginConf returns the gatehouse plugin's options under a middleware (plugin keys match
// case-insensitively, as Traefik matches plugin names).
func pluginConf(v interface{}) (map[string]interface{}, bool) {
	mw, _ := v.(map[string]interface{})
	plugins, _ := mw["plugin"].(map[string]interface{})
	for k, conf := range plugins {
		if strings.EqualFold(k, pluginName) {
			m, _ := conf.(map[string]interface{})
			if m == nil {
				m = map[string]interface{}{}
			}
			return m, true
		}
	}
	return nil, false
}

// labelConfig is the part of Traefik's dynamic configuration labels can carry that check reads.
type labelConfig struct {
	HTTP *struct {
		Middlewares map[string]*labelMiddleware `json:"middlewares,omitempty"`
	} `json:"http,omitempty"`
}

// labelMiddleware is one middleware of labelConfig: only its plugin options.
type labelMiddleware struct {
	Plugin map[string]map[string]interface{} `json:"plugin,omitempty" label:"plugin"`
}

// fromCompose reads services.*.labels (list or map form) and decodes the middleware labels with
// paerser, as Traefik's Docker provider does.
func fromCompose(path string, doc map[string]interface{}) ([]Middleware, []Finding) {
	services, _ := doc["services"].(map[string]interface{})
	var out []Middleware
	var findings []Finding
	for _, svc := range sortedKeys(services) {
		s, _ := services[svc].(map[string]interface{})
		labels := labelMap(s["labels"])
		var conf labelConfig
		if err := parser.Decode(labels, &conf, parser.DefaultRootName, "traefik.http.middlewares"); err != nil {
			findings = append(findings, malformed(Location{File: path, Service: svc}, "labels: "+err.Error()))
			continue
		}
		if conf.HTTP == nil {
			continue
		}
		for _, name := range sortedMiddlewares(conf.HTTP.Middlewares) {
			for plugin, c := range conf.HTTP.Middlewares[name].Plugin {
				if !strings.EqualFold(plugin, pluginName) {
					continue
				}
				m, f := decodeOne(Location{File: path, Service: svc, Middleware: name}, name+"@docker", c)
				out = append(out, m...)
				findings = append(findings, f...)
			}
		}
	}
	return out, findings
}

// labelMap returns a service's middleware labels ("traefik.http.middlewares." keys) from the list
// form ("key=value") or the map form.
func labelMap(v interface{}) map[string]string {
	out := map[string]string{}
	add := func(k, val string) {
		if strings.HasPrefix(strings.ToLower(k), "traefik.http.middlewares.") {
			out[k] = val
		}
	}
	switch t := v.(type) {
	case []interface{}:
		for _, e := range t {
			k, val, _ := strings.Cut(fmt.Sprint(e), "=")
			add(k, val)
		}
	case map[string]interface{}:
		for k, e := range t {
			if e == nil {
				e = ""
			}
			add(k, fmt.Sprint(e))
		}
	}
	return out
}

// decodeOne hands one middleware's raw options to forwardauth.DecodeConfig, which decodes them the
// way Traefik does (every scalar a string, mapstructure with weak typing and comma split).
func decodeOne(loc Location, name string, conf map[string]interface{}) ([]Middleware, []Finding) {
	data, err := yaml.Marshal(conf)
	if err == nil {
		var cfg *gatehouse.Config
		if cfg, err = forwardauth.DecodeConfig(data); err == nil {
			return []Middleware{{Name: name, Location: loc, Config: cfg}}, nil
		}
	}
	return nil, []Finding{malformed(loc, err.Error())}
}

func malformed(loc Location, msg string) Finding {
	return Finding{Severity: Error, Code: "malformed-file", Location: loc, Message: msg}
}

func sortedKeys(m map[string]interface{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedMiddlewares(m map[string]*labelMiddleware) []string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
