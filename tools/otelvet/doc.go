// Package otelvet holds static checks for Go services instrumented with
// OpenTelemetry. Each check is a golang.org/x/tools/go/analysis Analyzer in
// its own file; All lists them in the order the otelvet binary runs them.
//
// The checks work on type information, never on spelling: a call is matched
// by the package path and name of the function or method it resolves to, so
// a local type that happens to be called gin.Context is not mistaken for
// Gin's.
//
// A finding is silenced by a comment on its line or on the line above it:
//
//	//otelvet:ignore spanend the span is ended by the worker that receives it
//
// The reason is mandatory; the "ignore" analyzer reports directives without
// one, and names of checks that do not exist.
package otelvet
