package otelvet

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// NoExporter finds TracerProviders built without a span processor.
var NoExporter = &analysis.Analyzer{
	Name: "noexporter",
	Doc: `report sdktrace.NewTracerProvider calls without an exporter

A TracerProvider hands finished spans to its span processors, and the
processors hand them to an exporter. Built without sdktrace.WithBatcher,
sdktrace.WithSyncer or sdktrace.WithSpanProcessor, the provider records spans
and then drops every one of them: no error, no log line, empty dashboards.

The check looks at the options of the call and, when they are passed as a
slice (opts...), at the slice built in the same function. Options it cannot
see (a parameter, the result of another function) make it stay silent, and so
does a later tp.RegisterSpanProcessor call in the package.

Fix: create an exporter (otlptracehttp.New or otlptracegrpc.New) and pass
sdktrace.WithBatcher(exporter).`,
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runNoExporter,
}

// optKind classifies a TracerProviderOption expression.
type optKind int

const (
	optOther    optKind = iota // a known option that adds no processor
	optExporter                // WithBatcher, WithSyncer, WithSpanProcessor
	optUnknown                 // cannot tell
)

func runNoExporter(pass *analysis.Pass) (any, error) {
	if !importsAny(pass.Pkg, pkgSDKTrace) {
		return nil, nil
	}
	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	if registersProcessor(pass, insp) {
		return nil, nil
	}
	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		if !isFunc(callee(pass.TypesInfo, call), pkgSDKTrace, "NewTracerProvider") {
			continue
		}
		_, body := enclosingFunc(cur)
		if providerOptions(pass.TypesInfo, body, call) != optOther {
			continue
		}
		report(pass, call, "TracerProvider has no exporter, every span is dropped: add sdktrace.WithBatcher(exporter)")
	}
	return nil, nil
}

// registersProcessor reports whether the package calls
// (*sdktrace.TracerProvider).RegisterSpanProcessor anywhere.
func registersProcessor(pass *analysis.Pass, insp *inspector.Inspector) bool {
	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		if isMethod(callee(pass.TypesInfo, cur.Node().(*ast.CallExpr)), pkgSDKTrace, "TracerProvider", "RegisterSpanProcessor") {
			return true
		}
	}
	return false
}

// providerOptions classifies the options of a NewTracerProvider call as a
// whole: optExporter if any adds a processor, else optUnknown if any cannot be
// seen, else optOther.
func providerOptions(info *types.Info, body *ast.BlockStmt, call *ast.CallExpr) optKind {
	var kinds []optKind
	for i, arg := range call.Args {
		if call.Ellipsis.IsValid() && i == len(call.Args)-1 {
			kinds = append(kinds, sliceOptions(info, body, arg, 0))
		} else {
			kinds = append(kinds, optionKind(info, body, arg, 0))
		}
	}
	return combine(kinds...)
}

func combine(kinds ...optKind) optKind {
	result := optOther
	for _, k := range kinds {
		if k == optExporter {
			return optExporter
		}
		if k == optUnknown {
			result = optUnknown
		}
	}
	return result
}

// optionKind classifies one option expression.
func optionKind(info *types.Info, body *ast.BlockStmt, e ast.Expr, depth int) optKind {
	if depth > 4 {
		return optUnknown
	}
	switch e := ast.Unparen(e).(type) {
	case *ast.CallExpr:
		fn := callee(info, e)
		if isFunc(fn, pkgSDKTrace, "WithBatcher", "WithSyncer", "WithSpanProcessor") {
			return optExporter
		}
		if fn != nil && fn.Pkg() != nil && fn.Pkg().Path() == pkgSDKTrace {
			return optOther
		}
	case *ast.Ident:
		v, ok := info.Uses[e].(*types.Var)
		if !ok || !isLocal(v, body) {
			return optUnknown // not a local variable
		}
		values, complete := assignedValues(info, body, v)
		if !complete || len(values) == 0 {
			return optUnknown
		}
		var kinds []optKind
		for _, val := range values {
			kinds = append(kinds, optionKind(info, body, val, depth+1))
		}
		return combine(kinds...)
	}
	return optUnknown
}

// sliceOptions classifies a slice of options passed as opts...: a local
// slice built from composite literals and append calls is looked into.
func sliceOptions(info *types.Info, body *ast.BlockStmt, e ast.Expr, depth int) optKind {
	if depth > 4 {
		return optUnknown
	}
	switch e := ast.Unparen(e).(type) {
	case *ast.CompositeLit:
		var kinds []optKind
		for _, elt := range e.Elts {
			kinds = append(kinds, optionKind(info, body, elt, depth+1))
		}
		return combine(kinds...)
	case *ast.CallExpr:
		if isAppend(info, e) {
			return combine(sliceOptions(info, body, e.Args[0], depth+1), appended(info, body, e, depth+1))
		}
	case *ast.Ident:
		if e.Name == "nil" {
			return optOther
		}
		v, ok := info.Uses[e].(*types.Var)
		if !ok || !isLocal(v, body) {
			return optUnknown
		}
		values, complete := assignedValues(info, body, v)
		if !complete {
			return optUnknown
		}
		kinds := []optKind{optOther} // "var opts []Option" has no value
		for _, val := range values {
			if ast.Unparen(val) == e {
				continue
			}
			// opts = append(opts, x): the recursive reference to opts
			// is the slice itself; look only at what is appended.
			if call, ok := ast.Unparen(val).(*ast.CallExpr); ok && isAppend(info, call) && objOf(info, call.Args[0]) == v {
				kinds = append(kinds, appended(info, body, call, depth+1))
				continue
			}
			kinds = append(kinds, sliceOptions(info, body, val, depth+1))
		}
		return combine(kinds...)
	}
	return optUnknown
}

// isAppend reports whether call is a call of the built-in append.
func isAppend(info *types.Info, call *ast.CallExpr) bool {
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok || len(call.Args) == 0 {
		return false
	}
	b, ok := info.Uses[id].(*types.Builtin)
	return ok && b.Name() == "append"
}

// appended classifies what append(s, ...) adds to s.
func appended(info *types.Info, body *ast.BlockStmt, call *ast.CallExpr, depth int) optKind {
	kinds := []optKind{optOther}
	for i, arg := range call.Args[1:] {
		if call.Ellipsis.IsValid() && i == len(call.Args)-2 {
			kinds = append(kinds, sliceOptions(info, body, arg, depth))
		} else {
			kinds = append(kinds, optionKind(info, body, arg, depth))
		}
	}
	return combine(kinds...)
}
