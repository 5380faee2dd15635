package otelvet

import (
	"go/types"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
)

// HTTPCtx finds net/http handlers that start spans outside the request's trace.
var HTTPCtx = &analysis.Analyzer{
	Name: "httpctx",
	Doc: `report spans started from context.Background() in net/http handlers

otelhttp.NewHandler puts the server span, and the trace context extracted
from the incoming traceparent header, on r.Context(). A span a handler starts
from context.Background() or context.TODO() instead begins a new trace of its
own: the work it measures no longer appears under the request. A function is a
handler here when it takes an http.ResponseWriter and a *http.Request; spans started inside nested
function literals (goroutines that outlive the request) are not reported.

Fix: start the span from r.Context().`,
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run:      runHTTPCtx,
}

var httpHandler = handlerKind{
	name: "HTTP",
	param: func(t types.Type) bool {
		_, ok := types.Unalias(t).(*types.Pointer)
		return ok && isNamed(t, "net/http", "Request")
	},
	with:       func(t types.Type) bool { return isNamed(t, "net/http", "ResponseWriter") },
	requestCtx: func(r string) string { return r + ".Context()" },
}

func runHTTPCtx(pass *analysis.Pass) (any, error) {
	if !importsAny(pass.Pkg, pkgTrace) {
		return nil, nil
	}
	checkBackgroundSpans(pass, pass.ResultOf[inspect.Analyzer].(*inspector.Inspector), httpHandler)
	return nil, nil
}
