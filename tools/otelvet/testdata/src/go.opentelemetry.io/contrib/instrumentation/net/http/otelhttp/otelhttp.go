// Package otelhttp is a stub of go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp.
package otelhttp

import (
	"net/http"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
)

type Option interface{ apply() }

type option struct{}

func (option) apply() {}

func NewHandler(handler http.Handler, operation string, opts ...Option) http.Handler { return handler }

func NewMiddleware(operation string, opts ...Option) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler { return h }
}

func WithMeterProvider(provider metric.MeterProvider) Option  { return option{} }
func WithPropagators(ps propagation.TextMapPropagator) Option { return option{} }
