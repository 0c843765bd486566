package policy

import (
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/tokens"
)

// grant is one server-side role assignment.
type grant struct {
	role   string
	issuer string // "" for an unqualified assignment
	perms  map[string]bool
	scopes [][]string // nil: the whole org
}

type assignmentDocument struct {
	Subject string      `yaml:"subject"`
	Issuer  interface{} `yaml:"issuer"` // nil when absent; a present value must be a string
	Org     string      `yaml:"org"`
	Role    string      `yaml:"role"`
	Scope   interface{} `yaml:"scope"`
}

// applies reports whether g counts for id. A subject is unique only within its issuer (RFC 7519
// Section 4.1.2), so a qualified assignment needs the token's iss to equal its issuer exactly: a
// case-sensitive comparison without normalization (RFC 7519 Section 4.1.1). An unqualified
// assignment counts for every token unless opts.IssuerQualified, when it counts for none.
func (g grant) applies(opts Options, id *tokens.Identity) bool {
	if g.issuer == "" {
		return !opts.IssuerQualified
	}
	return g.issuer == id.Issuer
}

// issuerNote names g's issuer in a decision reason.
func (g grant) issuerNote() string {
	if g.issuer == "" {
		return ""
	}
	return " of issuer " + strconv.Quote(g.issuer)
}

func (p *Policy) addAssignments(list []assignmentDocument, problems []string) []string {
	issuers := map[string]bool{}
	for i, a := range list {
		where := "assignments[" + strconv.Itoa(i) + "]"
		issuer, found := p.checkAssignment(where, a)
		if len(found) > 0 {
			problems = append(problems, found...)
			continue
		}
		scopes, _ := parseScopes(a.Scope) // checked by checkAssignment
		if issuer == "" {
			p.unqualified = append(p.unqualified, where)
		} else if !issuers[issuer] {
			issuers[issuer] = true
			p.issuers = append(p.issuers, issuer)
		}
		key := a.Subject + "\x00" + a.Org
		p.grants[key] = append(p.grants[key], grant{role: a.Role, issuer: issuer, perms: p.roles[a.Role], scopes: scopes})
	}
	sort.Strings(p.issuers)
	return problems
}

// checkAssignment returns the assignment's issuer ("" when absent) and every problem it has.
func (p *Policy) checkAssignment(where string, a assignmentDocument) (string, []string) {
	var problems []string
	if a.Subject == "" || a.Org == "" || a.Role == "" {
		problems = append(problems, where+": subject, org and role are required")
	}
	problems = checkValue(problems, where, "subject", a.Subject)
	problems = checkValue(problems, where, "org", a.Org)
	// Not a type switch: under Yaegi, when a binding type switch (switch v := x.(type)) takes an
	// empty clause such as "case nil:", the function returns zero values on the spot.
	issuer, isString := a.Issuer.(string)
	switch {
	case isString && issuer == "":
		problems = append(problems, where+`.issuer "": empty: omit issuer for an assignment that holds for every trusted issuer`)
	case isString:
		problems = checkValue(problems, where, "issuer", issuer)
	case a.Issuer != nil:
		problems = append(problems, where+".issuer: must be a string, the exact iss of the tokens it applies to")
	}
	if a.Role != "" && p.roles[a.Role] == nil {
		problems = append(problems, where+": unknown role "+strconv.Quote(a.Role))
	}
	if _, err := parseScopes(a.Scope); err != nil {
		problems = append(problems, where+": "+err.Error())
	}
	return issuer, problems
}

// checkValue applies the forwarded-value rule (tokens.ValidValue) to a non-empty field: values
// are compared with token claims exactly, so padding or a control character would silently
// match nothing. Padding is also refused here, so that the policy's rule does not depend on
// which version of the tokens package it is built with.
func checkValue(problems []string, where, field, v string) []string {
	if v == "" || (tokens.ValidValue(v) && strings.TrimSpace(v) == v) {
		return problems
	}
	return append(problems, where+"."+field+" "+strconv.Quote(v)+": not a valid value (no leading or trailing whitespace, no control characters)")
}

// Unqualified returns the locations (`assignments[3]`) of the assignments that name no issuer,
// in document order. A middleware that trusts more than one issuer MUST refuse a policy with
// any: with Options.IssuerQualified they grant nothing. p may be nil.
func (p *Policy) Unqualified() []string {
	if p == nil {
		return nil
	}
	return append([]string(nil), p.unqualified...)
}

// Issuers returns the issuers the assignments name, sorted and deduplicated, so that the
// configuration can refuse an issuer the middleware does not trust (a typo would otherwise
// silently grant nothing). p may be nil.
func (p *Policy) Issuers() []string {
	if p == nil {
		return nil
	}
	return append([]string(nil), p.issuers...)
}
