// Package telemetry sets up tracing for the orders service.
package telemetry

import (
	"cmp"
	"context"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

// Version is set at build time.
var Version = "dev"

// Init installs the global TracerProvider and propagator and returns the
// provider's shutdown, which also shuts the exporter down.
func Init(ctx context.Context) (func(context.Context) error, error) {
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (set by otelwire) come
	// last, so they win over the defaults given here.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			semconv.ServiceName(cmp.Or(os.Getenv("SERVICE_NAME"), "orders")),
			semconv.ServiceVersion(Version),
		),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, err
	}

	exp, err := otlptracehttp.New(ctx) // OTEL_EXPORTER_OTLP_ENDPOINT, port 4318
	if err != nil {
		return nil, err
	}

	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithBatcher(exp)}
	if os.Getenv("TRACE_ALL") == "" {
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.25))))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	return tp.Shutdown, nil
}
