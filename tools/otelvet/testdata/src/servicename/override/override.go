package override

import (
	"context"

	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
)

func envFirst(ctx context.Context) (*resource.Resource, error) {
	return resource.New(ctx,
		resource.WithFromEnv(),
		resource.WithHost(),
		resource.WithAttributes(semconv.ServiceName("orders")), // want `servicename: service name set in code after resource.WithFromEnv\(\) overrides OTEL_SERVICE_NAME: put resource.WithFromEnv\(\) after resource.WithAttributes`
	)
}

func envFirstOneLine(ctx context.Context) (*resource.Resource, error) {
	return resource.New(ctx, resource.WithFromEnv(), resource.WithAttributes(semconv.ServiceName("orders"))) // want `servicename: service name set in code after resource.WithFromEnv`
}

func mergeDefault() (*resource.Resource, error) {
	return resource.Merge(resource.Default(), resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName("orders"))) // want `servicename: service name set in code overrides OTEL_SERVICE_NAME from resource.Default\(\): use resource.New\(ctx, resource.WithAttributes\(...\), resource.WithFromEnv\(\)\) so the environment wins`
}

func mergeVars() (*resource.Resource, error) {
	env := resource.Environment()
	mine := resource.NewSchemaless(semconv.ServiceName("orders"))
	return resource.Merge(env, mine) // want `servicename: service name set in code overrides OTEL_SERVICE_NAME from env`
}

// Near misses: none of these may be reported.

func envLast(ctx context.Context) (*resource.Resource, error) {
	return resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName("orders")),
		resource.WithFromEnv(),
	)
}

func mergeEnvWins() (*resource.Resource, error) {
	mine := resource.NewSchemaless(semconv.ServiceName("orders"))
	return resource.Merge(mine, resource.Environment())
}

func mergeNoName() (*resource.Resource, error) {
	return resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceVersion("1.2.3")))
}
