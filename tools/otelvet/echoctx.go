package otelvet

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// EchoCtx finds trace contexts that Echo handlers keep where nobody reads them.
var EchoCtx = &analysis.Analyzer{
	Name: "echoctx",
	Doc: `report trace contexts that Echo handlers keep off the request

otelecho, otelhttp clients, database drivers and the next handler all read the
active span from c.Request().Context(). A context.Context or trace.Span stored
with c.Set("ctx", ctx) lives in Echo's key/value store, where none of them
look, so the trace ends at the handler that stored it. A span started from
context.Background() or context.TODO() in a handler is likewise cut off from
the incoming request's trace.

A c.Set of a context is not reported when the same function also puts that
context on the request (c.SetRequest(c.Request().WithContext(ctx))).

Fix: c.SetRequest(c.Request().WithContext(ctx)); for a span,
c.SetRequest(c.Request().WithContext(trace.ContextWithSpan(c.Request().Context(), span)));
start spans from c.Request().Context().`,
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runEchoCtx,
}

// isEchoContext matches echo.Context of Echo v4 (an interface) and v5.
func isEchoContext(t types.Type) bool {
	return isNamed(t, pkgEchoV4, "Context") || isNamed(t, pkgEchoV5, "Context")
}

var echoHandler = handlerKind{
	name:       "Echo",
	param:      isEchoContext,
	requestCtx: func(c string) string { return c + ".Request().Context()" },
}

func runEchoCtx(pass *analysis.Pass) (any, error) {
	if !importsAny(pass.Pkg, pkgEchoV4, pkgEchoV5) {
		return nil, nil
	}
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		fn := callee(pass.TypesInfo, call)
		if len(call.Args) != 2 || fn == nil || fn.Name() != "Set" || !isEchoContext(recvType(fn)) {
			continue
		}
		val := call.Args[1]
		kind := storedValueKind(pass, val)
		if kind == "" {
			continue
		}
		_, body := enclosingFunc(cur)
		if echoRequestGetsContext(pass.TypesInfo, body, val, kind) {
			continue
		}
		c := render(pass.Fset, call.Fun.(*ast.SelectorExpr).X)
		v := render(pass.Fset, val)
		if kind == "span" {
			report(pass, call, "span stored with "+c+".Set is invisible to "+c+".Request().Context(), the trace breaks here: "+
				c+".SetRequest("+c+".Request().WithContext(trace.ContextWithSpan("+c+".Request().Context(), "+v+")))")
			continue
		}
		line := c + ".SetRequest(" + c + ".Request().WithContext(" + v + "))"
		var fixes []analysis.SuggestedFix
		if _, isStmt := cur.Parent().Node().(*ast.ExprStmt); isStmt && isIdent(call.Fun.(*ast.SelectorExpr).X) {
			fixes = append(fixes, insertLineAfter(pass, "put the context on the request", call.Pos(), call.End(), line))
		}
		report(pass, call, "context stored with "+c+".Set is invisible to "+c+".Request().Context(), the trace breaks here: "+line, fixes...)
	}
	checkBackgroundSpans(pass, insp, echoHandler)
	return nil, nil
}

// recvType returns the receiver type of a method, or nil.
func recvType(fn *types.Func) types.Type {
	if recv := fn.Type().(*types.Signature).Recv(); recv != nil {
		return recv.Type()
	}
	return nil
}

// echoRequestGetsContext reports whether body calls
// X.SetRequest(....WithContext(ctx)) on an echo.Context, with ctx covering
// the stored value.
func echoRequestGetsContext(info *types.Info, body *ast.BlockStmt, stored ast.Expr, kind string) bool {
	if body == nil {
		return false
	}
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 1 {
			return !found
		}
		fn := callee(info, call)
		if fn == nil || fn.Name() != "SetRequest" || !isEchoContext(recvType(fn)) {
			return !found
		}
		if arg, ok := isWithContext(info, call.Args[0]); ok && putsOnRequest(info, arg, stored, kind) {
			found = true
		}
		return !found
	})
	return found
}
