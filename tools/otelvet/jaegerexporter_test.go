package otelvet_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/otelwire/otelwire/tools/otelvet"
)

func TestJaegerExporter(t *testing.T) {
	t.Parallel()
	analysistest.Run(t, analysistest.TestData(), otelvet.JaegerExporter, "jaegerexporter/...")
}
