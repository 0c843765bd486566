package review

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// clean makes s safe for a terminal: control and other non-graphic characters are escaped.
func clean(s string) string {
	for _, r := range s {
		if !unicode.IsGraphic(r) {
			q := strconv.QuoteToGraphic(s)
			return q[1 : len(q)-1]
		}
	}
	return s
}

// value formats one evidence value.
func value(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case []string:
		return strings.Join(x, ", ")
	case []interface{}:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = value(e)
		}
		return strings.Join(parts, ", ")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Facts are a finding's evidence as sorted name/value pairs (empty values left out).
func (f Finding) Facts() [][2]string {
	names := make([]string, 0, len(f.Evidence))
	for k := range f.Evidence {
		names = append(names, k)
	}
	sort.Strings(names)
	var out [][2]string
	for _, k := range names {
		if v := value(f.Evidence[k]); v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	return out
}

// WriteText writes the report as a table, each finding followed by its evidence.
func (r *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "Access review of %s: %d audit events since %s", r.At.Format(time.RFC3339), r.Events, r.Since.Format(time.RFC3339))
	if r.Previous != 0 {
		fmt.Fprintf(w, ", compared with review %d", r.Previous)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tSTATUS\tCLASS\tFINDING")
	for _, f := range r.Findings {
		status := f.Status
		if status == "open" && !f.FirstSeen.IsZero() {
			status += " since " + f.FirstSeen.Format("2006-01-02")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Severity, status, f.Class, clean(f.Title))
		facts := f.Facts()
		parts := make([]string, len(facts))
		for i, fa := range facts {
			parts[i] = fa[0] + ": " + clean(fa[1])
		}
		fmt.Fprintf(tw, "\t\t\t  %s\n", strings.Join(parts, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Findings) == 0 {
		fmt.Fprintln(w, "no findings")
	}
	if len(r.Resolved) > 0 {
		fmt.Fprintf(w, "\nResolved since review %d:\n", r.Previous)
		for _, f := range r.Resolved {
			fmt.Fprintf(w, "  %s  %s  %s\n", f.Severity, f.Class, clean(f.Title))
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nNot reviewed:")
		for _, n := range r.Notes {
			fmt.Fprintln(w, "  "+n)
		}
	}
	_, err := fmt.Fprintf(w, "\n%d high, %d medium, %d low, %d info\n", r.Counts[High], r.Counts[Medium], r.Counts[Low], r.Counts[Info])
	return err
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

var page = template.Must(template.New("review").Funcs(template.FuncMap{
	"time": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"day":  func(t time.Time) string { return t.UTC().Format("2006-01-02") },
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Gatehouse access review {{time .At}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: .4em .6em; text-align: left; vertical-align: top; }
.high { color: #a00; font-weight: bold; } .medium { color: #a60; } .low { color: #555; }
dl { margin: 0; display: grid; grid-template-columns: max-content auto; gap: 0 1em; }
dt { color: #666; } dd { margin: 0; word-break: break-all; }
</style>
</head>
<body>
<h1>Gatehouse access review</h1>
<p>{{time .At}}: {{.Events}} audit events since {{time .Since}}{{if .Previous}}, compared with review {{.Previous}}{{end}}.
{{index .Counts "high"}} high, {{index .Counts "medium"}} medium, {{index .Counts "low"}} low.</p>
<table>
<thead><tr><th>Severity</th><th>Status</th><th>Class</th><th>Finding</th><th>Evidence</th></tr></thead>
<tbody>
{{range .Findings}}<tr>
<td class="{{.Severity}}">{{.Severity}}</td>
<td>{{.Status}}{{if and (eq .Status "open") (not .FirstSeen.IsZero)}} since {{day .FirstSeen}}{{end}}</td>
<td>{{.Class}}</td>
<td>{{.Title}}</td>
<td><dl>{{range .Facts}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>{{end}}</dl></td>
</tr>
{{else}}<tr><td colspan="5">No findings.</td></tr>
{{end}}</tbody>
</table>
{{if .Resolved}}<h2>Resolved since review {{.Previous}}</h2>
<ul>{{range .Resolved}}<li><span class="{{.Severity}}">{{.Severity}}</span> {{.Class}}: {{.Title}}</li>{{end}}</ul>
{{end}}{{if .Notes}}<h2>Not reviewed</h2>
<ul>{{range .Notes}}<li>{{.}}</li>{{end}}</ul>
{{end}}</body>
</html>
`))

// WriteHTML writes the report as a self-contained HTML page; every value is escaped (html/template).
func (r *Report) WriteHTML(w io.Writer) error { return page.Execute(w, r) }
