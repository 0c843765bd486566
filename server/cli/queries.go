package cli

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/server/store"
)

// ---- whocan

const whocanUsage = `usage: gatehouse whocan PERMISSION --org O

Lists every subject that holds PERMISSION in org O, with the assignment (role, scope) it holds
it through, as the engine decides it.
`

func whocanCmd(inv *invocation, args []string) error {
	fs := inv.flags("whocan", whocanUsage)
	org := fs.String("org", "", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := need(pos, 1, "PERMISSION"); err != nil {
		return err
	}
	if *org == "" {
		return usageError("whocan needs --org")
	}
	c, err := inv.client()
	if err != nil {
		return err
	}
	r, err := c.do(inv.ctx, "GET", "/v1/orgs/"+seg(*org)+"/whocan/"+seg(pos[0]), nil, nil, "", "")
	if err != nil {
		return err
	}
	var hs []store.Holder
	if err := decodeUnlessJSON(inv, r, &hs); err != nil {
		return err
	}
	return inv.print(r, func() error {
		if len(hs) == 0 {
			fmt.Fprintf(inv.stdout, "nobody holds %s in org %s\n", printable(pos[0]), printable(*org))
			return nil
		}
		t := newTable(inv.stdout, "SUBJECT", "ISSUER", "KIND", "ROLE", "SCOPE", "ASSIGNMENT")
		for _, h := range hs {
			scope := list(h.Scopes)
			if scope == "" {
				scope = "(whole org)"
			}
			t.row(h.Subject, h.Issuer, h.Kind, h.Role, scope, strconv.FormatInt(h.AssignmentID, 10))
		}
		return t.flush()
	})
}

// ---- can

const canUsage = `usage: gatehouse can SUBJECT --org O [--issuer I] [--resource PATH]

Shows what SUBJECT may do in org O (at PATH, for scoped assignments): every declared permission,
allowed or not, with the engine's reason and the assignments that grant it. Roles or permissions
a token carries are not known to the control plane and do not count here.
`

func canCmd(inv *invocation, args []string) error {
	fs := inv.flags("can", canUsage)
	org := fs.String("org", "", "")
	issuer := fs.String("issuer", "", "")
	resource := fs.String("resource", "", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := need(pos, 1, "SUBJECT"); err != nil {
		return err
	}
	if *org == "" {
		return usageError("can needs --org")
	}
	c, err := inv.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	if *issuer != "" {
		q.Set("issuer", *issuer)
	}
	if *resource != "" {
		q.Set("resource", *resource)
	}
	r, err := c.do(inv.ctx, "GET", "/v1/orgs/"+seg(*org)+"/subjects/"+seg(pos[0])+"/can", q, nil, "", "")
	if err != nil {
		return err
	}
	var a store.Access
	if err := decodeUnlessJSON(inv, r, &a); err != nil {
		return err
	}
	return inv.print(r, func() error {
		who := a.Subject
		if a.Issuer != "" {
			who += " (issuer " + a.Issuer + ")"
		}
		roles := list(a.Roles)
		if roles == "" {
			roles = "none"
		}
		fmt.Fprintf(inv.stdout, "%s in org %s at %s: roles %s (revision %d)\n", printable(who), printable(a.Org), printable(a.Resource), printable(roles), a.Revision)
		t := newTable(inv.stdout, "PERMISSION", "ALLOWED", "GRANTED BY", "REASON")
		for _, ch := range a.Checks {
			allowed := "no"
			if ch.Allow {
				allowed = "yes"
			}
			var by []string
			for _, s := range ch.Sources {
				if !s.Grants {
					continue
				}
				d := s.Kind
				if s.Role != "" {
					d += " " + s.Role
				}
				if s.Scope != "" {
					d += " at " + s.Scope
				}
				by = append(by, d)
			}
			t.row(ch.Permission, allowed, strings.Join(by, "; "), ch.Reason)
		}
		return t.flush()
	})
}

// ---- log

const logUsage = `usage: gatehouse log [--org O] [--after SEQ] [--limit N] [--kind permission|role|subject|assignment]

Prints the change log, oldest first: who changed what, when. With --org, the changes to that
org's assignments (an org admin's view); without it, every change (platform admins). Page with
--after (the last SEQ seen) and --limit (default 100, at most 1000).
`

func logCmd(inv *invocation, args []string) error {
	fs := inv.flags("log", logUsage)
	org := fs.String("org", "", "")
	after := fs.Int64("after", 0, "")
	limit := fs.Int("limit", 0, "")
	kind := fs.String("kind", "", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := need(pos, 0, ""); err != nil {
		return err
	}
	if *after < 0 {
		return usageError("--after must not be negative")
	}
	if *limit < 0 || *limit > 1000 {
		return usageError("--limit must be between 1 and 1000")
	}
	c, err := inv.client()
	if err != nil {
		return err
	}
	q := url.Values{}
	if *after > 0 {
		q.Set("after", strconv.FormatInt(*after, 10))
	}
	if *limit > 0 {
		q.Set("limit", strconv.Itoa(*limit))
	}
	if *kind != "" {
		q.Set("kind", *kind)
	}
	path := "/v1/changes"
	if *org != "" {
		path = "/v1/orgs/" + seg(*org) + "/changes"
	}
	r, err := c.do(inv.ctx, "GET", path, q, nil, "", "")
	if err != nil {
		return err
	}
	var cs []store.Change
	if err := decodeUnlessJSON(inv, r, &cs); err != nil {
		return err
	}
	return inv.print(r, func() error {
		t := newTable(inv.stdout, "SEQ", "AT", "ACTOR", "ACTION", "KIND", "KEY", "ORG")
		for _, ch := range cs {
			t.row(strconv.FormatInt(ch.Seq, 10), ch.At.UTC().Format(time.RFC3339), ch.Actor, ch.Action, ch.Kind, ch.Key, ch.Org)
		}
		return t.flush()
	})
}

// ---- import

const importUsage = `usage: gatehouse import FILE

Loads a policy file (the YAML or JSON policyFile reads; "-" for standard input) into the control
plane in one transaction: its permissions, roles and assignments replace the control plane's
(its own gatehouse: entries are kept). The file is checked by the plugin's own rules first; a
refused file changes nothing. "gatehouse export" afterwards gives the same document.
`

func importCmd(inv *invocation, args []string) error {
	fs := inv.flags("import", importUsage)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := need(pos, 1, "FILE"); err != nil {
		return err
	}
	var raw []byte
	if pos[0] == "-" {
		raw, err = readAllLimited(os.Stdin)
	} else {
		raw, err = os.ReadFile(pos[0])
	}
	if err != nil {
		return err
	}
	c, err := inv.client()
	if err != nil {
		return err
	}
	ct := "application/yaml"
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		ct = "application/json"
	}
	r, err := c.do(inv.ctx, "POST", "/v1/import", nil, raw, ct, "")
	if err != nil {
		return err
	}
	var res store.ImportResult
	if err := decodeUnlessJSON(inv, r, &res); err != nil {
		return err
	}
	return inv.print(r, func() error {
		fmt.Fprintf(inv.stdout, "imported %s: %d created, %d updated, %d deleted; revision %d\n", printable(pos[0]), res.Created, res.Updated, res.Deleted, res.Revision)
		return nil
	})
}

func readAllLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err == nil && len(b) > maxBody {
		err = fmt.Errorf("standard input is larger than %d MiB", maxBody>>20)
	}
	return b, err
}

// ---- export

const exportUsage = `usage: gatehouse export [--output FILE]

Writes the control plane's policy (permissions, roles, assignments; not its own gatehouse:
entries) as the JSON document policyFile reads, byte for byte as the control plane holds it
(the bundle's document, unsigned). With --output the file is replaced whole, or not at all.
`

func exportCmd(inv *invocation, args []string) error {
	fs := inv.flags("export", exportUsage)
	output := fs.String("output", "", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := need(pos, 0, ""); err != nil {
		return err
	}
	c, err := inv.client()
	if err != nil {
		return err
	}
	r, err := c.do(inv.ctx, "GET", "/v1/export", nil, nil, "", "")
	if err != nil {
		return err
	}
	if *output == "" || *output == "-" {
		_, err := inv.stdout.Write(r.body)
		return err
	}
	return writeFileAtomic(*output, r.body)
}

// writeFileAtomic writes the file through a temporary file in the same directory and a rename,
// so that a reader (a gateway's policyFile) sees the old document or the new one, never half.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
