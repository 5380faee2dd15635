// Package jaeger is a stub of the removed go.opentelemetry.io/otel/exporters/jaeger.
package jaeger

import "context"

type Exporter struct{}

func (*Exporter) Shutdown(ctx context.Context) error { return nil }

type EndpointOption interface{ apply() }

type endpoint struct{}

func (endpoint) apply() {}

func New(endpointOption EndpointOption) (*Exporter, error) { return &Exporter{}, nil }
func WithCollectorEndpoint() EndpointOption                { return endpoint{} }
