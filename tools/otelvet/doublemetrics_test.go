package otelvet_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/otelwire/otelwire/tools/otelvet"
)

func TestDoubleMetrics(t *testing.T) {
	t.Parallel()
	analysistest.Run(t, analysistest.TestData(), otelvet.DoubleMetrics, "doublemetrics")
}
