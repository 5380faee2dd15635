package otelvet_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/otelwire/otelwire/tools/otelvet"
)

func TestNoPropagator(t *testing.T) {
	t.Parallel()
	analysistest.Run(t, analysistest.TestData(), otelvet.NoPropagator,
		"nopropagator/telemetry", "nopropagator/propsetup",
		"nopropagator/cmd/bad", "nopropagator/cmd/good", "nopropagator/cmd/direct", "nopropagator/cmd/notracing")
	analysistest.RunWithSuggestedFixes(t, analysistest.TestData(), otelvet.NoPropagator, "nopropagator/composite")
}
