package jaegerexporter

import (
	"go.opentelemetry.io/otel/exporters/jaeger" // want `jaegerexporter: the Jaeger exporter was removed from the SDK and Jaeger ingests OTLP on 4317/4318: use otlptracehttp or otlptracegrpc`
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func provider() (*sdktrace.TracerProvider, error) {
	exp, err := jaeger.New(jaeger.WithCollectorEndpoint())
	if err != nil {
		return nil, err
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp)), nil
}
