package otelvet

import (
	"bytes"
	"go/ast"
	"go/format"
	"go/token"
	"go/types"
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"
)

// This file holds the type-based matching the checks share. Everything here
// resolves identifiers through go/types: a call matches a function only when
// it resolves to that function's object in the package with that import path.

// callee returns the function or method a call resolves to, or nil for calls
// of function values, conversions and built-ins.
func callee(info *types.Info, call *ast.CallExpr) *types.Func {
	fn, _ := typeutil.Callee(info, call).(*types.Func)
	return fn
}

// isFunc reports whether fn is a package-level function of the package at
// path with one of the given names.
func isFunc(fn *types.Func, path string, names ...string) bool {
	if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != path {
		return false
	}
	if fn.Type().(*types.Signature).Recv() != nil {
		return false
	}
	return slices.Contains(names, fn.Name())
}

// isMethod reports whether fn is a method named name of the type typeName
// (or a pointer to it) declared in the package at path. For methods of
// interfaces the receiver is the interface that declares the method.
func isMethod(fn *types.Func, path, typeName, name string) bool {
	if fn == nil || fn.Name() != name {
		return false
	}
	recv := fn.Type().(*types.Signature).Recv()
	return recv != nil && isNamed(recv.Type(), path, typeName)
}

// isNamed reports whether t, after removing one pointer, is the named type
// path.name.
func isNamed(t types.Type, path, name string) bool {
	if t == nil {
		return false
	}
	t = types.Unalias(t)
	if p, ok := t.(*types.Pointer); ok {
		t = types.Unalias(p.Elem())
	}
	n, ok := t.(*types.Named)
	if !ok {
		return false
	}
	obj := n.Obj()
	return obj.Pkg() != nil && obj.Pkg().Path() == path && obj.Name() == name
}

// isContext reports whether t is context.Context.
func isContext(t types.Type) bool { return isNamed(t, "context", "Context") }

// isSpan reports whether t is the OpenTelemetry trace.Span interface.
func isSpan(t types.Type) bool { return isNamed(t, pkgTrace, "Span") }

// implementsContext reports whether t is or implements context.Context.
func implementsContext(pass *analysis.Pass, t types.Type) bool {
	if isContext(t) {
		return true
	}
	iface := lookupInterface(pass, "context", "Context")
	return iface != nil && types.Implements(t, iface)
}

// implementsSpan reports whether t is or implements trace.Span.
func implementsSpan(pass *analysis.Pass, t types.Type) bool {
	if isSpan(t) {
		return true
	}
	iface := lookupInterface(pass, pkgTrace, "Span")
	return iface != nil && types.Implements(t, iface)
}

// lookupInterface finds the interface path.name among the packages the
// current package imports, directly or not.
func lookupInterface(pass *analysis.Pass, path, name string) *types.Interface {
	pkg := findImport(pass.Pkg, path)
	if pkg == nil {
		return nil
	}
	obj, _ := pkg.Scope().Lookup(name).(*types.TypeName)
	if obj == nil {
		return nil
	}
	iface, _ := obj.Type().Underlying().(*types.Interface)
	return iface
}

// findImport searches the import graph of pkg for the package at path.
func findImport(pkg *types.Package, path string) *types.Package {
	seen := map[*types.Package]bool{}
	var walk func(*types.Package) *types.Package
	walk = func(p *types.Package) *types.Package {
		if seen[p] {
			return nil
		}
		seen[p] = true
		if p.Path() == path {
			return p
		}
		for _, imp := range p.Imports() {
			if found := walk(imp); found != nil {
				return found
			}
		}
		return nil
	}
	return walk(pkg)
}

// importsAny reports whether pkg imports (directly or not) any package
// whose path has one of the given prefixes. Checks use it to skip packages
// that cannot contain a finding.
func importsAny(pkg *types.Package, prefixes ...string) bool {
	seen := map[*types.Package]bool{}
	var walk func(*types.Package) bool
	walk = func(p *types.Package) bool {
		if seen[p] {
			return false
		}
		seen[p] = true
		for _, pre := range prefixes {
			if strings.HasPrefix(p.Path(), pre) {
				return true
			}
		}
		return slices.ContainsFunc(p.Imports(), walk)
	}
	return walk(pkg)
}

// isSpanStart reports whether the call starts a span: it returns exactly
// (context.Context, trace.Span). That covers trace.Tracer.Start on any
// implementation and helpers that wrap it.
func isSpanStart(info *types.Info, call *ast.CallExpr) bool {
	tuple, ok := info.TypeOf(call).(*types.Tuple)
	return ok && tuple.Len() == 2 && isContext(tuple.At(0).Type()) && isSpan(tuple.At(1).Type())
}

// isBackgroundCall reports whether e is context.Background() or
// context.TODO().
func isBackgroundCall(info *types.Info, e ast.Expr) bool {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	return ok && isFunc(callee(info, call), "context", "Background", "TODO")
}

// objOf returns the object an identifier (possibly parenthesized) refers to.
func objOf(info *types.Info, e ast.Expr) types.Object {
	id, ok := ast.Unparen(e).(*ast.Ident)
	if !ok {
		return nil
	}
	return info.ObjectOf(id)
}

// mentions reports whether obj is referred to anywhere inside n.
func mentions(info *types.Info, n ast.Node, obj types.Object) bool {
	if n == nil || obj == nil {
		return false
	}
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok && info.Uses[id] == obj {
			found = true
		}
		return !found
	})
	return found
}

// enclosingFunc returns the innermost function (declaration or literal)
// around cur, and its body; body is nil outside functions.
func enclosingFunc(cur inspector.Cursor) (fn ast.Node, body *ast.BlockStmt) {
	for c := range cur.Enclosing((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		switch n := c.Node().(type) {
		case *ast.FuncDecl:
			return n, n.Body
		case *ast.FuncLit:
			return n, n.Body
		}
	}
	return nil, nil
}

// funcType returns the signature syntax of a FuncDecl or FuncLit.
func funcType(fn ast.Node) *ast.FuncType {
	switch n := fn.(type) {
	case *ast.FuncDecl:
		return n.Type
	case *ast.FuncLit:
		return n.Type
	}
	return nil
}

// assignedValues returns, for a local variable, every expression assigned
// to it inside body (including its definition), and whether the list is
// complete: false when the variable is assigned from a multi-value call
// other than the ones handled, or when its address is taken.
func assignedValues(info *types.Info, body ast.Node, v types.Object) (values []ast.Expr, complete bool) {
	complete = true
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			for i, lhs := range n.Lhs {
				if objOf(info, lhs) != v && !isDef(info, lhs, v) {
					continue
				}
				switch {
				case len(n.Lhs) == len(n.Rhs):
					values = append(values, n.Rhs[i])
				case len(n.Rhs) == 1:
					// v, ok := f(): record the call; callers decide.
					values = append(values, n.Rhs[0])
				default:
					complete = false
				}
			}
		case *ast.ValueSpec:
			for i, name := range n.Names {
				if info.Defs[name] != v {
					continue
				}
				switch {
				case len(n.Values) == len(n.Names):
					values = append(values, n.Values[i])
				case len(n.Values) == 1:
					values = append(values, n.Values[0])
				}
			}
		case *ast.UnaryExpr:
			if n.Op == token.AND && objOf(info, n.X) == v {
				complete = false
			}
		case *ast.RangeStmt:
			if objOf(info, n.Key) == v || objOf(info, n.Value) == v ||
				isDef(info, n.Key, v) || isDef(info, n.Value, v) {
				complete = false
			}
		}
		return true
	})
	return values, complete
}

// isDef reports whether e is an identifier that defines v.
func isDef(info *types.Info, e ast.Expr, v types.Object) bool {
	id, ok := e.(*ast.Ident)
	return ok && info.Defs[id] == v
}

// render prints a node as Go source.
func render(fset *token.FileSet, n ast.Node) string {
	var buf bytes.Buffer
	if err := format.Node(&buf, fset, n); err != nil {
		return ""
	}
	return buf.String()
}

// indentAt returns the leading white space of the line that holds pos, so a
// fix that inserts a new statement can line it up with its neighbour.
func indentAt(pass *analysis.Pass, pos token.Pos) string {
	tf := pass.Fset.File(pos)
	if tf == nil {
		return "\t"
	}
	var src []byte
	if pass.ReadFile != nil {
		src, _ = pass.ReadFile(tf.Name())
	}
	line := tf.Line(pos)
	start := tf.Offset(tf.LineStart(line))
	if src == nil || start >= len(src) {
		return strings.Repeat("\t", tf.Position(pos).Column-1)
	}
	end := start
	for end < len(src) && (src[end] == ' ' || src[end] == '\t') {
		end++
	}
	return string(src[start:end])
}

// isLocal reports whether v is declared inside body.
func isLocal(v types.Object, body ast.Node) bool {
	return v != nil && body != nil && v.Pos() >= body.Pos() && v.Pos() < body.End()
}

// insertLineAfter returns a fix that adds line as a new statement after the
// line on which end lies (after any trailing comment there), indented like
// the line of pos.
func insertLineAfter(pass *analysis.Pass, message string, pos, end token.Pos, line string) analysis.SuggestedFix {
	at := end
	if tf := pass.Fset.File(end); tf != nil {
		if l := tf.Line(end); l < tf.LineCount() {
			at = tf.LineStart(l+1) - 1 // the newline ending end's line
		}
	}
	return fix(message, at, at, "\n"+indentAt(pass, pos)+line)
}
