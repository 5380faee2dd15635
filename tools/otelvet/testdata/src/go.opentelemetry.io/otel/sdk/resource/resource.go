// Package resource is a stub of go.opentelemetry.io/otel/sdk/resource.
package resource

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
)

type Resource struct{ attrs []attribute.KeyValue }

type Option interface{ apply() }

type opt struct{}

func (opt) apply() {}

func New(ctx context.Context, opts ...Option) (*Resource, error) { return &Resource{}, nil }
func NewWithAttributes(schemaURL string, attrs ...attribute.KeyValue) *Resource {
	return &Resource{attrs}
}
func NewSchemaless(attrs ...attribute.KeyValue) *Resource { return &Resource{attrs} }
func Default() *Resource                                  { return &Resource{} }
func Environment() *Resource                              { return &Resource{} }
func Merge(a, b *Resource) (*Resource, error)             { return b, nil }
func WithAttributes(attrs ...attribute.KeyValue) Option   { return opt{} }
func WithFromEnv() Option                                 { return opt{} }
func WithHost() Option                                    { return opt{} }
func WithTelemetrySDK() Option                            { return opt{} }
