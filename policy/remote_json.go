package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"
)

// ParseJSON compiles a policy document serialized as JSON, as the control plane serves bundles
// (docs/control-plane.md), with exactly the rules of Parse: the same keys, the same checks, the
// same messages. It exists for speed under Yaegi: Parse decodes with yaml.v3, which the
// interpreter runs statement by statement (about 3.4 ms per assignment, 34 s for 10,000), while
// encoding/json is compiled into Traefik and decodes the whole document in one call (see
// BENCHMARKS.md, "Policy from the control plane"). Differences, all refusals or JSON's own
// rules: a field that must be a string refuses a number (YAML would read 5 as "5"), and a member
// that appears twice in one object keeps its last value (RFC 8259 §4 leaves this to the parser;
// the control plane's serialization never repeats one).
func ParseJSON(data []byte) (*Policy, error) {
	var raw map[string]interface{}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, errors.New("policy: malformed JSON: " + err.Error())
	}
	var rest interface{}
	if dec.Decode(&rest) != io.EOF {
		return nil, errors.New("policy: malformed JSON: data after the document")
	}
	if raw == nil {
		return nil, errors.New("policy: the document must be a JSON object")
	}
	var doc document
	var problems []string
	problems = unknownMembers(problems, "", raw, documentMembers)
	doc.Permissions, problems = jsonStrings(problems, "permissions", raw["permissions"])
	doc.Roles, problems = jsonRoles(problems, raw["roles"])
	doc.Assignments, problems = jsonAssignments(problems, "assignments", raw["assignments"])
	if len(problems) > 0 {
		return nil, errors.New("policy: " + strings.Join(problems, "\npolicy: "))
	}
	p := &Policy{permissions: map[string]bool{}, roles: map[string]map[string]bool{}, grants: map[string][]grant{}}
	problems = p.addPermissions(doc.Permissions, problems)
	problems = p.addRoles(doc.Roles, problems)
	problems = p.addAssignments(doc.Assignments, problems)
	if len(problems) > 0 {
		return nil, errors.New("policy: " + strings.Join(problems, "\npolicy: "))
	}
	return p, nil
}

var (
	documentMembers   = map[string]bool{"permissions": true, "roles": true, "assignments": true}
	assignmentMembers = map[string]bool{"subject": true, "issuer": true, "org": true, "role": true, "scope": true}
)

// unknownMembers reports the members of obj that known lacks, sorted.
func unknownMembers(problems []string, where string, obj map[string]interface{}, known map[string]bool) []string {
	var names []string
	for k := range obj {
		if !known[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		problems = append(problems, where+strconv.Quote(k)+": unknown key")
	}
	return problems
}

// jsonStrings reads a list of strings (null or absent: none).
func jsonStrings(problems []string, where string, v interface{}) ([]string, []string) {
	if v == nil {
		return nil, problems
	}
	list, isList := v.([]interface{})
	if !isList {
		problems = append(problems, where+": must be a list of strings")
		return nil, problems
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, isString := e.(string)
		if !isString {
			problems = append(problems, where+"["+strconv.Itoa(i)+"]: must be a string")
			continue
		}
		out = append(out, s)
	}
	return out, problems
}

func jsonRoles(problems []string, v interface{}) (map[string][]string, []string) {
	if v == nil {
		return nil, problems
	}
	obj, isObject := v.(map[string]interface{})
	if !isObject {
		problems = append(problems, "roles: must be an object of role names to permission lists")
		return nil, problems
	}
	roles := make(map[string][]string, len(obj))
	for name, perms := range obj {
		list, found := jsonStrings(nil, "roles."+name, perms)
		problems = append(problems, found...)
		roles[name] = list
	}
	return roles, problems
}

// jsonAssignments reads a list of assignment objects.
func jsonAssignments(problems []string, where string, v interface{}) ([]assignmentDocument, []string) {
	if v == nil {
		return nil, problems
	}
	list, isList := v.([]interface{})
	if !isList {
		problems = append(problems, where+": must be a list of assignments")
		return nil, problems
	}
	out := make([]assignmentDocument, 0, len(list))
	for i, e := range list {
		at := where + "[" + strconv.Itoa(i) + "]"
		obj, isObject := e.(map[string]interface{})
		if !isObject {
			problems = append(problems, at+": must be an object")
			continue
		}
		n := len(problems)
		problems = unknownMembers(problems, at+".", obj, assignmentMembers)
		var a assignmentDocument
		a.Subject, problems = jsonString(problems, at, "subject", obj["subject"])
		a.Org, problems = jsonString(problems, at, "org", obj["org"])
		a.Role, problems = jsonString(problems, at, "role", obj["role"])
		a.Issuer = obj["issuer"] // checkAssignment refuses a non-string
		a.Scope = obj["scope"]   // parseScopes refuses what is not a path or a list of paths
		if len(problems) == n {
			out = append(out, a)
		}
	}
	return out, problems
}

func jsonString(problems []string, where, field string, v interface{}) (string, []string) {
	if v == nil {
		return "", problems
	}
	s, isString := v.(string)
	if !isString {
		problems = append(problems, where+"."+field+": must be a string")
		return "", problems
	}
	return s, problems
}
