// Package check reviews Gatehouse configurations as users write them (Traefik dynamic
// configuration files, compose files with labels, Kubernetes Middleware manifests, plain Gatehouse
// YAML) before they reach production. It decodes each gatehouse middleware the way Traefik does,
// hands it to gatehouse.New and reports every error New returns, then adds the findings a reviewer
// would flag in a configuration New accepts. It never re-implements a rule: routes are compiled by
// matcher.Compile and tested with Table.Match, policies are compiled by policy.Parse.
//
// The functions of this package read files relative to the working directory, as Traefik
// resolves settingsFile and policyFile; they are safe for concurrent use only if the working
// directory does not change. Files writes the ConfigMap content it hands to New to a temporary
// directory it removes before returning.
package check

import (
	"context"
	"net/http"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse"
	"github.com/gatehouse-dev/gatehouse/server/forwardauth"
)

// Severities of a finding.
const (
	Error   = "error"
	Warning = "warning"
)

// Location says where a finding is: the file, the object of a manifest holding the content
// ("ConfigMap gatehouse-policy, policy.yaml"), the compose service, the middleware and the option
// (`routes[3] "GET /x x:read"`, `roles.viewer`, `mode`). Empty fields do not apply.
type Location struct {
	File       string `json:"file"`
	Line       int    `json:"line,omitempty"` // 1-based; 0 when not known
	Object     string `json:"object,omitempty"`
	Service    string `json:"service,omitempty"`
	Middleware string `json:"middleware,omitempty"`
	Option     string `json:"option,omitempty"`
}

// String formats the location as "FILE:LINE: OBJECT: service S: middleware M: OPTION".
func (l Location) String() string {
	parts := []string{l.File}
	if l.Line > 0 {
		parts[0] += ":" + strconv.Itoa(l.Line)
	}
	if l.Object != "" {
		parts = append(parts, l.Object)
	}
	if l.Service != "" {
		parts = append(parts, "service "+l.Service)
	}
	if l.Middleware != "" {
		parts = append(parts, "middleware "+l.Middleware)
	}
	if l.Option != "" {
		parts = append(parts, l.Option)
	}
	return strings.Join(parts, ": ")
}

// Finding is one problem: its severity (Error or Warning), a stable code such as
// "unreachable-route", where it is, and a sentence.
type Finding struct {
	Severity string   `json:"severity"`
	Code     string   `json:"code"`
	Location Location `json:"location"`
	Message  string   `json:"message"`
}

// String formats the finding as one line: "LOCATION: SEVERITY: MESSAGE [CODE]".
func (f Finding) String() string {
	return f.Location.String() + ": " + f.Severity + ": " + f.Message + " [" + f.Code + "]"
}

// Files checks every middleware of every file, in order. Permissions and roles a policy declares
// count as used when any middleware of these files that shares the policy needs them, so pass
// every file that uses a shared policy in one call. A Kubernetes Middleware's secret references
// (urn:k8s:secret:NAME:KEY) and its policyFile or settingsFile missing on disk are resolved from
// the Secrets and ConfigMaps of these files. The error is only ErrUnreadable.
func Files(paths []string) ([]Finding, error) {
	type loaded struct {
		mws      []Middleware
		findings []Finding
	}
	files := make([]loaded, 0, len(paths))
	b := &binder{}
	for _, path := range paths {
		mws, findings, objects, err := load(path)
		if err != nil {
			return nil, err
		}
		files = append(files, loaded{mws: mws, findings: findings})
		b.objects = append(b.objects, objects...)
	}
	if len(b.objects) > 0 {
		if dir, err := os.MkdirTemp("", "gatehouse-check-"); err == nil {
			b.dir = dir
			defer os.RemoveAll(dir)
		}
	}
	var all []Finding
	uses := map[string]*policyUse{}
	var order []string
	for _, f := range files {
		all = append(all, f.findings...)
		for _, m := range f.mws {
			m, bd := b.bind(m)
			if m.Config == nil {
				all = append(all, bd.apply(bd.findings)...)
				continue
			}
			r := Check(m)
			all = append(all, bd.apply(append(bd.findings, r.Findings...))...)
			if r.policy == nil {
				continue
			}
			u := uses[r.policy.key]
			if u == nil {
				u = &policyUse{src: r.policy, required: map[string]bool{}}
				uses[r.policy.key] = u
				order = append(order, r.policy.key)
			}
			for p := range r.required {
				u.required[p] = true
			}
		}
	}
	for _, k := range order {
		all = append(all, uses[k].findings()...)
	}
	locate(all)
	return all, nil
}

// Review is what Check found in one middleware.
type Review struct {
	Findings []Finding

	policy   *policySource   // the policy the middleware decides with (nil: none or invalid)
	required map[string]bool // permissions its routes require
}

// Check reviews one middleware: every error gatehouse.New returns, then the findings of a
// configuration New accepts (unused roles and permissions are left to Files, which sees every
// middleware sharing a policy).
func Check(m Middleware) Review {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // releases the policy file and key sets New took
	r := resolve(m)
	var rev Review
	if _, err := gatehouse.New(ctx, http.NotFoundHandler(), m.Config, m.Name); err != nil {
		rev.Findings = newErrors(r, err)
	}
	lint(r, &rev)
	return rev
}

// resolved is a middleware's configuration with its settingsFile applied, for the lints.
type resolved struct {
	m    Middleware
	cfg  *gatehouse.Config
	from map[string]Location // lower-case option ("mode", "assertion.key") → the settings file it came from
}

// fileLoc returns where a file's content is: the ConfigMap key check wrote it from, or the file.
func (r *resolved) fileLoc(path string) Location {
	if loc, ok := r.m.files[path]; ok {
		return loc
	}
	return Location{File: path}
}

// resolve applies the settings file to a copy of the configuration as New does: an option the
// middleware leaves unset (empty) takes the file's value. New's own errors are what counts; a
// settings file New refuses is simply not applied here.
func resolve(m Middleware) *resolved {
	c := *m.Config
	r := &resolved{m: m, cfg: &c, from: map[string]Location{}}
	if c.SettingsFile == "" {
		return r
	}
	data, err := os.ReadFile(c.SettingsFile)
	if err != nil {
		return r
	}
	s, err := forwardauth.DecodeConfig(data)
	if err != nil {
		return r
	}
	fillUnset(reflect.ValueOf(&c).Elem(), reflect.ValueOf(s).Elem(), "", r.fileLoc(c.SettingsFile), r.from)
	return r
}

func fillUnset(dst, src reflect.Value, prefix string, file Location, from map[string]Location) {
	t := dst.Type()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Name
		if name == "Unknown" || name == "SettingsFile" {
			continue
		}
		key := prefix + strings.ToLower(name)
		d, s := dst.Field(i), src.Field(i)
		if d.Kind() == reflect.Struct {
			fillUnset(d, s, key+".", file, from)
			continue
		}
		if d.IsZero() && !s.IsZero() {
			d.Set(s)
			from[key] = file
		}
	}
}

// at returns the location of an option of the middleware: the settings file when the option came
// from there.
func (r *resolved) at(option string) Location {
	loc := r.m.Location
	loc.Option = option
	key := strings.ToLower(option)
	if i := strings.IndexAny(key, "[ "); i >= 0 {
		key = key[:i]
	}
	if f, ok := r.from[key]; ok {
		loc = f
		loc.Middleware, loc.Option = r.m.Location.Middleware, option
	}
	return loc
}

// newErrors turns New's error (a first line, then one "where: message" line per problem) into
// findings with their locations.
func newErrors(r *resolved, err error) []Finding {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) > 1 && strings.HasSuffix(lines[0], "invalid configuration:") {
		lines = lines[1:]
	}
	var out []Finding
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		where, msg, ok := strings.Cut(line, ": ")
		if !ok {
			where, msg = "", line
		}
		loc := r.at(where)
		switch {
		case where == "settingsFile":
			if k, rest, ok := cutKey(msg); ok {
				loc = r.fileLoc(r.cfg.SettingsFile)
				loc.Middleware, loc.Option = r.m.Location.Middleware, k
				msg = rest
			}
		case where == "policyFile" && strings.HasPrefix(msg, "policy: ") && r.cfg.PolicyFile != "":
			loc = r.fileLoc(r.cfg.PolicyFile)
			loc.Middleware = r.m.Location.Middleware
			msg = strings.TrimPrefix(msg, "policy: ")
			if k, rest, ok := cutKey(msg); ok {
				loc.Option, msg = k, rest
			}
		}
		out = append(out, Finding{Severity: Error, Code: "invalid-config", Location: loc, Message: msg})
	}
	return out
}

// cutKey splits "key: message" where key is an option or policy path (no spaces outside quotes).
func cutKey(s string) (string, string, bool) {
	k, rest, ok := strings.Cut(s, ": ")
	if !ok {
		return "", s, false
	}
	if i := strings.IndexByte(k, ' '); i >= 0 && !strings.HasPrefix(k[i:], " \"") {
		return "", s, false
	}
	return k, rest, true
}
