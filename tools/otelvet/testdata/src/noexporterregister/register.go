// Package noexporterregister registers its processor after construction.
package noexporterregister

import sdktrace "go.opentelemetry.io/otel/sdk/trace"

func provider(exp sdktrace.SpanExporter) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider()
	tp.RegisterSpanProcessor(sdktrace.NewBatchSpanProcessor(exp))
	return tp
}
