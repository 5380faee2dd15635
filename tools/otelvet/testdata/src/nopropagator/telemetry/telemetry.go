package telemetry // want package:`tracingSetup\(provider="nopropagator/telemetry", propagator=false\)`

import (
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Init builds and installs the TracerProvider but forgets the propagator.
func Init(exp sdktrace.SpanExporter) *sdktrace.TracerProvider {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	otel.SetTracerProvider(tp)
	return tp
}
