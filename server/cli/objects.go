package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/server/store"
)

// commands maps each top-level name to its implementation.
var commands = map[string]func(*invocation, []string) error{
	"permissions": permissionsCmd,
	"roles":       rolesCmd,
	"subjects":    subjectsCmd,
	"assignments": assignmentsCmd,
	"whocan":      whocanCmd,
	"can":         canCmd,
	"log":         logCmd,
	"import":      importCmd,
	"export":      exportCmd,
}

// verb splits "roles get admin" into the verb and its arguments; a missing or unknown verb is a
// usage error that lists the verbs.
func verb(inv *invocation, noun, usage string, args []string, verbs ...string) (string, []string, error) {
	inv.name, inv.usage = noun, usage
	if len(args) == 0 {
		return "", nil, usageError("missing a subcommand: " + strings.Join(verbs, ", "))
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		return "", nil, flag.ErrHelp
	}
	for _, v := range verbs {
		if args[0] == v {
			return v, args[1:], nil
		}
	}
	return "", nil, usageError(fmt.Sprintf("unknown subcommand %q (want %s)", args[0], strings.Join(verbs, ", ")))
}

// decode reads a JSON answer into v; an answer that does not decode is the server's fault.
func decode(r *response, v interface{}) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("the control plane's answer does not decode: %v", err)
	}
	return nil
}

// ifMatch returns the If-Match value for an update: --if-version when given (a version read
// earlier, e.g. by a script), else the ETag of the object just read, else its version.
func ifMatch(flagVersion int64, r *response, version int64) string {
	if flagVersion > 0 {
		return strconv.Quote(strconv.FormatInt(flagVersion, 10))
	}
	if e := r.etag(); e != "" {
		return e
	}
	return strconv.Quote(strconv.FormatInt(version, 10))
}

// ---- permissions

const permissionsUsage = `usage: gatehouse permissions list
       gatehouse permissions get NAME
       gatehouse permissions create NAME [--description D]
       gatehouse permissions set NAME --description D [--if-version N]
       gatehouse permissions delete NAME [--if-version N]

Permissions are the names routes require (for example workflows:read). set and delete send
If-Match with the version they read (or --if-version N): a change made in between fails with the
API's 412 problem, exit status 1.
`

func permissionsCmd(inv *invocation, args []string) error {
	v, args, err := verb(inv, "permissions", permissionsUsage, args, "list", "get", "create", "set", "delete")
	if err != nil {
		return err
	}
	fs := inv.flags("permissions "+v, permissionsUsage)
	desc := optString(fs, "description")
	ifVersion := fs.Int64("if-version", 0, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	n := 1
	if v == "list" {
		n = 0
	}
	if err := need(pos, n, "NAME"); err != nil {
		return err
	}
	if v == "set" && !desc.set {
		return usageError("nothing to change: give --description")
	}
	c, err := inv.client()
	if err != nil {
		return err
	}
	switch v {
	case "list":
		r, err := c.do(inv.ctx, "GET", "/v1/permissions", nil, nil, "", "")
		if err != nil {
			return err
		}
		var ps []store.Permission
		if err := decodeUnlessJSON(inv, r, &ps); err != nil {
			return err
		}
		return inv.print(r, func() error {
			t := newTable(inv.stdout, "PERMISSION", "DESCRIPTION", "VERSION")
			for _, p := range ps {
				t.row(p.Name, p.Description, strconv.FormatInt(p.Version, 10))
			}
			return t.flush()
		})
	case "get", "create", "set":
		var r *response
		var p store.Permission
		path := "/v1/permissions/" + seg(pos[0])
		switch v {
		case "get":
			r, err = c.do(inv.ctx, "GET", path, nil, nil, "", "")
		case "create":
			body, _ := json.Marshal(store.Permission{Name: pos[0], Description: desc.value})
			r, err = c.do(inv.ctx, "POST", "/v1/permissions", nil, body, "", "")
		case "set":
			if r, err = c.do(inv.ctx, "GET", path, nil, nil, "", ""); err == nil {
				if err = decode(r, &p); err == nil {
					match := ifMatch(*ifVersion, r, p.Version)
					p.Description = desc.value
					body, _ := json.Marshal(p)
					r, err = c.do(inv.ctx, "PUT", path, nil, body, "", match)
				}
			}
		}
		if err != nil {
			return err
		}
		p = store.Permission{}
		if err := decodeUnlessJSON(inv, r, &p); err != nil {
			return err
		}
		return inv.print(r, func() error {
			t := newTable(inv.stdout, "PERMISSION", "DESCRIPTION", "VERSION")
			t.row(p.Name, p.Description, strconv.FormatInt(p.Version, 10))
			return t.flush()
		})
	case "delete":
		return inv.delete(c, "/v1/permissions/"+seg(pos[0]), nil, *ifVersion, "permission "+pos[0])
	}
	return nil
}

// ---- roles

const rolesUsage = `usage: gatehouse roles list
       gatehouse roles get NAME
       gatehouse roles create NAME --permission P [--permission P]... [--description D]
       gatehouse roles set NAME [--permission P]... [--add P]... [--remove P]... [--description D] [--if-version N]
       gatehouse roles delete NAME [--if-version N]

A role maps to permissions. set with --permission replaces the role's list; --add and --remove
change it. set and delete send If-Match with the version they read (or --if-version N): a change
made in between fails with the API's 412 problem, exit status 1.
`

func rolesCmd(inv *invocation, args []string) error {
	v, args, err := verb(inv, "roles", rolesUsage, args, "list", "get", "create", "set", "delete")
	if err != nil {
		return err
	}
	fs := inv.flags("roles "+v, rolesUsage)
	desc := optString(fs, "description")
	var perms, add, remove stringList
	fs.Var(&perms, "permission", "")
	fs.Var(&add, "add", "")
	fs.Var(&remove, "remove", "")
	ifVersion := fs.Int64("if-version", 0, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	n := 1
	if v == "list" {
		n = 0
	}
	if err := need(pos, n, "NAME"); err != nil {
		return err
	}
	switch {
	case v == "create" && len(perms) == 0:
		return usageError("a role needs at least one --permission")
	case v == "set" && len(perms) == 0 && len(add) == 0 && len(remove) == 0 && !desc.set:
		return usageError("nothing to change: give --permission, --add, --remove or --description")
	case v != "set" && (len(add) > 0 || len(remove) > 0):
		return usageError("--add and --remove belong to roles set")
	}
	c, err := inv.client()
	if err != nil {
		return err
	}
	show := func(roles ...store.Role) func() error {
		return func() error {
			t := newTable(inv.stdout, "ROLE", "PERMISSIONS", "DESCRIPTION", "VERSION")
			for _, r := range roles {
				t.row(r.Name, list(r.Permissions), r.Description, strconv.FormatInt(r.Version, 10))
			}
			return t.flush()
		}
	}
	path := ""
	if n == 1 {
		path = "/v1/roles/" + seg(pos[0])
	}
	switch v {
	case "list":
		r, err := c.do(inv.ctx, "GET", "/v1/roles", nil, nil, "", "")
		if err != nil {
			return err
		}
		var rs []store.Role
		if err := decodeUnlessJSON(inv, r, &rs); err != nil {
			return err
		}
		return inv.print(r, show(rs...))
	case "get":
		r, err := c.do(inv.ctx, "GET", path, nil, nil, "", "")
		if err != nil {
			return err
		}
		var role store.Role
		if err := decodeUnlessJSON(inv, r, &role); err != nil {
			return err
		}
		return inv.print(r, show(role))
	case "create":
		body, _ := json.Marshal(store.Role{Name: pos[0], Description: desc.value, Permissions: perms})
		r, err := c.do(inv.ctx, "POST", "/v1/roles", nil, body, "", "")
		if err != nil {
			return err
		}
		var role store.Role
		if err := decodeUnlessJSON(inv, r, &role); err != nil {
			return err
		}
		return inv.print(r, show(role))
	case "set":
		r, err := c.do(inv.ctx, "GET", path, nil, nil, "", "")
		if err != nil {
			return err
		}
		var role store.Role
		if err := decode(r, &role); err != nil {
			return err
		}
		match := ifMatch(*ifVersion, r, role.Version)
		if len(perms) > 0 {
			role.Permissions = append([]string{}, perms...)
		}
		role.Permissions = edit(role.Permissions, add, remove)
		if desc.set {
			role.Description = desc.value
		}
		body, _ := json.Marshal(store.Role{Name: role.Name, Description: role.Description, Permissions: role.Permissions})
		r, err = c.do(inv.ctx, "PUT", path, nil, body, "", match)
		if err != nil {
			return err
		}
		role = store.Role{}
		if err := decodeUnlessJSON(inv, r, &role); err != nil {
			return err
		}
		return inv.print(r, show(role))
	case "delete":
		return inv.delete(c, path, nil, *ifVersion, "role "+pos[0])
	}
	return nil
}

// edit adds and removes items, keeping order and dropping duplicates.
func edit(items, add, remove []string) []string {
	drop := map[string]bool{}
	for _, r := range remove {
		drop[r] = true
	}
	seen := map[string]bool{}
	out := []string{}
	for _, p := range append(append([]string{}, items...), add...) {
		if drop[p] || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out
}

// ---- subjects

const subjectsUsage = `usage: gatehouse subjects list
       gatehouse subjects get ID [--issuer I]
       gatehouse subjects create ID [--issuer I] [--kind user|service] [--display-name N]
       gatehouse subjects set ID [--issuer I] [--kind user|service] [--display-name N] [--if-version N]
       gatehouse subjects delete ID [--issuer I] [--if-version N]

A subject is a token's sub (with its issuer, or none for every trusted issuer): a user or a
service account. Adding an assignment creates its subject (kind user) when it is unknown.
`

func subjectsCmd(inv *invocation, args []string) error {
	v, args, err := verb(inv, "subjects", subjectsUsage, args, "list", "get", "create", "set", "delete")
	if err != nil {
		return err
	}
	fs := inv.flags("subjects "+v, subjectsUsage)
	issuer := fs.String("issuer", "", "")
	kind := optString(fs, "kind")
	display := optString(fs, "display-name")
	ifVersion := fs.Int64("if-version", 0, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	n := 1
	if v == "list" {
		n = 0
	}
	if err := need(pos, n, "ID"); err != nil {
		return err
	}
	if v == "set" && !kind.set && !display.set {
		return usageError("nothing to change: give --kind or --display-name")
	}
	c, err := inv.client()
	if err != nil {
		return err
	}
	show := func(subjects ...store.Subject) func() error {
		return func() error {
			t := newTable(inv.stdout, "SUBJECT", "ISSUER", "KIND", "DISPLAY NAME", "VERSION")
			for _, s := range subjects {
				t.row(s.ID, s.Issuer, s.Kind, s.DisplayName, strconv.FormatInt(s.Version, 10))
			}
			return t.flush()
		}
	}
	var q url.Values
	if *issuer != "" {
		q = url.Values{"issuer": {*issuer}}
	}
	path := ""
	if n == 1 {
		path = "/v1/subjects/" + seg(pos[0])
	}
	var r *response
	var s store.Subject
	switch v {
	case "list":
		if r, err = c.do(inv.ctx, "GET", "/v1/subjects", nil, nil, "", ""); err != nil {
			return err
		}
		var ss []store.Subject
		if err := decodeUnlessJSON(inv, r, &ss); err != nil {
			return err
		}
		return inv.print(r, show(ss...))
	case "get":
		r, err = c.do(inv.ctx, "GET", path, q, nil, "", "")
	case "create":
		k := kind.value
		if !kind.set {
			k = "user"
		}
		body, _ := json.Marshal(store.Subject{ID: pos[0], Issuer: *issuer, Kind: k, DisplayName: display.value})
		r, err = c.do(inv.ctx, "POST", "/v1/subjects", nil, body, "", "")
	case "set":
		if r, err = c.do(inv.ctx, "GET", path, q, nil, "", ""); err != nil {
			return err
		}
		if err := decode(r, &s); err != nil {
			return err
		}
		match := ifMatch(*ifVersion, r, s.Version)
		if kind.set {
			s.Kind = kind.value
		}
		if display.set {
			s.DisplayName = display.value
		}
		body, _ := json.Marshal(store.Subject{ID: s.ID, Issuer: s.Issuer, Kind: s.Kind, DisplayName: s.DisplayName})
		s = store.Subject{}
		r, err = c.do(inv.ctx, "PUT", path, q, body, "", match)
	case "delete":
		return inv.delete(c, path, q, *ifVersion, "subject "+pos[0])
	}
	if err != nil {
		return err
	}
	if err := decodeUnlessJSON(inv, r, &s); err != nil {
		return err
	}
	return inv.print(r, show(s))
}

// ---- shared

// optString is a string flag that remembers whether it was given (an empty description is a
// change; an absent one is not).
type optStringFlag struct {
	value string
	set   bool
}

func (o *optStringFlag) String() string { return o.value }
func (o *optStringFlag) Set(s string) error {
	o.value, o.set = s, true
	return nil
}

func optString(fs *flag.FlagSet, name string) *optStringFlag {
	o := &optStringFlag{}
	fs.Var(o, name, "")
	return o
}

// decodeUnlessJSON decodes the answer for a table; with --json the raw answer is printed instead.
func decodeUnlessJSON(inv *invocation, r *response, v interface{}) error {
	if inv.json {
		return nil
	}
	return decode(r, v)
}

// print prints the answer: the API's JSON with --json, else the table (of what the caller
// decoded with decodeUnlessJSON).
func (inv *invocation) print(r *response, table func() error) error {
	if inv.json {
		return printJSON(inv.stdout, r.body)
	}
	return table()
}

// delete deletes one object, with If-Match when a version is known (--if-version, or read
// first so that a change made since the caller looked is not deleted blindly).
func (inv *invocation) delete(c *client, path string, q url.Values, ifVersion int64, what string) error {
	match := ""
	if ifVersion > 0 {
		match = ifMatch(ifVersion, nil, 0)
	} else {
		r, err := c.do(inv.ctx, "GET", path, q, nil, "", "")
		if err != nil {
			return err
		}
		var obj struct {
			Version int64 `json:"version"`
		}
		if err := decode(r, &obj); err != nil {
			return err
		}
		match = ifMatch(0, r, obj.Version)
	}
	r, err := c.do(inv.ctx, "DELETE", path, q, nil, "", match)
	if err != nil {
		return err
	}
	if inv.json {
		if len(r.body) > 0 {
			return printJSON(inv.stdout, r.body)
		}
		fmt.Fprintln(inv.stdout, `{"deleted":true}`)
		return nil
	}
	fmt.Fprintf(inv.stdout, "deleted %s\n", printable(what))
	return nil
}
