package otelvet

import (
	"go/ast"
	"go/types"
	"slices"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/ast/inspector"
)

// This file holds what ginctx, echoctx and httpctx share: finding the
// handlers of a framework and the spans they start from
// context.Background() while the request's context was right there.

// handlerKind describes how a framework's handlers look and how they reach
// the request's context.
type handlerKind struct {
	name string
	// param reports whether a parameter of this type makes the function a
	// handler of the framework.
	param func(types.Type) bool
	// with, if set, must match the type of another parameter too.
	with func(types.Type) bool
	// requestCtx returns the expression for the request's context, given
	// the name of the handler's parameter.
	requestCtx func(param string) string
}

// handlerParam returns the name of fn's parameter that makes it a handler of
// kind k, or "" if fn is not one (or the parameter is unnamed or blank).
func (k handlerKind) handlerParam(info *types.Info, fn ast.Node) string {
	ft := funcType(fn)
	if ft == nil || ft.Params == nil {
		return ""
	}
	if k.with != nil && !slices.ContainsFunc(ft.Params.List, func(f *ast.Field) bool { return k.with(info.TypeOf(f.Type)) }) {
		return ""
	}
	for _, field := range ft.Params.List {
		if !k.param(info.TypeOf(field.Type)) {
			continue
		}
		for _, name := range field.Names {
			if name.Name != "_" {
				return name.Name
			}
		}
	}
	return ""
}

// checkBackgroundSpans reports every span started from context.Background()
// or context.TODO() directly inside a handler of kind k. Nested function
// literals are skipped: a goroutine may detach from the request on purpose,
// and a literal that is itself a handler is visited on its own.
func checkBackgroundSpans(pass *analysis.Pass, insp *inspector.Inspector, k handlerKind) {
	for cur := range insp.Root().Preorder((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		fn := cur.Node()
		param := k.handlerParam(pass.TypesInfo, fn)
		if param == "" {
			continue
		}
		var body *ast.BlockStmt
		switch fn := fn.(type) {
		case *ast.FuncDecl:
			body = fn.Body
		case *ast.FuncLit:
			body = fn.Body
		}
		if body == nil {
			continue
		}
		want := k.requestCtx(param)
		ast.Inspect(body, func(n ast.Node) bool {
			if _, ok := n.(*ast.FuncLit); ok {
				return false
			}
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 || !isSpanStart(pass.TypesInfo, call) {
				return true
			}
			arg := call.Args[0]
			msg := k.name + " handler starts a span from a background context, the trace is cut off from the request: use " + want
			switch {
			case isBackgroundCall(pass.TypesInfo, arg):
				report(pass, arg, msg, fix("use the request's context", arg.Pos(), arg.End(), want))
			case isBackgroundVar(pass.TypesInfo, body, arg):
				report(pass, arg, msg)
			}
			return true
		})
	}
}

// isBackgroundVar reports whether e is a local variable of body whose every
// assignment is context.Background() or context.TODO().
func isBackgroundVar(info *types.Info, body *ast.BlockStmt, e ast.Expr) bool {
	v := objOf(info, e)
	if !isLocal(v, body) {
		return false
	}
	values, complete := assignedValues(info, body, v)
	if !complete || len(values) == 0 {
		return false
	}
	for _, val := range values {
		if !isBackgroundCall(info, val) {
			return false
		}
	}
	return true
}

// storedValueKind says what a value stored in a framework's key/value map
// is: "context", "span" or "" for anything else.
func storedValueKind(pass *analysis.Pass, val ast.Expr) string {
	t := pass.TypesInfo.TypeOf(val)
	switch {
	case t == nil:
		return ""
	case implementsSpan(pass, t):
		return "span"
	case implementsContext(pass, t):
		return "context"
	}
	return ""
}

// isWithContext reports whether e is a call of (*http.Request).WithContext
// and returns its argument.
func isWithContext(info *types.Info, e ast.Expr) (ast.Expr, bool) {
	call, ok := ast.Unparen(e).(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return nil, false
	}
	fn := callee(info, call)
	if isMethod(fn, "net/http", "Request", "WithContext") || isMethod(fn, "net/http", "Request", "Clone") {
		return call.Args[0], true
	}
	return nil, false
}

// putsOnRequest reports whether a request-context argument covers the
// stored value: for a context variable the argument must mention it; for a
// span (or any other expression) any new request context will do.
func putsOnRequest(info *types.Info, ctxArg ast.Expr, stored ast.Expr, kind string) bool {
	if kind == "context" {
		if v := objOf(info, stored); v != nil {
			return mentions(info, ctxArg, v)
		}
	}
	return true
}
