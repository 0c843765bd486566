package policy

import (
	"errors"
	"strconv"
	"strings"
)

// parseScopes reads an assignment's scope: absent (the whole org), one path or a list of paths.
// A scope is a path prefix matched at segment boundaries; "*" matches exactly one segment.
func parseScopes(raw interface{}) ([][]string, error) {
	var list []string
	switch v := raw.(type) {
	case nil:
		return nil, nil
	case string:
		list = []string{v}
	case []interface{}:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, errors.New("scope must be a path or a list of paths")
			}
			list = append(list, s)
		}
	default:
		return nil, errors.New("scope must be a path or a list of paths")
	}
	if len(list) == 0 {
		return nil, errors.New("scope is an empty list: omit it to grant the whole org")
	}
	var out [][]string
	for _, s := range list {
		segs, err := ParseScope(s)
		if err != nil {
			return nil, err
		}
		out = append(out, segs)
	}
	return out, nil
}

// ParseScope splits one scope path into segments.
func ParseScope(s string) ([]string, error) {
	trimmed := strings.TrimSuffix(s, "/")
	if !strings.HasPrefix(s, "/") || trimmed == "" {
		return nil, errors.New("scope " + strconv.Quote(s) + " must be a path below / such as /topics/houseplants")
	}
	segs := strings.Split(trimmed[1:], "/")
	for _, seg := range segs {
		if seg == "" || seg == "." || seg == ".." || (strings.Contains(seg, "*") && seg != "*") {
			return nil, errors.New("scope " + strconv.Quote(s) + ": bad segment " + strconv.Quote(seg) + " (\"*\" must be a whole segment)")
		}
	}
	return segs, nil
}

// covers reports whether the resource path (segments) lies inside one of scopes. nil scopes cover everything.
func covers(scopes [][]string, resource []string) bool {
	if scopes == nil {
		return true
	}
	for _, scope := range scopes {
		if inside(scope, resource) {
			return true
		}
	}
	return false
}

func inside(scope, resource []string) bool {
	if len(resource) < len(scope) {
		return false
	}
	for i, s := range scope {
		if s != "*" && s != resource[i] {
			return false
		}
	}
	return true
}
