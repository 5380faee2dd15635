package composite // want package:`tracingSetup\(provider="", propagator=true\)`

import (
	"go.opentelemetry.io/otel"
	prop "go.opentelemetry.io/otel/propagation"
)

func setup() {
	otel.SetTextMapPropagator(prop.NewCompositeTextMapPropagator()) // want `nopropagator: NewCompositeTextMapPropagator\(\) without propagators propagates nothing: pass prop.TraceContext\{\}, prop.Baggage\{\}`
	otel.SetTextMapPropagator(prop.NewCompositeTextMapPropagator(prop.TraceContext{}))
}
