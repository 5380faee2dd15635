package otelvet

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// GinCtx finds trace contexts that Gin handlers keep where nobody reads them.
var GinCtx = &analysis.Analyzer{
	Name: "ginctx",
	Doc: `report trace contexts that Gin handlers keep off the request

otelgin, otelhttp clients, database drivers and the next handler all read the
active span from c.Request.Context(). A context.Context or trace.Span stored
with c.Set("ctx", ctx) lives in Gin's key/value map, where none of them look,
so the trace ends at the handler that stored it. A span started from
context.Background() or context.TODO() in a handler is likewise cut off from
the incoming request's trace.

A c.Set of a context is not reported when the same function also puts that
context on the request (c.Request = c.Request.WithContext(ctx)).

Fix: c.Request = c.Request.WithContext(ctx); for a span,
c.Request = c.Request.WithContext(trace.ContextWithSpan(c.Request.Context(), span));
start spans from c.Request.Context().`,
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runGinCtx,
}

var ginHandler = handlerKind{
	name: "Gin",
	param: func(t types.Type) bool {
		_, ok := types.Unalias(t).(*types.Pointer)
		return ok && isNamed(t, pkgGin, "Context")
	},
	requestCtx: func(c string) string { return c + ".Request.Context()" },
}

func runGinCtx(pass *analysis.Pass) (any, error) {
	if !importsAny(pass.Pkg, pkgGin) {
		return nil, nil
	}
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		if len(call.Args) != 2 || !isMethod(callee(pass.TypesInfo, call), pkgGin, "Context", "Set") {
			continue
		}
		val := call.Args[1]
		kind := storedValueKind(pass, val)
		if kind == "" {
			continue
		}
		_, body := enclosingFunc(cur)
		if ginRequestGetsContext(pass.TypesInfo, body, val, kind) {
			continue
		}
		c := render(pass.Fset, call.Fun.(*ast.SelectorExpr).X)
		v := render(pass.Fset, val)
		if kind == "span" {
			report(pass, call, "span stored with "+c+".Set is invisible to "+c+".Request.Context(), the trace breaks here: "+
				c+".Request = "+c+".Request.WithContext(trace.ContextWithSpan("+c+".Request.Context(), "+v+"))")
			continue
		}
		line := c + ".Request = " + c + ".Request.WithContext(" + v + ")"
		var fixes []analysis.SuggestedFix
		if _, isStmt := cur.Parent().Node().(*ast.ExprStmt); isStmt && isIdent(call.Fun.(*ast.SelectorExpr).X) {
			fixes = append(fixes, insertLineAfter(pass, "put the context on the request", call.Pos(), call.End(), line))
		}
		report(pass, call, "context stored with "+c+".Set is invisible to "+c+".Request.Context(), the trace breaks here: "+line, fixes...)
	}
	checkBackgroundSpans(pass, insp, ginHandler)
	return nil, nil
}

// ginRequestGetsContext reports whether body assigns X.Request =
// ....WithContext(ctx) on a *gin.Context, with ctx covering the stored value.
func ginRequestGetsContext(info *types.Info, body *ast.BlockStmt, stored ast.Expr, kind string) bool {
	if body == nil {
		return false
	}
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || len(as.Lhs) != len(as.Rhs) {
			return !found
		}
		for i, lhs := range as.Lhs {
			sel, ok := ast.Unparen(lhs).(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "Request" || !isNamed(info.TypeOf(sel.X), pkgGin, "Context") {
				continue
			}
			if arg, ok := isWithContext(info, as.Rhs[i]); ok && putsOnRequest(info, arg, stored, kind) {
				found = true
			}
		}
		return !found
	})
	return found
}

func isIdent(e ast.Expr) bool { _, ok := ast.Unparen(e).(*ast.Ident); return ok }
