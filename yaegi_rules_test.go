//go:build !yaegi
// +build !yaegi

package gatehouse

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPluginCodeAvoidsYaegiTraps scans the plugin's own (non-test) source for constructs that
// Yaegi v0.16.1 or Traefik v3.7 mishandle (see docs/yaegi.md): parallel assignment with
// several right-hand expressions (any with =, with a call among them with :=), builtins inside a multi-value return, empty clauses in
// a binding type switch, range over an int, the min/max builtins, type parameters and struct
// embedding.
func TestPluginCodeAvoidsYaegiTraps(t *testing.T) {
	fset := token.NewFileSet()
	var files []string
	for _, dir := range []string{".", "tokens", "matcher", "policy", "assertion"} {
		m, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range m {
			if !strings.HasSuffix(f, "_test.go") {
				files = append(files, f)
			}
		}
	}
	if len(files) < 10 {
		t.Fatalf("found only %d plugin files", len(files))
	}
	builtins := map[string]bool{"len": true, "append": true, "cap": true, "make": true, "new": true, "min": true, "max": true}
	for _, path := range files {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			where := func() string { return fset.Position(n.Pos()).String() }
			switch x := n.(type) {
			case *ast.AssignStmt:
				if len(x.Rhs) > 1 && x.Tok == token.ASSIGN {
					t.Errorf("%s: parallel assignment: write one assignment per line", where())
				}
				if len(x.Rhs) > 1 && x.Tok == token.DEFINE {
					for _, r := range x.Rhs {
						if _, call := r.(*ast.CallExpr); call {
							t.Errorf("%s: parallel definition with a call: define one per line", where())
						}
					}
				}
			case *ast.ReturnStmt:
				if len(x.Results) > 1 {
					for _, r := range x.Results {
						if c, ok := r.(*ast.CallExpr); ok {
							if id, ok := c.Fun.(*ast.Ident); ok && builtins[id.Name] {
								t.Errorf("%s: builtin %s in a multi-value return", where(), id.Name)
							}
						}
					}
				}
			case *ast.TypeSwitchStmt:
				// With a binding (switch v := x.(type)), an empty clause that matches makes the
				// interpreted function return its zero values on the spot.
				if _, binds := x.Assign.(*ast.AssignStmt); binds {
					for _, c := range x.Body.List {
						if cc, ok := c.(*ast.CaseClause); ok && len(cc.Body) == 0 {
							t.Errorf("%s: empty clause in a binding type switch", where())
						}
					}
				}
			case *ast.RangeStmt:
				if lit, ok := x.X.(*ast.BasicLit); ok && lit.Kind == token.INT {
					t.Errorf("%s: range over an int", where())
				}
			case *ast.CallExpr:
				if id, ok := x.Fun.(*ast.Ident); ok && (id.Name == "min" || id.Name == "max") && id.Obj == nil {
					t.Errorf("%s: builtin %s", where(), id.Name)
				}
			case *ast.FuncType:
				if x.TypeParams != nil {
					t.Errorf("%s: type parameters", where())
				}
			case *ast.StructType:
				for _, fld := range x.Fields.List {
					if len(fld.Names) == 0 {
						t.Errorf("%s: embedded field", where())
					}
				}
			}
			return true
		})
	}
}
