package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/server/store"
)

const assignmentsUsage = `usage: gatehouse assignments list [--org O] [--subject S] [--issuer I] [--role R]
       gatehouse assignments add --org O --subject S --role R [--issuer I] [--scope PATH]...
       gatehouse assignments remove ID --org O [--if-version N]
       gatehouse assignments remove --org O --subject S --role R [--issuer I] [--scope PATH]...

An assignment gives a subject a role in an org, optionally only under resource paths (--scope,
repeatable; none: the whole org). list without --org lists every org (platform admins); with it,
the org's routes, which an org admin may use. remove takes the assignment's ID, or the subject
and role that identify exactly one assignment (with --scope when the subject holds the role
under several scopes); it sends If-Match with the version it read.
`

func assignmentsCmd(inv *invocation, args []string) error {
	v, args, err := verb(inv, "assignments", assignmentsUsage, args, "list", "add", "remove")
	if err != nil {
		return err
	}
	fs := inv.flags("assignments "+v, assignmentsUsage)
	org := fs.String("org", "", "")
	subject := fs.String("subject", "", "")
	issuer := fs.String("issuer", "", "")
	role := fs.String("role", "", "")
	var scopes stringList
	fs.Var(&scopes, "scope", "")
	ifVersion := fs.Int64("if-version", 0, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch v {
	case "list":
		if err := need(pos, 0, ""); err != nil {
			return err
		}
		if len(scopes) > 0 {
			return usageError("--scope belongs to add and remove")
		}
	case "add":
		if err := need(pos, 0, ""); err != nil {
			return err
		}
		if *org == "" || *subject == "" || *role == "" {
			return usageError("add needs --org, --subject and --role")
		}
	case "remove":
		if *org == "" {
			return usageError("remove needs --org")
		}
		if len(pos) == 1 {
			if *subject != "" || *role != "" || len(scopes) > 0 || *issuer != "" {
				return usageError("remove takes an ID or --subject and --role, not both")
			}
			if _, err := strconv.ParseInt(pos[0], 10, 64); err != nil {
				return usageError(fmt.Sprintf("assignment ID %q: want a number", pos[0]))
			}
		} else if err := need(pos, 0, ""); err != nil {
			return err
		} else if *subject == "" || *role == "" {
			return usageError("remove needs an ID, or --subject and --role")
		}
	}
	c, err := inv.client()
	if err != nil {
		return err
	}
	orgPath := "/v1/orgs/" + seg(*org) + "/assignments"
	switch v {
	case "list":
		q := url.Values{}
		for k, val := range map[string]string{"subject": *subject, "issuer": *issuer, "role": *role} {
			if val != "" {
				q.Set(k, val)
			}
		}
		path := orgPath
		if *org == "" {
			path = "/v1/assignments"
		}
		r, err := c.do(inv.ctx, "GET", path, q, nil, "", "")
		if err != nil {
			return err
		}
		var as []store.Assignment
		if err := decodeUnlessJSON(inv, r, &as); err != nil {
			return err
		}
		return inv.print(r, func() error { return assignmentTable(inv, as...) })
	case "add":
		body, _ := json.Marshal(store.Assignment{Subject: *subject, Issuer: *issuer, Org: *org, Role: *role, Scopes: scopes})
		r, err := c.do(inv.ctx, "POST", orgPath, nil, body, "", "")
		if err != nil {
			return err
		}
		var a store.Assignment
		if err := decodeUnlessJSON(inv, r, &a); err != nil {
			return err
		}
		return inv.print(r, func() error { return assignmentTable(inv, a) })
	case "remove":
		var a store.Assignment
		var match string
		if len(pos) == 1 {
			r, err := c.do(inv.ctx, "GET", orgPath+"/"+seg(pos[0]), nil, nil, "", "")
			if err != nil {
				return err
			}
			if err := decode(r, &a); err != nil {
				return err
			}
			match = ifMatch(*ifVersion, r, a.Version)
		} else {
			q := url.Values{"subject": {*subject}, "role": {*role}}
			if *issuer != "" {
				q.Set("issuer", *issuer)
			}
			r, err := c.do(inv.ctx, "GET", orgPath, q, nil, "", "")
			if err != nil {
				return err
			}
			var as []store.Assignment
			if err := decode(r, &as); err != nil {
				return err
			}
			found, err := pick(as, *subject, *issuer, *role, scopes, *org)
			if err != nil {
				return err
			}
			a = found
			match = ifMatch(*ifVersion, &response{}, a.Version)
		}
		r, err := c.do(inv.ctx, "DELETE", orgPath+"/"+strconv.FormatInt(a.ID, 10), nil, nil, "", match)
		if err != nil {
			return err
		}
		if inv.json {
			out, _ := json.Marshal(map[string]interface{}{"removed": a})
			if len(r.body) > 0 {
				out = r.body
			}
			return printJSON(inv.stdout, out)
		}
		fmt.Fprintln(inv.stdout, "removed:")
		return assignmentTable(inv, a)
	}
	return nil
}

// pick returns the one assignment the flags name. The list was already filtered by the API on
// subject, issuer and role; an empty --issuer means the assignment that names no issuer.
func pick(as []store.Assignment, subject, issuer, role string, scopes []string, org string) (store.Assignment, error) {
	var matches []store.Assignment
	want := sortedCopy(scopes)
	for _, a := range as {
		if a.Subject != subject || a.Role != role || a.Issuer != issuer {
			continue
		}
		if len(scopes) > 0 && strings.Join(sortedCopy(a.Scopes), "\x00") != strings.Join(want, "\x00") {
			continue
		}
		matches = append(matches, a)
	}
	who := subject
	if issuer != "" {
		who += " (issuer " + issuer + ")"
	}
	switch len(matches) {
	case 0:
		what := fmt.Sprintf("%s holds no role %s in org %s", who, role, org)
		if len(scopes) > 0 {
			what += " with scope " + list(scopes)
		}
		return store.Assignment{}, &Problem{Title: "Not Found", Status: 404, Detail: what}
	case 1:
		return matches[0], nil
	}
	var ids []string
	for _, m := range matches {
		scope := list(m.Scopes)
		if scope == "" {
			scope = "the whole org"
		}
		ids = append(ids, strconv.FormatInt(m.ID, 10)+" ("+scope+")")
	}
	return store.Assignment{}, usageError(fmt.Sprintf("%s holds role %s in org %s %d times: give the ID or --scope: %s", who, role, org, len(matches), strings.Join(ids, ", ")))
}

func sortedCopy(s []string) []string {
	c := append([]string{}, s...)
	sort.Strings(c)
	return c
}

func assignmentTable(inv *invocation, as ...store.Assignment) error {
	t := newTable(inv.stdout, "ID", "ORG", "SUBJECT", "ISSUER", "ROLE", "SCOPE", "VERSION")
	for _, a := range as {
		scope := list(a.Scopes)
		if scope == "" {
			scope = "(whole org)"
		}
		t.row(strconv.FormatInt(a.ID, 10), a.Org, a.Subject, a.Issuer, a.Role, scope, strconv.FormatInt(a.Version, 10))
	}
	return t.flush()
}
