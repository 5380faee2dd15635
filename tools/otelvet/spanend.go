package otelvet

// The path search in this file follows the lostcancel analyzer of
// golang.org/x/tools (Copyright 2016 The Go Authors, BSD-style license).

import (
	"fmt"
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/ctrlflow"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/cfg"
)

// SpanEnd finds spans that are not ended on every path.
var SpanEnd = &analysis.Analyzer{
	Name: "spanend",
	Doc: `report spans whose End is not called on every return path

A span is exported only when End is called. A span started with
tracer.Start and left un-ended on an early return (typically an error path)
is never exported: the trace shows a gap exactly where something went wrong,
and the latency histograms built from spans lose their slowest samples. A span
whose result is discarded (ctx, _ := tracer.Start(...)) can never be ended.

The check finds, in the function that starts the span, a path from the Start
call to a return that neither calls span.End, nor defers it, nor hands the span
on (returns it, passes it to a function, stores it or uses it in a closure).
Calls such as span.RecordError or span.SetStatus do not end the span.

Fix: defer span.End() right after the Start call.`,
	Requires: []*analysis.Analyzer{inspect.Analyzer, ctrlflow.Analyzer},
	Run:      runSpanEnd,
}

func runSpanEnd(pass *analysis.Pass) (any, error) {
	if !importsAny(pass.Pkg, pkgTrace) {
		return nil, nil
	}
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	for cur := range insp.Root().Preorder((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		spanEndFunc(pass, cur.Node())
	}
	return nil, nil
}

// spanDef is a statement that starts a span and keeps it in a variable.
type spanDef struct {
	stmt   ast.Node // *ast.AssignStmt or *ast.ValueSpec
	id     *ast.Ident
	canFix bool // stmt is a plain statement outside loops: a defer may follow it
}

func spanEndFunc(pass *analysis.Pass, fn ast.Node) {
	info := pass.TypesInfo
	var body *ast.BlockStmt
	var sig *types.Signature
	switch fn := fn.(type) {
	case *ast.FuncDecl:
		body = fn.Body
		if obj, ok := info.Defs[fn.Name].(*types.Func); ok {
			sig = obj.Type().(*types.Signature)
		}
	case *ast.FuncLit:
		body = fn.Body
		sig, _ = info.TypeOf(fn).(*types.Signature)
	}
	if body == nil || sig == nil {
		return
	}
	funcScope := info.Scopes[funcType(fn)]

	defs := map[*types.Var]spanDef{}
	ast.PreorderStack(body, nil, func(n ast.Node, stack []ast.Node) bool {
		if _, ok := n.(*ast.FuncLit); ok {
			return false // visited on its own
		}
		call, ok := n.(*ast.CallExpr)
		if !ok || !isSpanStart(info, call) || len(stack) == 0 {
			return true
		}
		var id *ast.Ident
		stmt := stack[len(stack)-1]
		switch stmt := stmt.(type) {
		case *ast.AssignStmt:
			if len(stmt.Lhs) == 2 && len(stmt.Rhs) == 1 {
				id, _ = stmt.Lhs[1].(*ast.Ident)
			}
		case *ast.ValueSpec:
			if len(stmt.Names) == 2 && len(stmt.Values) == 1 {
				id = stmt.Names[1]
			}
		case *ast.ExprStmt:
			report(pass, call, "span is discarded and never ended: keep it and defer span.End()")
			return true
		}
		if id == nil {
			return true
		}
		if id.Name == "_" {
			report(pass, id, "span is discarded and never ended: keep it and defer span.End()")
			return true
		}
		v, _ := info.ObjectOf(id).(*types.Var)
		if v == nil || funcScope == nil || !funcScope.Contains(v.Pos()) {
			return true // declared outside: it may be ended elsewhere
		}
		defs[v] = spanDef{stmt: stmt, id: id, canFix: canDeferAfter(stack)}
		return true
	})
	if len(defs) == 0 {
		return
	}

	cfgs := pass.ResultOf[ctrlflow.Analyzer].(*ctrlflow.CFGs)
	var g *cfg.CFG
	switch fn := fn.(type) {
	case *ast.FuncDecl:
		g = cfgs.FuncDecl(fn)
	case *ast.FuncLit:
		g = cfgs.FuncLit(fn)
	}
	if g == nil {
		return
	}
	for v, def := range defs {
		ret := unendedPath(info, g, v, def.stmt, sig)
		if ret == nil {
			continue
		}
		where := ""
		if tf := pass.Fset.File(ret.Pos()); tf != nil && ret.Pos().IsValid() && tf == pass.Fset.File(def.stmt.Pos()) {
			where = fmt.Sprintf(" (return at line %d)", tf.Line(ret.Pos()))
		}
		var fixes []analysis.SuggestedFix
		if def.canFix {
			fixes = append(fixes, insertLineAfter(pass, "defer "+v.Name()+".End()", def.stmt.Pos(), def.stmt.End(), "defer "+v.Name()+".End()"))
		}
		report(pass, def.stmt, "span not ended on every path"+where+": add defer "+v.Name()+".End() after the Start call", fixes...)
	}
}

// canDeferAfter reports whether a defer statement can follow the statement
// on top of stack: it is an assignment in a block, and no loop lies between
// it and the function (a defer in a loop would end the span too late).
func canDeferAfter(stack []ast.Node) bool {
	if len(stack) < 2 {
		return false
	}
	if _, ok := stack[len(stack)-1].(*ast.AssignStmt); !ok {
		return false
	}
	if _, ok := stack[len(stack)-2].(*ast.BlockStmt); !ok {
		return false
	}
	for _, n := range stack {
		switch n.(type) {
		case *ast.ForStmt, *ast.RangeStmt:
			return false
		}
	}
	return true
}

// unendedPath finds a path through the CFG from stmt (which defines the
// span variable v) to a return statement along which v is never ended or
// handed on. It returns that return statement (possibly synthetic), or nil.
func unendedPath(info *types.Info, g *cfg.CFG, v *types.Var, stmt ast.Node, sig *types.Signature) *ast.ReturnStmt {
	isNamedResult := false
	for r := range sig.Results().Variables() {
		if r == v {
			isNamedResult = true
		}
	}

	ends := func(nodes []ast.Node) bool {
		for _, n := range nodes {
			if endsSpan(info, n, v, isNamedResult) {
				return true
			}
		}
		return false
	}
	memo := map[*cfg.Block]bool{}
	blockEnds := func(b *cfg.Block) bool {
		res, ok := memo[b]
		if !ok {
			res = ends(b.Nodes)
			memo[b] = res
		}
		return res
	}

	var defblock *cfg.Block
	var rest []ast.Node
outer:
	for _, b := range g.Blocks {
		for i, n := range b.Nodes {
			if n == stmt {
				defblock, rest = b, b.Nodes[i+1:]
				break outer
			}
		}
	}
	if defblock == nil {
		return nil // unreachable definition
	}
	if ends(rest) {
		return nil
	}
	if ret := defblock.Return(); ret != nil {
		return ret
	}
	seen := map[*cfg.Block]bool{}
	var search func([]*cfg.Block) *ast.ReturnStmt
	search = func(blocks []*cfg.Block) *ast.ReturnStmt {
		for _, b := range blocks {
			if seen[b] {
				continue
			}
			seen[b] = true
			if blockEnds(b) {
				continue
			}
			if ret := b.Return(); ret != nil {
				return ret
			}
			if ret := search(b.Succs); ret != nil {
				return ret
			}
		}
		return nil
	}
	return search(defblock.Succs)
}

// endsSpan reports whether n ends the span in v or hands it on: v.End()
// (called, deferred or as a method value), v used inside a closure, v
// passed, returned, stored or compared; a bare return when v is a named
// result. Other method calls on v (SetAttributes, RecordError, ...) and
// assignments to v do not count.
func endsSpan(info *types.Info, root ast.Node, v *types.Var, isNamedResult bool) bool {
	found := false
	ast.PreorderStack(root, nil, func(n ast.Node, stack []ast.Node) bool {
		if found {
			return false
		}
		switch n := n.(type) {
		case *ast.ReturnStmt:
			if n.Results == nil && isNamedResult {
				found = true
			}
		case *ast.Ident:
			if info.Uses[n] != v {
				return true
			}
			if len(stack) == 0 {
				found = true
				return false
			}
			for _, anc := range stack {
				if _, ok := anc.(*ast.FuncLit); ok {
					found = true // captured by a closure
					return false
				}
			}
			switch parent := stack[len(stack)-1].(type) {
			case *ast.SelectorExpr:
				found = parent.X == n && parent.Sel.Name == "End"
			case *ast.AssignStmt:
				found = !isLhs(parent, n)
			default:
				found = true
			}
		}
		return !found
	})
	return found
}

func isLhs(as *ast.AssignStmt, id *ast.Ident) bool {
	for _, lhs := range as.Lhs {
		if lhs == id {
			return true
		}
	}
	return false
}
