// Package semconv is a stub of go.opentelemetry.io/otel/semconv/v1.40.0.
package semconv

import "go.opentelemetry.io/otel/attribute"

const SchemaURL = "https://opentelemetry.io/schemas/1.40.0"

const ServiceNameKey = attribute.Key("service.name")

func ServiceName(val string) attribute.KeyValue { return ServiceNameKey.String(val) }

func ServiceVersion(val string) attribute.KeyValue {
	return attribute.Key("service.version").String(val)
}
