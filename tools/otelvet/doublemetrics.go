package otelvet

import (
	"go/ast"
	"go/types"
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// DoubleMetrics finds handlers whose requests are counted by two metric paths.
var DoubleMetrics = &analysis.Analyzer{
	Name: "doublemetrics",
	Doc: `report HTTP handlers instrumented by both otelhttp and a Prometheus middleware

otelhttp.NewHandler (and otelhttp.NewMiddleware) record the HTTP server
metrics of the OpenTelemetry semantic conventions. A Prometheus
instrumenting middleware on the same handler (promhttp.InstrumentHandler*,
or a Gin/Echo Prometheus middleware such as echoprometheus.NewMiddleware,
go-gin-prometheus, Depado/ginprom, chenjiandongx/ginprom or gin-metrics
registered on the engine that otelhttp wraps) records the same requests
again: dashboards that sum both show twice the traffic, and alerts fire on
doubled error counts.

The check follows the handler through nested calls and local variables in
both directions (otelhttp outside or inside). A handler whose otelhttp
options include otelhttp.WithMeterProvider(noop.NewMeterProvider()) has its
OpenTelemetry metrics switched off and is not reported.

Fix: keep one metrics path. Drop the Prometheus middleware and export the
otelhttp metrics (the OpenTelemetry Prometheus exporter serves them on
/metrics), or keep the middleware and pass
otelhttp.WithMeterProvider(noop.NewMeterProvider()).`,
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runDoubleMetrics,
}

// promMiddlewarePkgs are Gin and Echo middlewares that record Prometheus
// HTTP metrics when registered on an engine.
var promMiddlewarePkgs = []string{
	"github.com/zsais/go-gin-prometheus",
	"github.com/penglongli/gin-metrics/ginmetrics",
	"github.com/chenjiandongx/ginprom",
	"github.com/Depado/ginprom",
	"github.com/labstack/echo-contrib/echoprometheus",
	"github.com/labstack/echo-contrib/prometheus",
	"github.com/globocom/echo-prometheus",
}

type doubleMetrics struct {
	pass *analysis.Pass
	insp *inspector.Inspector
}

func runDoubleMetrics(pass *analysis.Pass) (any, error) {
	if !importsAny(pass.Pkg, pkgOtelHTTP) {
		return nil, nil
	}
	d := &doubleMetrics{pass: pass, insp: pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)}
	reported := map[*ast.CallExpr]bool{}
	for cur := range d.insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		_, body := enclosingFunc(cur)
		var otel, prom *ast.CallExpr
		switch {
		case d.isOtelWrap(call):
			otel = call
			prom = d.find(call, body, d.isPromWrap)
		case d.isPromWrap(call):
			prom = call
			otel = d.find(call, body, d.isOtelWrap)
		case isFunc(callee(pass.TypesInfo, call), pkgOtelHTTP, "NewMiddleware"):
			// e.Use(echo.WrapMiddleware(otelhttp.NewMiddleware("op"))):
			// look for a Prometheus middleware on the same engine.
			if engine := d.usedOn(cur); engine != nil {
				otel = call
				prom = d.engineMiddleware(engine, d.isPromWrap)
			}
		}
		if otel == nil || prom == nil || reported[otel] || metricsOff(pass.TypesInfo, otel) {
			continue
		}
		reported[otel] = true
		report(pass, otel, "requests are counted twice, by otelhttp and by "+d.name(prom)+": "+
			"keep one, or pass otelhttp.WithMeterProvider(noop.NewMeterProvider())")
	}
	return nil, nil
}

// isOtelWrap reports whether call is otelhttp.NewHandler(h, ...) or
// otelhttp.NewMiddleware(...)(h).
func (d *doubleMetrics) isOtelWrap(call *ast.CallExpr) bool {
	info := d.pass.TypesInfo
	if isFunc(callee(info, call), pkgOtelHTTP, "NewHandler") {
		return true
	}
	inner, ok := ast.Unparen(call.Fun).(*ast.CallExpr)
	return ok && isFunc(callee(info, inner), pkgOtelHTTP, "NewMiddleware")
}

// isPromWrap reports whether call is a promhttp.InstrumentHandler* call or
// a call into a known Gin/Echo Prometheus middleware package.
func (d *doubleMetrics) isPromWrap(call *ast.CallExpr) bool {
	fn := callee(d.pass.TypesInfo, call)
	if fn == nil || fn.Pkg() == nil {
		return false
	}
	if fn.Pkg().Path() == pkgPromHTTP {
		return strings.HasPrefix(fn.Name(), "InstrumentHandler") && recvType(fn) == nil
	}
	return slices.Contains(promMiddlewarePkgs, fn.Pkg().Path())
}

// name names the Prometheus middleware a call belongs to.
func (d *doubleMetrics) name(call *ast.CallExpr) string {
	fn := callee(d.pass.TypesInfo, call)
	if fn.Pkg().Path() == pkgPromHTTP {
		return "promhttp." + fn.Name()
	}
	return fn.Pkg().Path()
}

// metricsOff reports whether the otelhttp call is given a no-op meter
// provider.
func metricsOff(info *types.Info, call *ast.CallExpr) bool {
	args := call.Args
	if inner, ok := ast.Unparen(call.Fun).(*ast.CallExpr); ok {
		args = inner.Args // NewMiddleware(op, opts...)
	}
	for _, arg := range args {
		c, ok := ast.Unparen(arg).(*ast.CallExpr)
		if ok && isFunc(callee(info, c), pkgOtelHTTP, "WithMeterProvider") && len(c.Args) == 1 &&
			isNamed(info.TypeOf(c.Args[0]), pkgMetricNoop, "MeterProvider") {
			return true
		}
	}
	return false
}

// find searches the handler chain below call (the handlers it wraps,
// through nested calls and local variables) for a call matching match.
func (d *doubleMetrics) find(call *ast.CallExpr, body *ast.BlockStmt, match func(*ast.CallExpr) bool) *ast.CallExpr {
	seen := map[ast.Node]bool{}
	var walk func(e ast.Expr, depth int) *ast.CallExpr
	walk = func(e ast.Expr, depth int) *ast.CallExpr {
		if depth > 8 || seen[e] {
			return nil
		}
		seen[e] = true
		info := d.pass.TypesInfo
		switch e := ast.Unparen(e).(type) {
		case *ast.CallExpr:
			if depth > 0 && match(e) {
				return e
			}
			args := e.Args
			if inner, ok := ast.Unparen(e.Fun).(*ast.CallExpr); ok {
				if depth > 0 && match(inner) {
					return e
				}
				args = append(slices.Clip(args), inner.Args...)
			}
			for _, arg := range args {
				if isHandler(d.pass, info.TypeOf(arg)) {
					if found := walk(arg, depth+1); found != nil {
						return found
					}
				}
			}
		case *ast.Ident:
			v, ok := info.Uses[e].(*types.Var)
			if !ok {
				return nil
			}
			if isEngine(v.Type()) {
				if found := d.engineMiddleware(v, match); found != nil {
					return found
				}
			}
			if isLocal(v, body) {
				values, _ := assignedValues(info, body, v)
				for _, val := range values {
					if found := walk(val, depth+1); found != nil {
						return found
					}
				}
			}
		}
		return nil
	}
	return walk(call, 0)
}

// usedOn returns the engine variable E when cur is inside the arguments of
// a call E.Use(...).
func (d *doubleMetrics) usedOn(cur inspector.Cursor) *types.Var {
	for c := range cur.Enclosing((*ast.CallExpr)(nil)) {
		call := c.Node().(*ast.CallExpr)
		sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Use" {
			continue
		}
		if v, ok := objOf(d.pass.TypesInfo, sel.X).(*types.Var); ok && isEngine(v.Type()) {
			return v
		}
	}
	return nil
}

// isHandler reports whether t implements http.Handler.
func isHandler(pass *analysis.Pass, t types.Type) bool {
	if t == nil {
		return false
	}
	iface := lookupInterface(pass, "net/http", "Handler")
	return iface != nil && types.Implements(t, iface)
}

// isEngine reports whether t is a Gin or Echo engine.
func isEngine(t types.Type) bool {
	return isNamed(t, pkgGin, "Engine") || isNamed(t, pkgEchoV4, "Echo") || isNamed(t, pkgEchoV5, "Echo")
}

// engineMiddleware finds a middleware matching match registered on the
// engine variable v anywhere in the package: as an argument of v.Use(...)
// (directly or through a local variable), or as a call that takes v.
func (d *doubleMetrics) engineMiddleware(v *types.Var, match func(*ast.CallExpr) bool) *ast.CallExpr {
	info := d.pass.TypesInfo
	for cur := range d.insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		if match(call) && slices.ContainsFunc(call.Args, func(a ast.Expr) bool { return objOf(info, a) == v }) {
			return call // p.Use(r), ginprom.Engine(r)
		}
		sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Use" || objOf(info, sel.X) != v {
			continue
		}
		_, body := enclosingFunc(cur)
		for _, arg := range call.Args {
			if c, ok := ast.Unparen(arg).(*ast.CallExpr); ok && match(c) {
				return c
			}
			if mw := objOf(info, arg); isLocal(mw, body) {
				values, _ := assignedValues(info, body, mw)
				for _, val := range values {
					if c, ok := ast.Unparen(val).(*ast.CallExpr); ok && match(c) {
						return c
					}
				}
			}
		}
	}
	return nil
}
