package gatehouse

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestEveryOptionsOwnValueWinsOverTheSettingsFile walks every option of Config (and of Claims): a
// settings file fills the option when the middleware leaves it unset, and never replaces a value
// the middleware sets, whatever that value is (the default included).
func TestEveryOptionsOwnValueWinsOverTheSettingsFile(t *testing.T) {
	type option struct {
		path []string // field names, e.g. ["Claims", "Subject"]
		kind reflect.Kind
	}
	var options []option
	var walk func(typ reflect.Type, prefix []string)
	walk = func(typ reflect.Type, prefix []string) {
		for i := 0; i < typ.NumField(); i++ {
			f := typ.Field(i)
			if f.Name == "Unknown" || f.Name == "SettingsFile" {
				continue
			}
			p := append(append([]string{}, prefix...), f.Name)
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, p)
				continue
			}
			options = append(options, option{path: p, kind: f.Type.Kind()})
		}
	}
	walk(reflect.TypeOf(Config{}), nil)
	if len(options) < 35 {
		t.Fatalf("found only %d options", len(options))
	}
	field := func(c *Config, path []string) reflect.Value {
		v := reflect.ValueOf(c).Elem()
		for _, name := range path {
			v = v.FieldByName(name)
		}
		return v
	}
	for _, o := range options {
		o := o
		name := strings.Join(o.path, ".")
		yamlKey := strings.ToLower(o.path[len(o.path)-1])
		doc := yamlKey + ": from-the-file\n"
		if len(o.path) == 2 {
			doc = strings.ToLower(o.path[0]) + ":\n  " + yamlKey + ": from-the-file\n"
		}
		file := filepath.Join(t.TempDir(), "settings.yaml")
		if err := os.WriteFile(file, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		own := reflect.ValueOf("own-value")
		fromFile := reflect.ValueOf("from-the-file")
		if o.kind == reflect.Slice {
			own = reflect.ValueOf([]string{"own-value"})
			fromFile = reflect.ValueOf([]string{"from-the-file"})
		}
		t.Run("the file fills "+name+" when the middleware leaves it unset", func(t *testing.T) {
			c := CreateConfig()
			c.SettingsFile = file
			p := &problems{}
			applySettingsFile(p, c)
			if len(p.list) > 0 {
				t.Fatal(p.list)
			}
			if got := field(c, o.path).Interface(); !reflect.DeepEqual(got, fromFile.Interface()) {
				t.Errorf("%s = %v, want the file's value", name, got)
			}
		})
		t.Run("the middleware's own "+name+" wins over the file", func(t *testing.T) {
			c := CreateConfig()
			c.SettingsFile = file
			field(c, o.path).Set(own)
			p := &problems{}
			applySettingsFile(p, c)
			if got := field(c, o.path).Interface(); !reflect.DeepEqual(got, own.Interface()) {
				t.Errorf("%s = %v, want the middleware's own value", name, got)
			}
		})
	}
}
