package otelvet_test

import (
	"slices"
	"testing"

	"golang.org/x/tools/go/analysis/analysistest"

	"github.com/otelwire/otelwire/tools/otelvet"
)

// The suppression itself is tested with each check (see the "suppressed"
// cases in testdata); this tests the directives' own diagnostics.
func TestIgnore(t *testing.T) {
	t.Parallel()
	analysistest.Run(t, analysistest.TestData(), otelvet.Ignore, "ignore")
}

// TestCheckNames keeps the names //otelvet:ignore accepts in step with All.
func TestCheckNames(t *testing.T) {
	t.Parallel()
	var names []string
	for _, a := range otelvet.All {
		if a != otelvet.Ignore {
			names = append(names, a.Name)
		}
	}
	if got := otelvet.CheckNames(); !slices.Equal(got, names) {
		t.Errorf("CheckNames() = %v, want %v", got, names)
	}
}
