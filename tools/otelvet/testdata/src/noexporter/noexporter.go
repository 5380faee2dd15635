package noexporter

import (
	"context"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

type exporter struct{}

func (exporter) Shutdown(context.Context) error { return nil }

func noOptions() *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider() // want `noexporter: TracerProvider has no exporter, every span is dropped: add sdktrace.WithBatcher\(exporter\)`
}

func onlyResource(res *resource.Resource) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider( // want `noexporter: TracerProvider has no exporter`
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.AlwaysSample()),
	)
}

func sliceWithoutExporter(res *resource.Resource) *sdktrace.TracerProvider {
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	opts = append(opts, sdktrace.WithSampler(sdktrace.AlwaysSample()))
	return sdktrace.NewTracerProvider(opts...) // want `noexporter: TracerProvider has no exporter`
}

func optionVariable(res *resource.Resource) *sdktrace.TracerProvider {
	withRes := sdktrace.WithResource(res)
	return sdktrace.NewTracerProvider(withRes) // want `noexporter: TracerProvider has no exporter`
}

// Near misses: none of these may be reported.

func batcher(exp sdktrace.SpanExporter) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
}

func syncerThroughSlice(res *resource.Resource) *sdktrace.TracerProvider {
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if res != nil {
		opts = append(opts, sdktrace.WithSyncer(exporter{}))
	}
	return sdktrace.NewTracerProvider(opts...)
}

func syncerInLiteral() *sdktrace.TracerProvider {
	var opts []sdktrace.TracerProviderOption
	opts = append(opts, []sdktrace.TracerProviderOption{sdktrace.WithSyncer(exporter{})}...)
	return sdktrace.NewTracerProvider(opts...)
}

func processor(exp sdktrace.SpanExporter) *sdktrace.TracerProvider {
	sp := sdktrace.NewBatchSpanProcessor(exp)
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sp))
}

func optionsFromCaller(opts ...sdktrace.TracerProviderOption) *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(opts...) // unknown options: silent
}

func optionsFromHelper() *sdktrace.TracerProvider {
	return sdktrace.NewTracerProvider(helperOptions()...) // unknown options: silent
}

func helperOptions() []sdktrace.TracerProviderOption {
	return []sdktrace.TracerProviderOption{sdktrace.WithSyncer(exporter{})}
}

func suppressed() *sdktrace.TracerProvider {
	//otelvet:ignore noexporter this provider only feeds an in-process test recorder
	return sdktrace.NewTracerProvider()
}
