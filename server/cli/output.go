package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// table prints rows aligned in columns under a header, for people.
type table struct {
	w    *tabwriter.Writer
	rows int
}

func newTable(out io.Writer, header ...string) *table {
	t := &table{w: tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)}
	t.row(header...)
	t.rows = 0
	return t
}

// row adds one row; a cell never holds a tab, a newline or a control byte.
func (t *table) row(cells ...string) {
	for i, c := range cells {
		if c == "" {
			c = "-"
		}
		cells[i] = strings.ReplaceAll(printable(c), "\t", " ")
	}
	fmt.Fprintln(t.w, strings.Join(cells, "\t"))
	t.rows++
}

func (t *table) flush() error { return t.w.Flush() }

// printJSON prints the API's JSON answer indented, or as is when it is not JSON.
func printJSON(out io.Writer, raw []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		_, err := out.Write(raw)
		return err
	}
	b.WriteByte('\n')
	_, err := out.Write(b.Bytes())
	return err
}

// list joins a list for a table cell.
func list(items []string) string { return strings.Join(items, ",") }
