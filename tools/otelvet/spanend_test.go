package otelvet_test

import (
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/otelwire/otelwire/tools/otelvet"
)

func TestSpanEnd(t *testing.T) {
	t.Parallel()
	analysistest.RunWithSuggestedFixes(t, analysistest.TestData(), otelvet.SpanEnd, "spanend")
}
