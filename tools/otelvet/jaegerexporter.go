package otelvet

import (
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// JaegerExporter finds imports of the removed Jaeger exporter.
var JaegerExporter = &analysis.Analyzer{
	Name: "jaegerexporter",
	Doc: `report imports of go.opentelemetry.io/otel/exporters/jaeger

The Jaeger exporter was deprecated in 2023 and removed from the
OpenTelemetry Go repository; its last release (v1.17.0) was built against an
SDK dozens of releases old and gets no fixes. Jaeger itself has accepted
OTLP since 1.35, on 4317 (gRPC) and 4318 (HTTP), so the exporter is no longer
needed, and each SDK upgrade risks breaking the build around it.

Fix: use otlptracehttp.New(ctx) (port 4318) or otlptracegrpc.New(ctx) (port
4317) from go.opentelemetry.io/otel/exporters/otlp/otlptrace, pointed at the
Jaeger collector or, better, at an OpenTelemetry Collector; configure it with
OTEL_EXPORTER_OTLP_ENDPOINT.`,
	Run: runJaegerExporter,
}

func runJaegerExporter(pass *analysis.Pass) (any, error) {
	for _, f := range pass.Files {
		for _, spec := range f.Imports {
			path, err := strconv.Unquote(spec.Path.Value)
			if err != nil || (path != pkgJaeger && !strings.HasPrefix(path, pkgJaeger+"/")) {
				continue
			}
			report(pass, spec, "the Jaeger exporter was removed from the SDK and Jaeger ingests OTLP on 4317/4318: "+
				"use otlptracehttp or otlptracegrpc")
		}
	}
	return nil, nil
}
