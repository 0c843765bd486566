package check

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Line numbers. Findings are made with their location as names (file, object, service,
// middleware, option path); locate then adds the line those names point at, reading each file
// once more: YAML through yaml.v3's nodes, compose labels by the label's own line, TOML by a scan
// of its tables and keys (the TOML decoder keeps no positions). A name that cannot be followed to
// the end gives the line of the deepest part found (the middleware, the option); a file that
// cannot be read again gives no line.

// locate sets Location.Line on every finding whose line can be found.
func locate(findings []Finding) {
	files := map[string]*sourceFile{}
	for i := range findings {
		loc := &findings[i].Location
		if loc.Line > 0 || loc.File == "" {
			continue
		}
		sf, ok := files[loc.File]
		if !ok {
			sf = readSource(loc.File)
			files[loc.File] = sf
		}
		if sf != nil {
			loc.Line = sf.line(*loc)
		} else if findings[i].Code == "malformed-file" {
			loc.Line = errorLine(findings[i].Message)
		}
	}
}

// sourceFile is a file read again for its lines: its YAML documents, or its TOML keys.
type sourceFile struct {
	docs []*yaml.Node // mapping nodes of the YAML documents
	toml *tomlLines
}

func readSource(path string) *sourceFile {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	if strings.EqualFold(filepath.Ext(path), ".toml") {
		return &sourceFile{toml: scanTOML(data)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	sf := &sourceFile{}
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil // malformed: errorLine reads the line from the message
		}
		if len(n.Content) == 1 && n.Content[0].Kind == yaml.MappingNode {
			sf.docs = append(sf.docs, n.Content[0])
		}
	}
	return sf
}

var yamlErrorLine = regexp.MustCompile(`line (\d+)`)

// errorLine is the line a decoder's error message names ("yaml: line 3: ..."), 0 if none.
func errorLine(msg string) int {
	if m := yamlErrorLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// line finds the line of a location in the file.
func (sf *sourceFile) line(loc Location) int {
	path, inner := splitOption(loc.Option)
	if sf.toml != nil {
		return sf.toml.line(loc.Middleware, path)
	}
	if strings.HasPrefix(loc.Object, "ConfigMap ") {
		name, key, _ := strings.Cut(strings.TrimPrefix(loc.Object, "ConfigMap "), ", ")
		doc := sf.manifest("ConfigMap", name)
		data := child(doc, "data", false)
		if data == nil {
			return nodeLine(doc)
		}
		keyNode, value := entry(data, key, false)
		if value == nil {
			return nodeLine(data)
		}
		if l := embeddedLine(value, path); l > 0 {
			return l
		}
		return keyNode.Line
	}
	for _, doc := range sf.docs {
		switch {
		case child(doc, "services", false) != nil && loc.Service != "":
			return composeLine(doc, loc.Service, loc.Middleware, path)
		case child(doc, "http", false) != nil && loc.Middleware != "":
			mws := child(child(doc, "http", false), "middlewares", false)
			_, mw := entry(mws, loc.Middleware, false)
			if mw == nil {
				continue
			}
			key, _ := entry(mws, loc.Middleware, false)
			return optionLine(pluginNode(mw), path, inner, key.Line)
		case child(doc, "apiVersion", false) != nil && child(doc, "kind", false) != nil:
			if scalarOf(child(doc, "kind", false)) != "Middleware" || !manifestNamed(doc, loc.Middleware) {
				continue
			}
			return optionLine(pluginNode(child(doc, "spec", false)), path, inner, doc.Line)
		default:
			return optionLine(doc, path, inner, doc.Line)
		}
	}
	return 0
}

// manifest returns the document of a kind and metadata.name.
func (sf *sourceFile) manifest(kind, name string) *yaml.Node {
	for _, doc := range sf.docs {
		if scalarOf(child(doc, "kind", false)) == kind && scalarOf(child(child(doc, "metadata", false), "name", false)) == name {
			return doc
		}
	}
	return nil
}

// manifestNamed reports whether a Middleware document is the one check named "NAMESPACE-NAME"
// (or "NAME" without a namespace).
func manifestNamed(doc *yaml.Node, name string) bool {
	meta := child(doc, "metadata", false)
	n, ns := scalarOf(child(meta, "name", false)), scalarOf(child(meta, "namespace", false))
	if ns != "" {
		n = ns + "-" + n
	}
	return n == name
}

// pluginNode returns the gatehouse plugin's options under a middleware (plugin keys match
// case-insensitively, as in pluginConf), or the middleware itself when there is none.
func pluginNode(mw *yaml.Node) *yaml.Node {
	if n := child(child(mw, "plugin", true), pluginName, true); n != nil {
		return n
	}
	return mw
}

// splitOption splits a location's option (`routes[3] "GET /x x:read"`, `roles.viewer`,
// `policy permissions[1] "a:b"`) into its path and, for an inline document, the path inside it.
func splitOption(option string) (string, string) {
	path, rest, _ := strings.Cut(option, " ")
	if rest == "" || strings.HasPrefix(rest, `"`) {
		return path, ""
	}
	inner, _, _ := strings.Cut(rest, " ")
	return path, inner
}

// segment is one step of an option path: a key, or an index.
type segment struct {
	key   string
	index int // -1 for a key
}

// segments splits "roles.viewer[0]" into roles, viewer, [0].
func segments(path string) []segment {
	var out []segment
	for _, part := range strings.Split(path, ".") {
		name, rest, _ := strings.Cut(part, "[")
		if name != "" {
			out = append(out, segment{key: name, index: -1})
		}
		for rest != "" {
			num, after, _ := strings.Cut(rest, "]")
			if i, err := strconv.Atoi(num); err == nil {
				out = append(out, segment{index: i})
			}
			_, rest, _ = strings.Cut(after, "[")
		}
	}
	return out
}

// optionLine follows an option path from a middleware's options node and returns the line of the
// deepest node reached: a key's own line, a list item's line. An inline document (a policy) is
// followed inside when it is a literal block. fallback is the line when node is nil.
func optionLine(node *yaml.Node, path, inner string, fallback int) int {
	if node == nil {
		return fallback
	}
	line := fallback
	if line == 0 {
		line = node.Line
	}
	cur := node
	for _, s := range segments(path) {
		switch {
		case s.index < 0 && cur.Kind == yaml.MappingNode:
			key, value := entry(cur, s.key, true)
			if value == nil {
				return line
			}
			line, cur = key.Line, value
		case s.index >= 0 && cur.Kind == yaml.SequenceNode && s.index < len(cur.Content):
			cur = cur.Content[s.index]
			line = cur.Line
		default:
			return line // a comma-separated string, or a path that goes no further
		}
	}
	if inner != "" && cur.Kind == yaml.ScalarNode {
		if l := embeddedLine(cur, inner); l > 0 {
			return l
		}
	}
	return line
}

// embeddedLine returns the line of path inside a YAML document carried as a scalar (an inline
// policy, a ConfigMap's data): inside a literal block the document's line n is the scalar's line
// plus n; elsewhere only its first line is known.
func embeddedLine(scalar *yaml.Node, path string) int {
	if scalar.Style&yaml.LiteralStyle == 0 {
		return scalar.Line
	}
	var n yaml.Node
	if yaml.Unmarshal([]byte(scalar.Value), &n) != nil || len(n.Content) != 1 {
		return scalar.Line
	}
	l := optionLine(n.Content[0], path, "", 0)
	if l == 0 {
		return scalar.Line
	}
	return scalar.Line + l
}

// composeLine is the line of the label that sets an option of a middleware in a compose service
// (labels in list or map form): the label naming the deepest part of the option path, else the
// middleware's first label, else the service's labels key.
func composeLine(doc *yaml.Node, service, middleware, path string) int {
	svcKey, svc := entry(child(doc, "services", false), service, false)
	if svc == nil {
		return 0
	}
	labelsKey, labels := entry(svc, "labels", false)
	if labels == nil {
		return svcKey.Line
	}
	lines := map[string]int{}
	add := func(k string, line int) {
		k = strings.ToLower(strings.TrimSpace(k))
		if _, seen := lines[k]; !seen {
			lines[k] = line
		}
	}
	switch labels.Kind {
	case yaml.SequenceNode:
		for _, item := range labels.Content {
			k, _, _ := strings.Cut(item.Value, "=")
			add(k, item.Line)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(labels.Content); i += 2 {
			add(labels.Content[i].Value, labels.Content[i].Line)
		}
	}
	mw := "traefik.http.middlewares." + strings.ToLower(middleware) + "."
	prefix := mw + "plugin." + pluginName + "."
	for p := strings.ToLower(path); p != ""; p = parentPath(p) {
		if l := firstLabel(lines, prefix+p); l > 0 {
			return l
		}
	}
	if l := firstLabel(lines, strings.TrimSuffix(mw, ".")); l > 0 {
		return l
	}
	return labelsKey.Line
}

// firstLabel is the first line of a label named key or under it (key.x, key[0]).
func firstLabel(lines map[string]int, key string) int {
	best := 0
	for k, l := range lines {
		if k == key || strings.HasPrefix(k, key+".") || strings.HasPrefix(k, key+"[") {
			if best == 0 || l < best {
				best = l
			}
		}
	}
	return best
}

// parentPath drops the last step of an option path: "a.b[1]" → "a.b" → "a" → "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// entry returns the key and value nodes of a mapping's key, exactly or case-insensitively when
// fold (Traefik and mapstructure match option names so).
func entry(m *yaml.Node, key string, fold bool) (*yaml.Node, *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	var k, v *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		name := m.Content[i].Value
		if name == key {
			return m.Content[i], m.Content[i+1]
		}
		if fold && k == nil && strings.EqualFold(name, key) {
			k, v = m.Content[i], m.Content[i+1]
		}
	}
	return k, v
}

func child(m *yaml.Node, key string, fold bool) *yaml.Node {
	_, v := entry(m, key, fold)
	return v
}

func scalarOf(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

func nodeLine(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}

// tomlLines are the lines of a TOML file's tables and keys, by lower-case dotted path, and of the
// items of its arrays of strings ("path[3]").
type tomlLines struct {
	at map[string]int
}

// line is the line of an option of a file-provider middleware: the option's key (or the item of
// an array), else the deepest table or key found on the way, else the middleware's table.
func (t *tomlLines) line(middleware, path string) int {
	base := "http.middlewares." + strings.ToLower(middleware)
	for p := strings.ToLower(path); p != ""; p = parentPath(p) {
		if l := t.first(base + ".plugin." + pluginName + "." + p); l > 0 {
			return l
		}
	}
	if l := t.first(base + ".plugin." + pluginName); l > 0 {
		return l
	}
	return t.first(base)
}

// first is the first line of the path or of anything under it.
func (t *tomlLines) first(path string) int {
	best := 0
	for k, l := range t.at {
		if k == path || strings.HasPrefix(k, path+".") || strings.HasPrefix(k, path+"[") {
			if best == 0 || l < best {
				best = l
			}
		}
	}
	return best
}

// scanTOML records the line of every table header, every key and every string item of an array
// (TOML 1.0: [table] and [[array]] headers, bare, quoted and dotted keys, multi-line strings and
// arrays). It reads only what it needs for locations; the decoder has already judged the syntax.
func scanTOML(data []byte) *tomlLines {
	t := &tomlLines{at: map[string]int{}}
	set := func(k string, line int) {
		if _, seen := t.at[k]; !seen {
			t.at[k] = line
		}
	}
	var table string
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		if line == "" || line[0] == '#' {
			continue
		}
		if line[0] == '[' {
			inner := strings.Trim(strings.SplitN(line, "#", 2)[0], " \t[]")
			table = strings.Join(tomlKey(inner), ".")
			set(table, i+1)
			continue
		}
		eq := keyEnd(line)
		if eq < 0 {
			continue
		}
		key := strings.Join(tomlKey(line[:eq]), ".")
		if table != "" {
			key = table + "." + key
		}
		set(key, i+1)
		// The value: follow multi-line strings and arrays to their end, noting array items.
		i = scanValue(lines, i, strings.TrimSpace(line[eq+1:]), key, set)
	}
	return t
}

// keyEnd is the index of the "=" ending a key (outside quotes), -1 if the line has none.
func keyEnd(line string) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '=':
			return i
		}
	}
	return -1
}

// tomlKey splits a dotted key into its parts, unquoted and lower-cased.
func tomlKey(s string) []string {
	var parts []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '.':
			parts = append(parts, strings.ToLower(strings.TrimSpace(cur.String())))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, strings.ToLower(strings.TrimSpace(cur.String())))
}

// scanValue reads a value starting on line i (its text after "="), notes the line of each string
// item of an array as key[n], and returns the index of the value's last line.
func scanValue(lines []string, i int, value, key string, set func(string, int)) int {
	for _, delim := range []string{`"""`, `'''`} {
		if strings.HasPrefix(value, delim) {
			rest := value[3:]
			for !strings.Contains(rest, delim) && i+1 < len(lines) {
				i++
				rest = lines[i]
			}
			return i
		}
	}
	if !strings.HasPrefix(value, "[") {
		return i
	}
	depth, item := 0, 0
	var quote byte
	text := value
	for {
		for j := 0; j < len(text); j++ {
			c := text[j]
			switch {
			case quote != 0:
				if c == '\\' && quote == '"' {
					j++
				} else if c == quote {
					quote = 0
				}
			case c == '#':
				j = len(text)
			case c == '"' || c == '\'':
				if depth == 1 {
					set(key+"["+strconv.Itoa(item)+"]", i+1)
					item++
				}
				quote = c
			case c == '[' || c == '{':
				depth++
			case c == ']' || c == '}':
				depth--
				if depth == 0 {
					return i
				}
			}
		}
		if i+1 >= len(lines) {
			return i
		}
		i++
		text = lines[i]
	}
}
