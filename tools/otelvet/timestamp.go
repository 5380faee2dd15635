package otelvet

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// Timestamp finds span start and end times that do not come from the clock
// the SDK uses.
var Timestamp = &analysis.Analyzer{
	Name: "timestamp",
	Doc: `report span start and end times not taken from time.Now

The SDK stamps spans with time.Now(), and so do metric readers, log
bridges and the parent spans of other services. A hand-passed time (a message
field, time.Unix of a number from a header, a parsed string, a mocked clock)
comes from another clock: the span starts before its parent, ends before it
starts, or sits minutes away from the metrics of the same request. The check
accepts time.Now() and values computed from it (start.Add(d), a variable
holding time.Now()); function parameters are not judged.

Fix: drop trace.WithTimestamp and let the SDK take the time; record the
foreign time as an attribute if it matters. If the value really comes from
this process's clock (say, a queue-wait start recorded earlier), silence the
finding with //otelvet:ignore timestamp <why>.`,
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runTimestamp,
}

// clockKind classifies a time.Time expression.
type clockKind int

const (
	clockSDK     clockKind = iota // time.Now() or computed from it
	clockUnknown                  // a parameter: the caller decides
	clockForeign                  // anything else
)

func runTimestamp(pass *analysis.Pass) (any, error) {
	if !importsAny(pass.Pkg, pkgTrace) {
		return nil, nil
	}
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		if len(call.Args) != 1 || !isFunc(callee(pass.TypesInfo, call), pkgTrace, "WithTimestamp") {
			continue
		}
		var outer *ast.CallExpr
		switch parent := cur.Parent().Node().(type) {
		case *ast.CallExpr:
			if !isStartOrEnd(pass.TypesInfo, parent) {
				continue
			}
			outer = parent
		case *ast.CompositeLit:
			if !isSpanOptionSlice(pass.TypesInfo.TypeOf(parent)) {
				continue
			}
		default:
			continue
		}
		if classifyTime(pass.TypesInfo, cur, call.Args[0], 0) != clockForeign {
			continue
		}
		var fixes []analysis.SuggestedFix
		if outer != nil && !soleUseOfLocal(pass.TypesInfo, cur, call.Args[0]) {
			pos, end := argSpan(outer, call)
			fixes = append(fixes, fix("drop trace.WithTimestamp", pos, end, ""))
		}
		report(pass, call, "span time not taken from time.Now misaligns the trace with its parent and with metrics: "+
			"drop trace.WithTimestamp and let the SDK stamp the span", fixes...)
	}
	return nil, nil
}

// soleUseOfLocal reports whether e mentions a local variable that is used
// nowhere else in its function: deleting e would leave it unused, and the
// fix would not compile.
func soleUseOfLocal(info *types.Info, cur inspector.Cursor, e ast.Expr) bool {
	var top ast.Node
	for c := range cur.Enclosing((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		top = c.Node()
	}
	if top == nil {
		return false
	}
	sole := false
	ast.Inspect(e, func(n ast.Node) bool {
		id, ok := n.(*ast.Ident)
		if !ok {
			return !sole
		}
		v, ok := info.Uses[id].(*types.Var)
		if !ok || v.IsField() || !isLocal(v, top) || isParamOf(info, top, v) {
			return true
		}
		uses := 0
		ast.Inspect(top, func(n ast.Node) bool {
			if n == e {
				return false
			}
			if id, ok := n.(*ast.Ident); ok && info.Uses[id] == v {
				uses++
			}
			return true
		})
		sole = uses == 0
		return !sole
	})
	return sole
}

// isParamOf reports whether v is a parameter of fn or of a function
// literal inside it.
func isParamOf(info *types.Info, fn ast.Node, v *types.Var) bool {
	found := false
	ast.Inspect(fn, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl, *ast.FuncLit:
			if isParam(info, n, v) {
				found = true
			}
		}
		return !found
	})
	return found
}

// isStartOrEnd reports whether call starts a span or is span.End.
func isStartOrEnd(info *types.Info, call *ast.CallExpr) bool {
	if isSpanStart(info, call) {
		return true
	}
	fn := callee(info, call)
	return fn != nil && fn.Name() == "End" && isSpan(recvType(fn))
}

// isSpanOptionSlice reports whether t is []trace.SpanStartOption or
// []trace.SpanEndOption.
func isSpanOptionSlice(t types.Type) bool {
	s, ok := types.Unalias(t).(*types.Slice)
	return ok && (isNamed(s.Elem(), pkgTrace, "SpanStartOption") || isNamed(s.Elem(), pkgTrace, "SpanEndOption"))
}

// argSpan returns the range to delete to remove arg from call's arguments,
// including one separating comma.
func argSpan(call *ast.CallExpr, arg ast.Expr) (token.Pos, token.Pos) {
	for i, a := range call.Args {
		if a != arg {
			continue
		}
		switch {
		case i+1 < len(call.Args):
			return a.Pos(), call.Args[i+1].Pos()
		case i > 0:
			return call.Args[i-1].End(), a.End()
		}
		return a.Pos(), a.End()
	}
	return arg.Pos(), arg.End()
}

// classifyTime decides where a time.Time value comes from.
// cur is the position of the expression, used to find the function that
// declares a variable (which may enclose a closure around cur).
func classifyTime(info *types.Info, cur inspector.Cursor, e ast.Expr, depth int) clockKind {
	if depth > 6 {
		return clockUnknown
	}
	switch e := ast.Unparen(e).(type) {
	case *ast.CallExpr:
		f := callee(info, e)
		if isFunc(f, "time", "Now") {
			return clockSDK
		}
		// t.Add(d), t.Round(d), t.UTC(), ...: as the receiver goes.
		if sel, ok := ast.Unparen(e.Fun).(*ast.SelectorExpr); ok && f != nil &&
			isNamed(recvType(f), "time", "Time") && isNamed(info.TypeOf(e), "time", "Time") {
			return classifyTime(info, cur, sel.X, depth+1)
		}
	case *ast.Ident:
		v, ok := info.Uses[e].(*types.Var)
		if !ok {
			return clockForeign
		}
		fn, body := declaringFunc(info, cur, v)
		if fn == nil {
			return clockForeign // package-level variable
		}
		if body == nil {
			return clockUnknown // parameter
		}
		values, complete := assignedValues(info, body, v)
		if !complete || len(values) == 0 {
			return clockUnknown
		}
		kind := clockSDK
		for _, val := range values {
			kind = max(kind, classifyTime(info, cur, val, depth+1))
		}
		return kind
	}
	return clockForeign
}

// declaringFunc finds the function around cur that declares v: it returns
// the function and its body for a local variable, the function and a nil
// body for a parameter, and nils if no enclosing function declares v.
func declaringFunc(info *types.Info, cur inspector.Cursor, v *types.Var) (ast.Node, *ast.BlockStmt) {
	for c := range cur.Enclosing((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		fn := c.Node()
		var body *ast.BlockStmt
		switch fn := fn.(type) {
		case *ast.FuncDecl:
			body = fn.Body
		case *ast.FuncLit:
			body = fn.Body
		}
		if isParam(info, fn, v) {
			return fn, nil
		}
		if isLocal(v, body) {
			return fn, body
		}
	}
	return nil, nil
}

// isParam reports whether v is a parameter or receiver of fn.
func isParam(info *types.Info, fn ast.Node, v *types.Var) bool {
	var lists []*ast.FieldList
	switch fn := fn.(type) {
	case *ast.FuncDecl:
		lists = []*ast.FieldList{fn.Recv, fn.Type.Params}
	case *ast.FuncLit:
		lists = []*ast.FieldList{fn.Type.Params}
	}
	for _, list := range lists {
		if list == nil {
			continue
		}
		for _, field := range list.List {
			for _, name := range field.Names {
				if info.Defs[name] == v {
					return true
				}
			}
		}
	}
	return false
}
