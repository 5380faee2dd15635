// Package propagation is a stub of go.opentelemetry.io/otel/propagation.
package propagation

type TextMapPropagator interface{ Fields() []string }

type TraceContext struct{}

func (TraceContext) Fields() []string { return nil }

type Baggage struct{}

func (Baggage) Fields() []string { return nil }

type composite []TextMapPropagator

func (composite) Fields() []string { return nil }

func NewCompositeTextMapPropagator(p ...TextMapPropagator) TextMapPropagator { return composite(p) }
