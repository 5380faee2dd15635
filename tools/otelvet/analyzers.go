package otelvet

import (
	"slices"

	"golang.org/x/tools/go/analysis"
)

// All is every otelvet check, in the order the binary registers them.
var All = []*analysis.Analyzer{
	NoExporter,
	NoPropagator,
	GinCtx,
	EchoCtx,
	HTTPCtx,
	ServiceName,
	Timestamp,
	DoubleMetrics,
	JaegerExporter,
	SpanEnd,
	Ignore,
}

// checkNames are the names an //otelvet:ignore directive may use. It repeats
// the names in All because the Ignore analyzer's run function cannot refer to
// All without an initialization cycle; a test keeps the two in step.
var checkNames = []string{
	"noexporter",
	"nopropagator",
	"ginctx",
	"echoctx",
	"httpctx",
	"servicename",
	"timestamp",
	"doublemetrics",
	"jaegerexporter",
	"spanend",
}

// Import paths of the packages the checks know.
const (
	pkgOtel        = "go.opentelemetry.io/otel"
	pkgTrace       = "go.opentelemetry.io/otel/trace"
	pkgSDKTrace    = "go.opentelemetry.io/otel/sdk/trace"
	pkgResource    = "go.opentelemetry.io/otel/sdk/resource"
	pkgPropagation = "go.opentelemetry.io/otel/propagation"
	pkgAttribute   = "go.opentelemetry.io/otel/attribute"
	pkgSemconv     = "go.opentelemetry.io/otel/semconv/" // + version
	pkgJaeger      = "go.opentelemetry.io/otel/exporters/jaeger"
	pkgOtelHTTP    = "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	pkgMetricNoop  = "go.opentelemetry.io/otel/metric/noop"
	pkgPromHTTP    = "github.com/prometheus/client_golang/prometheus/promhttp"
	pkgGin         = "github.com/gin-gonic/gin"
	pkgEchoV4      = "github.com/labstack/echo/v4"
	pkgEchoV5      = "github.com/labstack/echo/v5"
)

// CheckNames returns the names of the checks an //otelvet:ignore directive
// may name.
func CheckNames() []string { return slices.Clone(checkNames) }
