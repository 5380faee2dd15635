package otelvet_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/otelwire/otelwire/tools/otelvet"
)

func TestServiceName(t *testing.T) {
	t.Parallel()
	analysistest.Run(t, analysistest.TestData(), otelvet.ServiceName, "servicename", "servicename/envlib")
	analysistest.RunWithSuggestedFixes(t, analysistest.TestData(), otelvet.ServiceName, "servicename/override")
}
