package explain

import (
	"fmt"
	"io"
	"strings"
)

// WriteText prints the report for people, one step after another.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "request   %s %s\n", r.Method, r.URL)
	if r.Path != "" {
		fmt.Fprintf(w, "path      refused: %s\n", r.Path)
	}
	if rt := r.Route; rt != nil {
		if rt.Unmatched {
			fmt.Fprintf(w, "route     no route matches: unmatched is %s\n", rt.Requirement)
		} else {
			fmt.Fprintf(w, "route     %s (requires %s)\n", rt.Matched, rt.Requirement)
		}
		for _, o := range rt.Others {
			fmt.Fprintf(w, "          beats %s: %s\n", o.Route, o.Lost)
		}
	}
	if t := r.Token; t != nil {
		fmt.Fprintln(w, "token")
		for _, c := range t.Checks {
			line := fmt.Sprintf("          %-24s %s", c.Name, c.Result)
			if c.Detail != "" {
				line += ": " + c.Detail
			}
			fmt.Fprintln(w, line)
		}
		if t.Subject != "" || t.Org != "" {
			fmt.Fprintf(w, "          subject %q, issuer %q, org %q\n", t.Subject, t.Issuer, t.Org)
		}
	}
	if d := r.Decision; d != nil {
		fmt.Fprintf(w, "tenant    %s: %s\n", d.Tenant, d.Guard)
		fmt.Fprintf(w, "grants    (the route requires %s)\n", d.Permission)
		for _, s := range d.Sources {
			fmt.Fprintf(w, "          %s %s\n", mark(s.Applies, s.Grants), describeSource(s.Kind, s.Role, s.Org, s.Scope, s.Issuer, s.Why, s.Permissions))
		}
		fmt.Fprintf(w, "          roles [%s], permissions [%s]\n", strings.Join(d.Roles, ","), strings.Join(d.Permissions, ","))
		verdict := "deny"
		if d.Allow {
			verdict = "allow"
		}
		fmt.Fprintf(w, "decision  %s: %s\n", verdict, d.Reason)
		if d.Shadow && !d.Allow {
			fmt.Fprintln(w, "          mode: shadow: the request is forwarded anyway")
		}
	}
	if r.Result.Forwarded {
		fmt.Fprintln(w, "result    forwarded to the backend, with these headers:")
		for _, h := range r.Result.Backend {
			fmt.Fprintf(w, "          %s: %s\n", h.Name, h.Value)
		}
	} else {
		fmt.Fprintf(w, "result    %d, not forwarded\n", r.Result.Status)
		for _, h := range r.Result.Response {
			fmt.Fprintf(w, "          %s: %s\n", h.Name, h.Value)
		}
		if b := strings.TrimSpace(r.Result.Body); b != "" {
			fmt.Fprintf(w, "          %s\n", b)
		}
	}
	if !r.Agrees {
		fmt.Fprintf(w, "note      the middleware's answer is not the one the steps above lead to (%d; 0 is forwarded): a step Gatehouse applies before these (method or path overrides, the query, a form body) decided it\n", r.Expected)
	}
}

// mark is "+" for a source that grants the required permission, "·" for one that applies, "-" otherwise.
func mark(applies, grants bool) string {
	switch {
	case grants:
		return "+"
	case applies:
		return "·"
	}
	return "-"
}

func describeSource(kind, role, org, scope, issuer, why string, perms []string) string {
	s := kind
	if role != "" {
		s += fmt.Sprintf(" %q", role)
	}
	if org != "" {
		s += fmt.Sprintf(" in %q", org)
	}
	if scope != "" {
		s += " scoped to " + scope
	}
	if issuer != "" {
		s += fmt.Sprintf(" of issuer %q", issuer)
	}
	s += ": " + why
	if len(perms) > 0 {
		s += " -> " + strings.Join(perms, ",")
	}
	return s
}
