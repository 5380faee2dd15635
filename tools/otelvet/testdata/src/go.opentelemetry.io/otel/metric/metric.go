// Package metric is a stub of go.opentelemetry.io/otel/metric.
package metric

type MeterProvider interface{ Meter(name string) any }
