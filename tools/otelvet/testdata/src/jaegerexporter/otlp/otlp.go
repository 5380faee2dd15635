// Package otlp does not import the Jaeger exporter: not reported.
package otlp

import sdktrace "go.opentelemetry.io/otel/sdk/trace"

func provider(exp sdktrace.SpanExporter) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
}
