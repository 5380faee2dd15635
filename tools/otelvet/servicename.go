package otelvet

import (
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// ServiceName finds service names that can come out empty or that silently
// override OTEL_SERVICE_NAME.
var ServiceName = &analysis.Analyzer{
	Name: "servicename",
	Doc: `report service names that can come out empty or override OTEL_SERVICE_NAME

A service name built from os.Getenv or os.LookupEnv is empty when the
variable is unset, or set to "" by a template left blank; the SDK then
reports the service as unknown_service:go and its telemetry lands under the
wrong name. The check follows the value given to semconv.ServiceName,
semconv.ServiceNameKey.String, attribute.Key("service.name").String and
attribute.String("service.name", ...) back through local variables, string
concatenation, fmt and strings calls and functions of the program; it is
satisfied by a comparison of the variable with "" (or of its length), or by
cmp.Or(name, "default"). The ok result of os.LookupEnv is not a non-empty check.

It also reports a name set in code where the code asks for OTEL_SERVICE_NAME
too and the code silently wins: resource.New with resource.WithFromEnv()
before resource.WithAttributes(service name), and
resource.Merge(resource.Default() or resource.Environment(), <resource with a
service name>). In both, the later resource overrides the earlier one, so
OTEL_SERVICE_NAME (which otelwire sets) is ignored.

Fix: fall back to a default when the variable is empty,
cmp.Or(os.Getenv("SERVICE_NAME"), "orders"); put resource.WithFromEnv()
after resource.WithAttributes(...) so the environment wins.`,
	Requires:  []*analysis.Analyzer{inspect.Analyzer},
	Run:       runServiceName,
	FactTypes: []analysis.Fact{new(envString)},
}

// envString is an object fact on a function that returns a string read
// from the environment without a non-empty check.
type envString struct{}

func (*envString) AFact()         {}
func (*envString) String() string { return "envString" }

func runServiceName(pass *analysis.Pass) (any, error) {
	// Facts first, for every package: helpers that read the environment
	// often live in packages that know nothing of OpenTelemetry.
	t := newEnvTaint(pass)
	for fn, decl := range t.decls {
		if isStringFunc(fn) && t.funcDerived(fn, decl) {
			pass.ExportObjectFact(fn, new(envString))
		}
	}
	if !importsAny(pass.Pkg, pkgOtel) {
		return nil, nil
	}

	insp := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	for cur := range insp.Root().Preorder((*ast.CallExpr)(nil)) {
		call := cur.Node().(*ast.CallExpr)
		fn, body := enclosingFunc(cur)
		var scope ast.Node = body
		if fn == nil {
			scope = nil
		}
		if val := serviceNameValue(pass.TypesInfo, call); val != nil && t.derived(val, scope, 0) {
			report(pass, val, "service name read from the environment without a non-empty check, unset it becomes unknown_service:go: "+
				"fall back to a default, e.g. cmp.Or(name, \"my-service\")")
		}
		switch callee := callee(pass.TypesInfo, call); {
		case isFunc(callee, pkgResource, "New"):
			checkEnvBeforeName(pass, call)
		case isFunc(callee, pkgResource, "Merge") && len(call.Args) == 2:
			checkMergeOverride(pass, body, call)
		}
	}
	return nil, nil
}

// serviceNameValue returns the value a call gives service.name, or nil if
// the call does not set it.
func serviceNameValue(info *types.Info, call *ast.CallExpr) ast.Expr {
	fn := callee(info, call)
	if fn == nil || fn.Pkg() == nil {
		return nil
	}
	switch {
	case fn.Name() == "ServiceName" && len(call.Args) == 1 &&
		strings.HasPrefix(fn.Pkg().Path(), pkgSemconv) && recvType(fn) == nil:
		return call.Args[0]
	case isFunc(fn, pkgAttribute, "String") && len(call.Args) == 2 && isServiceNameKey(info, call.Args[0]):
		return call.Args[1]
	case isMethod(fn, pkgAttribute, "Key", "String") && len(call.Args) == 1:
		if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok && isServiceNameKey(info, sel.X) {
			return call.Args[0]
		}
	}
	return nil
}

// isServiceNameKey reports whether e is the constant "service.name".
func isServiceNameKey(info *types.Info, e ast.Expr) bool {
	tv, ok := info.Types[e]
	return ok && tv.Value != nil && tv.Value.Kind() == constant.String && constant.StringVal(tv.Value) == "service.name"
}

// containsServiceName reports whether a service name is set anywhere in n.
func containsServiceName(info *types.Info, n ast.Node) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok && serviceNameValue(info, call) != nil {
			found = true
		}
		return !found
	})
	return found
}

// checkEnvBeforeName reports resource.New(ctx, ..., WithFromEnv(), ...,
// WithAttributes(<service name>), ...): the attributes override the
// environment. The fix moves WithFromEnv() to the end.
func checkEnvBeforeName(pass *analysis.Pass, call *ast.CallExpr) {
	if call.Ellipsis.IsValid() {
		return
	}
	env := -1
	for i, arg := range call.Args {
		c, ok := ast.Unparen(arg).(*ast.CallExpr)
		if !ok {
			continue
		}
		fn := callee(pass.TypesInfo, c)
		if env < 0 && isFunc(fn, pkgResource, "WithFromEnv") {
			env = i
			continue
		}
		if env < 0 || !isFunc(fn, pkgResource, "WithAttributes") || !containsServiceName(pass.TypesInfo, c) {
			continue
		}
		envArg, last := call.Args[env], call.Args[len(call.Args)-1]
		envText := render(pass.Fset, envArg)
		add := analysis.TextEdit{Pos: last.End(), End: last.End(), NewText: []byte(", " + envText)}
		if pass.Fset.Position(call.Rparen).Line > pass.Fset.Position(last.End()).Line {
			// one argument a line: add a line
			add = insertLineAfter(pass, "", last.Pos(), last.End(), envText+",").TextEdits[0]
		}
		move := analysis.SuggestedFix{
			Message:   "move resource.WithFromEnv() last",
			TextEdits: []analysis.TextEdit{{Pos: envArg.Pos(), End: call.Args[env+1].Pos()}, add},
		}
		report(pass, c, "service name set in code after resource.WithFromEnv() overrides OTEL_SERVICE_NAME: "+
			"put resource.WithFromEnv() after resource.WithAttributes", move)
		return
	}
}

// checkMergeOverride reports resource.Merge(<environment>, <service name>).
func checkMergeOverride(pass *analysis.Pass, body *ast.BlockStmt, call *ast.CallExpr) {
	first, second := call.Args[0], call.Args[1]
	if !isEnvResource(pass.TypesInfo, body, first, 0) || !hasServiceName(pass.TypesInfo, body, second, 0) {
		return
	}
	report(pass, second, "service name set in code overrides OTEL_SERVICE_NAME from "+render(pass.Fset, first)+": "+
		"use resource.New(ctx, resource.WithAttributes(...), resource.WithFromEnv()) so the environment wins")
}

// isEnvResource reports whether e is resource.Default() or
// resource.Environment(), directly or through a local variable.
func isEnvResource(info *types.Info, body *ast.BlockStmt, e ast.Expr, depth int) bool {
	if call, ok := ast.Unparen(e).(*ast.CallExpr); ok {
		return isFunc(callee(info, call), pkgResource, "Default", "Environment")
	}
	return anyLocalValue(info, body, e, depth, isEnvResource)
}

// hasServiceName reports whether e sets service.name, directly or through
// a local variable.
func hasServiceName(info *types.Info, body *ast.BlockStmt, e ast.Expr, depth int) bool {
	if _, ok := ast.Unparen(e).(*ast.CallExpr); ok {
		return containsServiceName(info, e)
	}
	return anyLocalValue(info, body, e, depth, hasServiceName)
}

// anyLocalValue applies pred to the values assigned to the local variable e.
func anyLocalValue(info *types.Info, body *ast.BlockStmt, e ast.Expr, depth int,
	pred func(*types.Info, *ast.BlockStmt, ast.Expr, int) bool) bool {
	v := objOf(info, e)
	if depth > 3 || !isLocal(v, body) {
		return false
	}
	values, _ := assignedValues(info, body, v)
	for _, val := range values {
		if pred(info, body, val, depth+1) {
			return true
		}
	}
	return false
}

// envTaint decides whether a string expression is read from the
// environment without a non-empty check.
type envTaint struct {
	pass  *analysis.Pass
	decls map[*types.Func]*ast.FuncDecl // functions declared in this package
	memo  map[*types.Func]bool
	busy  map[*types.Func]bool
}

func newEnvTaint(pass *analysis.Pass) *envTaint {
	t := &envTaint{pass: pass, decls: map[*types.Func]*ast.FuncDecl{}, memo: map[*types.Func]bool{}, busy: map[*types.Func]bool{}}
	for _, f := range pass.Files {
		for _, decl := range f.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok && fd.Body != nil {
				if fn, ok := pass.TypesInfo.Defs[fd.Name].(*types.Func); ok {
					t.decls[fn] = fd
				}
			}
		}
	}
	return t
}

// isStringFunc reports whether fn returns a single string.
func isStringFunc(fn *types.Func) bool {
	res := fn.Type().(*types.Signature).Results()
	if res.Len() != 1 {
		return false
	}
	b, ok := res.At(0).Type().Underlying().(*types.Basic)
	return ok && b.Kind() == types.String
}

// funcDerived reports whether a function of this package returns an
// unchecked environment string on some path.
func (t *envTaint) funcDerived(fn *types.Func, decl *ast.FuncDecl) bool {
	if v, ok := t.memo[fn]; ok {
		return v
	}
	if t.busy[fn] {
		return false // recursion
	}
	t.busy[fn] = true
	derived := false
	ast.Inspect(decl.Body, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncLit); ok {
			return false
		}
		if ret, ok := n.(*ast.ReturnStmt); ok && len(ret.Results) == 1 && t.derived(ret.Results[0], decl.Body, 0) {
			derived = true
		}
		return !derived
	})
	delete(t.busy, fn)
	t.memo[fn] = derived
	return derived
}

// derived reports whether e is read from the environment without a
// non-empty check. scope is the enclosing function body (nil at package
// level).
func (t *envTaint) derived(e ast.Expr, scope ast.Node, depth int) bool {
	if depth > 8 {
		return false
	}
	info := t.pass.TypesInfo
	switch e := ast.Unparen(e).(type) {
	case *ast.BinaryExpr:
		return e.Op == token.ADD && (t.derived(e.X, scope, depth+1) || t.derived(e.Y, scope, depth+1))
	case *ast.CallExpr:
		fn := callee(info, e)
		switch {
		case fn == nil:
			return false
		case isFunc(fn, "os", "Getenv", "LookupEnv"):
			return true
		case isFunc(fn, "cmp", "Or"):
			return len(e.Args) > 0 && t.derived(e.Args[len(e.Args)-1], scope, depth+1)
		case fn.Pkg() != nil && (fn.Pkg().Path() == "fmt" || fn.Pkg().Path() == "strings"):
			for _, arg := range e.Args {
				if t.derived(arg, scope, depth+1) {
					return true
				}
			}
			return false
		case t.pass.ImportObjectFact(fn, new(envString)):
			return true
		}
		if decl, ok := t.decls[fn]; ok && isStringFunc(fn) {
			return t.funcDerived(fn, decl)
		}
	case *ast.Ident:
		v, ok := info.Uses[e].(*types.Var)
		if !ok {
			return false
		}
		if scope != nil && isLocal(v, scope) {
			return t.varDerived(v, scope, depth)
		}
		if v.Parent() == t.pass.Pkg.Scope() {
			for _, f := range t.pass.Files {
				if t.varDerived(v, f, depth) {
					return true
				}
			}
		}
	}
	return false
}

// varDerived reports whether some value assigned to v within scope is
// derived and scope holds no non-empty check of v.
func (t *envTaint) varDerived(v *types.Var, scope ast.Node, depth int) bool {
	values, _ := assignedValues(t.pass.TypesInfo, scope, v)
	for _, val := range values {
		if t.derived(val, scope, depth+1) {
			return !t.checksNonEmpty(v)
		}
	}
	return false
}

// checksNonEmpty reports whether the package compares v with a constant
// ("" or a length), switches on it, or passes it to cmp.Or with a default.
func (t *envTaint) checksNonEmpty(v *types.Var) bool {
	info := t.pass.TypesInfo
	isV := func(e ast.Expr) bool {
		if objOf(info, e) == v {
			return true
		}
		// len(v), strings.TrimSpace(v), ...
		call, ok := ast.Unparen(e).(*ast.CallExpr)
		return ok && len(call.Args) == 1 && objOf(info, call.Args[0]) == v
	}
	isConst := func(e ast.Expr) bool { tv, ok := info.Types[e]; return ok && tv.Value != nil }
	found := false
	for _, f := range t.pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BinaryExpr:
				switch n.Op {
				case token.EQL, token.NEQ, token.LSS, token.GTR, token.LEQ, token.GEQ:
					if isV(n.X) && isConst(n.Y) || isV(n.Y) && isConst(n.X) {
						found = true
					}
				}
			case *ast.SwitchStmt:
				if n.Tag != nil && isV(n.Tag) {
					found = true
				}
			case *ast.CallExpr:
				if isFunc(callee(info, n), "cmp", "Or") && len(n.Args) > 1 &&
					mentions(info, n, v) && !t.derived(n.Args[len(n.Args)-1], nil, 8) {
					found = true
				}
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}
