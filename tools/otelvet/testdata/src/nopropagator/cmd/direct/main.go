package main // want package:`tracingSetup\(provider="nopropagator/cmd/direct", propagator=false\)`

import (
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(nil)) // want `nopropagator: program builds a TracerProvider but sets no propagator, incoming trace context is ignored`
	otel.SetTracerProvider(tp)
}
