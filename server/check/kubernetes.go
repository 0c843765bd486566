package check

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// secretURN is the prefix of Traefik v3's reference to a Kubernetes Secret in a plugin option of a
// Middleware custom resource: urn:k8s:secret:NAME:KEY, read from the Middleware's namespace.
const secretURN = "urn:k8s:secret:"

// object is a Secret or a ConfigMap of a manifest: its data, decoded.
type object struct {
	kind      string // "Secret" or "ConfigMap"
	name      string
	namespace string // "" when the manifest leaves it to kubectl
	file      string
	data      map[string]string
	bad       map[string]bool // Secret data keys whose value is not base64
}

// objectOf returns the Secret or ConfigMap a manifest document declares, nil for other kinds.
// A Secret's stringData wins over its data, as the API server merges them.
func objectOf(path string, doc map[string]interface{}) *object {
	kind, _ := doc["kind"].(string)
	if kind != "Secret" && kind != "ConfigMap" {
		return nil
	}
	meta, _ := doc["metadata"].(map[string]interface{})
	o := &object{kind: kind, file: path, data: map[string]string{}, bad: map[string]bool{}}
	o.name, _ = meta["name"].(string)
	o.namespace, _ = meta["namespace"].(string)
	data, _ := doc["data"].(map[string]interface{})
	for k, v := range data {
		s := scalar(v)
		if kind == "ConfigMap" {
			o.data[k] = s
			continue
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			o.bad[k] = true
			continue
		}
		o.data[k] = string(b)
	}
	if kind == "Secret" {
		str, _ := doc["stringData"].(map[string]interface{})
		for k, v := range str {
			o.data[k] = scalar(v)
			delete(o.bad, k)
		}
	}
	return o
}

func scalar(v interface{}) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// sameNamespace reports whether an object can serve a Middleware: the namespaces agree, or one of
// them is left to kubectl.
func (o *object) sameNamespace(ns string) bool {
	return o.namespace == "" || ns == "" || o.namespace == ns
}

// binder resolves the references of Middleware manifests to the Secrets and ConfigMaps of the
// same check run. Files it writes for ConfigMap keys live in dir until cleanup.
type binder struct {
	objects []*object
	dir     string
}

// binding is what bind did to one middleware.
type binding struct {
	findings   []Finding
	secrets    []string        // resolved secret values, redacted from every finding
	unresolved map[string]bool // lower-case options whose reference did not resolve
	files      map[string]Location
}

// bind substitutes the Secrets and ConfigMaps a Middleware manifest refers to and decodes it
// again. Middlewares not read from a manifest are returned as they are.
func (b *binder) bind(m Middleware) (Middleware, *binding) {
	bd := &binding{unresolved: map[string]bool{}, files: map[string]Location{}}
	if m.raw == nil {
		return m, bd
	}
	conf, _ := b.walk(m.raw, "", m.namespace, m.Location, bd).(map[string]interface{})
	for _, k := range sortedKeys(conf) {
		if strings.EqualFold(k, "policyFile") || strings.EqualFold(k, "settingsFile") {
			if s, ok := conf[k].(string); ok {
				conf[k] = b.standIn(s, m.namespace, bd)
			}
		}
	}
	mws, f := decodeOne(m.Location, m.Name, conf)
	bd.findings = append(bd.findings, f...)
	if len(mws) == 0 {
		return Middleware{}, bd
	}
	out := mws[0]
	out.files = bd.files
	return out, bd
}

// walk copies an option value, replacing every secret reference by the Secret's value.
func (b *binder) walk(v interface{}, option, ns string, loc Location, bd *binding) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		out := make(map[string]interface{}, len(t))
		for _, k := range sortedKeys(t) {
			sub := k
			if option != "" {
				sub = option + "." + k
			}
			out[k] = b.walk(t[k], sub, ns, loc, bd)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(t))
		for i, e := range t {
			out[i] = b.walk(e, option+"["+strconv.Itoa(i)+"]", ns, loc, bd)
		}
		return out
	case string:
		if !strings.HasPrefix(t, secretURN) {
			return t
		}
		val, msg := b.secret(t, ns)
		if msg != "" {
			loc.Option = option
			bd.findings = append(bd.findings, Finding{Severity: Error, Code: "unresolved-secret", Location: loc, Message: msg})
			bd.unresolved[strings.ToLower(option)] = true
			return t
		}
		bd.secrets = append(bd.secrets, val)
		return val
	}
	return v
}

// secret returns the value a reference names, or why it does not resolve.
func (b *binder) secret(ref, ns string) (string, string) {
	parts := strings.Split(ref, ":")
	if len(parts) != 5 || parts[3] == "" || parts[4] == "" {
		return "", strconv.Quote(ref) + " is not a secret reference: write urn:k8s:secret:NAME:KEY"
	}
	name, key := parts[3], parts[4]
	found := false
	for _, o := range b.objects {
		if o.kind != "Secret" || o.name != name || !o.sameNamespace(ns) {
			continue
		}
		found = true
		if o.bad[key] {
			return "", "Secret " + name + " in " + o.file + ": data." + key + " is not base64 (use stringData for plain text)"
		}
		if v, ok := o.data[key]; ok {
			return v, ""
		}
	}
	if found {
		return "", strconv.Quote(ref) + ": Secret " + name + " has no key " + strconv.Quote(key)
	}
	return "", strconv.Quote(ref) + ": no Secret " + name + " among the files checked: Traefik reads it from the Middleware's namespace, so pass its manifest in the same check run"
}

// standIn returns path when it exists; otherwise, when a ConfigMap of the run has a data key
// equal to the file's base name (the ConfigMap mounted where the path points), a file check
// writes with that content, whose findings are located in the ConfigMap.
func (b *binder) standIn(path, ns string, bd *binding) string {
	if path == "" || b.dir == "" {
		return path
	}
	if _, err := os.Stat(path); err == nil {
		return path
	}
	key := filepath.Base(path)
	for _, o := range b.objects {
		content, ok := o.data[key]
		if o.kind != "ConfigMap" || !ok || !o.sameNamespace(ns) {
			continue
		}
		f, err := os.CreateTemp(b.dir, "configmap-*-"+key)
		if err != nil {
			return path
		}
		_, werr := f.WriteString(content)
		if cerr := f.Close(); werr != nil || cerr != nil {
			return path
		}
		bd.files[f.Name()] = Location{File: o.file, Object: "ConfigMap " + o.name + ", " + key}
		return f.Name()
	}
	return path
}

// apply settles a middleware's findings with its binding: New's complaints about an option whose
// reference did not resolve are dropped (the unresolved-secret finding stands for them), and no
// secret value is ever printed.
func (bd *binding) apply(findings []Finding) []Finding {
	var out []Finding
	for _, f := range findings {
		opt := strings.ToLower(f.Location.Option)
		if i := strings.IndexAny(opt, "[ "); i >= 0 && !bd.unresolved[opt] {
			opt = opt[:i]
		}
		if bd.unresolved[opt] && f.Code == "invalid-config" {
			continue
		}
		out = append(out, bd.redact(f))
	}
	return out
}

// minRedacted is the shortest secret value redacted from messages: shorter ones would garble them.
const minRedacted = 4

func (bd *binding) redact(f Finding) Finding {
	secrets := append([]string(nil), bd.secrets...)
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	for _, s := range secrets {
		if len(s) >= minRedacted {
			f.Message = strings.ReplaceAll(f.Message, s, "[secret]")
			f.Location.Option = strings.ReplaceAll(f.Location.Option, s, "[secret]")
		}
	}
	for tmp, loc := range bd.files {
		f.Message = strings.ReplaceAll(f.Message, tmp, loc.File+" ("+loc.Object+")")
	}
	return f
}
