package otelvet

import (
	"fmt"
	"go/ast"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// NoPropagator finds programs that trace but never set a propagator.
var NoPropagator = &analysis.Analyzer{
	Name: "nopropagator",
	Doc: `report programs that build a TracerProvider but set no propagator

The Go SDK's global propagator is a no-op until otel.SetTextMapPropagator is
called. Without that call, otelhttp, otelgrpc and every other instrumentation
ignore the incoming traceparent header and inject none on outgoing requests:
every request becomes a root span and traces stop at each service boundary.
Setting OTEL_PROPAGATORS in the environment changes nothing unless the
program uses autoprop.

The check follows the program's import graph: a main package is reported if
it, or any package it imports, builds a TracerProvider or calls
otel.SetTracerProvider, and no package of the program calls
otel.SetTextMapPropagator. It also reports
propagation.NewCompositeTextMapPropagator() with no arguments, which
propagates nothing.

Fix: call
otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
propagation.TraceContext{}, propagation.Baggage{})) next to
otel.SetTracerProvider, or otel.SetTextMapPropagator(autoprop.NewTextMapPropagator())
to honour OTEL_PROPAGATORS.`,
	Requires:  []*analysis.Analyzer{inspect.Analyzer},
	Run:       runNoPropagator,
	FactTypes: []analysis.Fact{new(tracingSetup)},
}

// tracingSetup is a package fact: what the package and everything it
// imports do to set up tracing.
type tracingSetup struct {
	Provider   string // import path of a package that builds or sets a TracerProvider
	Propagator bool   // some package calls otel.SetTextMapPropagator
}

func (*tracingSetup) AFact() {}

func (f *tracingSetup) String() string {
	return fmt.Sprintf("tracingSetup(provider=%q, propagator=%v)", f.Provider, f.Propagator)
}

func runNoPropagator(pass *analysis.Pass) (any, error) {
	var setup tracingSetup
	for _, imp := range pass.Pkg.Imports() {
		var f tracingSetup
		if pass.ImportPackageFact(imp, &f) {
			if setup.Provider == "" {
				setup.Provider = f.Provider
			}
			setup.Propagator = setup.Propagator || f.Propagator
		}
	}

	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	var ownProvider *ast.CallExpr
	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		fn := callee(pass.TypesInfo, call)
		switch {
		case isFunc(fn, pkgSDKTrace, "NewTracerProvider"), isFunc(fn, pkgOtel, "SetTracerProvider"):
			if ownProvider == nil {
				ownProvider = call
			}
			setup.Provider = pass.Pkg.Path()
		case isFunc(fn, pkgOtel, "SetTextMapPropagator"):
			setup.Propagator = true
		case isFunc(fn, pkgPropagation, "NewCompositeTextMapPropagator") && len(call.Args) == 0:
			reportEmptyComposite(pass, call)
		}
	}

	if setup != (tracingSetup{}) {
		pass.ExportPackageFact(&setup)
	}

	if pass.Pkg.Name() != "main" || strings.HasSuffix(pass.Pkg.Path(), ".test") ||
		setup.Provider == "" || setup.Propagator {
		return nil, nil
	}
	var at analysis.Range = ownProvider
	if ownProvider == nil {
		main := mainFunc(pass)
		if main == nil {
			return nil, nil
		}
		at = main.Name
	}
	where := ""
	if setup.Provider != pass.Pkg.Path() {
		where = " (in " + setup.Provider + ")"
	}
	report(pass, at, "program builds a TracerProvider"+where+" but sets no propagator, incoming trace context is ignored: "+
		"call otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator("+
		"propagation.TraceContext{}, propagation.Baggage{}))")
	return nil, nil
}

// reportEmptyComposite reports NewCompositeTextMapPropagator() and suggests
// the W3C pair.
func reportEmptyComposite(pass *analysis.Pass, call *ast.CallExpr) {
	qual := "propagation."
	if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok {
		if id, ok := sel.X.(*ast.Ident); ok {
			qual = id.Name + "."
		}
	} else {
		qual = "" // dot import
	}
	args := qual + "TraceContext{}, " + qual + "Baggage{}"
	report(pass, call, "NewCompositeTextMapPropagator() without propagators propagates nothing: pass "+args,
		fix("add TraceContext and Baggage", call.Rparen, call.Rparen, args))
}

// mainFunc returns the declaration of func main, if the package has one.
func mainFunc(pass *analysis.Pass) *ast.FuncDecl {
	for _, f := range pass.Files {
		for _, decl := range f.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "main" {
				return fd
			}
		}
	}
	return nil
}
