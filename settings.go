package gatehouse

import (
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// applySettingsFile fills, from the YAML document at c.SettingsFile, every option the middleware's
// own configuration left unset (absent or empty): a value the middleware sets wins, even when it
// equals the default (CreateConfig leaves every option unset; New applies defaults afterwards). It lets many middlewares (one per service in Docker labels)
// share issuer settings written once: the labels then carry only settingsFile and routes.
// Options are matched case-insensitively, values may be strings, lists may be comma-separated.
func applySettingsFile(p *problems, c *Config) {
	data, err := os.ReadFile(c.SettingsFile)
	if err != nil {
		p.add("settingsFile", "cannot read: "+err.Error())
		return
	}
	doc, err := parseSettings(data)
	if err != nil {
		p.add("settingsFile", err.Error())
		return
	}
	fill(p, "settingsFile: ", reflect.ValueOf(c).Elem(), reflect.ValueOf(CreateConfig()).Elem(), doc)
}

// parseSettings decodes the document, surviving yaml.v3's panics under Yaegi.
func parseSettings(data []byte) (doc map[string]interface{}, err error) {
	defer func() {
		if r := recover(); r != nil {
			doc = nil
			err = errSettings
		}
	}()
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// fill sets the fields of dst named by doc's keys, where dst is still unset (equal to def, the empty
// configuration).
func fill(p *problems, where string, dst, def reflect.Value, doc map[string]interface{}) {
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := strings.ToLower(k)
		f := dst.FieldByNameFunc(func(n string) bool { return strings.ToLower(n) == name })
		if !f.IsValid() || name == "unknown" || name == "settingsfile" {
			p.add(where+k, "unknown option")
			continue
		}
		d := def.FieldByNameFunc(func(n string) bool { return strings.ToLower(n) == name })
		if f.Kind() == reflect.Struct {
			m, ok := stringMap(doc[k])
			if !ok {
				p.add(where+k, "must be a mapping")
				continue
			}
			fill(p, where+k+".", f, d, m)
			continue
		}
		if !reflect.DeepEqual(f.Interface(), d.Interface()) {
			continue // the middleware's own value wins, whatever it is
		}
		if msg := setValue(f, doc[k]); msg != "" {
			p.add(where+k, msg)
		}
	}
}

// setValue assigns a YAML value to a string, bool, int or []string field.
func setValue(f reflect.Value, v interface{}) string {
	s := scalar(v)
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return "want true or false"
		}
		f.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return "want a whole number"
		}
		f.SetInt(int64(n))
	case reflect.Slice:
		var list []string
		if items, ok := v.([]interface{}); ok {
			for _, it := range items {
				list = append(list, scalar(it))
			}
		} else {
			list = strings.Split(s, ",")
		}
		f.Set(reflect.ValueOf(list))
	default:
		return "cannot be set from a settings file"
	}
	return ""
}

// stringMap accepts a nested YAML mapping; under Yaegi, yaml.v3 decodes it as
// map[interface{}]interface{} rather than map[string]interface{}.
func stringMap(v interface{}) (map[string]interface{}, bool) {
	switch m := v.(type) {
	case map[string]interface{}:
		return m, true
	case map[interface{}]interface{}:
		out := make(map[string]interface{}, len(m))
		for k, e := range m {
			out[scalar(k)] = e
		}
		return out, true
	}
	return nil, false
}

func scalar(v interface{}) string {
	switch t := v.(type) {
	case string:
		return t
	case bool:
		return strconv.FormatBool(t)
	case int:
		return strconv.Itoa(t)
	case nil:
		return ""
	}
	b, _ := yaml.Marshal(v)
	return strings.TrimSpace(string(b))
}
