// Package telemetry sets up tracing for the orders service.
package telemetry

import (
	"context"
	"errors"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/jaeger"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// Version is set at build time.
var Version = "dev"

// Init installs the global TracerProvider and returns its shutdown.
func Init(ctx context.Context) (func(context.Context) error, error) {
	res, err := resource.New(ctx,
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			semconv.ServiceName(os.Getenv("SERVICE_NAME")),
			semconv.ServiceVersion(Version),
		),
	)
	if err != nil {
		return nil, err
	}

	exp, err := newExporter(ctx)
	if err != nil {
		return nil, err
	}

	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if os.Getenv("TRACE_ALL") == "" {
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.25))))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)

	return func(ctx context.Context) error {
		return errors.Join(tp.Shutdown(ctx), exp.Shutdown(ctx))
	}, nil
}

func newExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	if os.Getenv("TRACES_EXPORTER") == "jaeger" {
		return jaeger.New(jaeger.WithCollectorEndpoint())
	}
	return otlptracehttp.New(ctx)
}
