// Package kstatus computes the kstatus and Flux health of MonitoredService objects
// with the real libraries, and compares them with the expectations the Python side
// wrote (tests/gitops/test_kstatus.py generates the objects from otelwire's own
// assessor and runs this test with OTELWIRE_GITOPS_SAMPLES pointing at them).
//
//   - kstatus: sigs.k8s.io/cli-utils/pkg/kstatus/status.Compute, as kubectl wait,
//     Flux (without healthCheckExprs) and cli-utils' appliers use it.
//   - Flux healthCheckExprs: the expressions from manifests/gitops/flux, compiled with
//     cel-go in the environment fluxcd/pkg/runtime/cel uses and evaluated in its order
//     (observedGeneration, then inProgress, failed, current; otherwise InProgress).
//     Importing fluxcd/pkg/runtime itself would pull controller-runtime and client-go
//     into a cold build of many minutes for a 40-line evaluator; StatusEvaluator below
//     follows fluxcd/pkg runtime/cel/status_evaluator.go (v0.117.0).
//
// Results are also written to OTELWIRE_GITOPS_RESULTS (JSON) for the Python side.
package kstatus

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type sample struct {
	Name    string          `json:"name"`
	Object  json.RawMessage `json:"object"`
	Kstatus string          `json:"kstatus"`
	Flux    string          `json:"flux"`
}

type exprs struct {
	Current    string `json:"current"`
	InProgress string `json:"inProgress"`
	Failed     string `json:"failed"`
}

type input struct {
	Samples          []sample `json:"samples"`
	HealthCheckExprs exprs    `json:"healthCheckExprs"`
}

type outcome struct {
	Kstatus        string `json:"kstatus"`
	KstatusMessage string `json:"kstatusMessage"`
	Flux           string `json:"flux"`
	FluxError      string `json:"fluxError,omitempty"`
}

// StatusEvaluator mirrors fluxcd/pkg/runtime/cel.StatusEvaluator.
type StatusEvaluator struct {
	current, failed, inProgress cel.Program
}

func newProgram(expr string) (cel.Program, error) {
	if expr == "" {
		return nil, nil
	}
	// The options of fluxcd/pkg/runtime/cel.NewExpression (parsed, not compiled: CRDs are untyped).
	env, err := cel.NewEnv(
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		ext.Encoders(),
	)
	if err != nil {
		return nil, err
	}
	parsed, issues := env.Parse(expr)
	if issues != nil && issues.Err() != nil {
		return nil, fmt.Errorf("failed to parse the CEL expression '%s': %s", expr, issues.String())
	}
	return env.Program(parsed, cel.EvalOptions(cel.OptOptimize), cel.InterruptCheckFrequency(100))
}

func NewStatusEvaluator(e exprs) (*StatusEvaluator, error) {
	if e.Current == "" {
		return nil, fmt.Errorf("expression Current not specified")
	}
	var s StatusEvaluator
	var err error
	if s.current, err = newProgram(e.Current); err != nil {
		return nil, err
	}
	if s.failed, err = newProgram(e.Failed); err != nil {
		return nil, err
	}
	if s.inProgress, err = newProgram(e.InProgress); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s *StatusEvaluator) Evaluate(ctx context.Context, u *unstructured.Unstructured) (status.Status, error) {
	obj := u.UnstructuredContent()
	if observed, ok, err := unstructured.NestedInt64(obj, "status", "observedGeneration"); err != nil {
		return "", err
	} else if ok {
		generation, ok, err := unstructured.NestedInt64(obj, "metadata", "generation")
		if err != nil {
			return "", err
		}
		if ok && observed != generation {
			return status.InProgressStatus, nil
		}
	}
	for _, e := range []struct {
		prog   cel.Program
		status status.Status
	}{{s.inProgress, status.InProgressStatus}, {s.failed, status.FailedStatus}, {s.current, status.CurrentStatus}} {
		if e.prog == nil {
			continue
		}
		val, _, err := e.prog.ContextEval(ctx, obj)
		if err != nil {
			return "", err
		}
		result, ok := val.(types.Bool)
		if !ok {
			return "", fmt.Errorf("not a boolean: %v", val)
		}
		if bool(result) {
			return e.status, nil
		}
	}
	return status.InProgressStatus, nil
}

func TestMonitoredServiceStatus(t *testing.T) {
	path := os.Getenv("OTELWIRE_GITOPS_SAMPLES")
	if path == "" {
		t.Fatal("OTELWIRE_GITOPS_SAMPLES is not set: run this from tests/gitops/test_kstatus.py")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	if len(in.Samples) == 0 {
		t.Fatal("no samples")
	}
	evaluator, err := NewStatusEvaluator(in.HealthCheckExprs)
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]outcome{}
	for _, s := range in.Samples {
		t.Run(s.Name, func(t *testing.T) {
			u := &unstructured.Unstructured{}
			// UnmarshalJSON keeps integers as int64, as objects read from the API server are.
			if err := u.UnmarshalJSON(s.Object); err != nil {
				t.Fatal(err)
			}
			res, err := status.Compute(u)
			if err != nil {
				t.Fatal(err)
			}
			got := outcome{Kstatus: res.Status.String(), KstatusMessage: res.Message}
			flux, err := evaluator.Evaluate(context.Background(), u)
			if err != nil {
				got.Flux, got.FluxError = "Error", err.Error()
			} else {
				got.Flux = flux.String()
			}
			results[s.Name] = got
			if got.Kstatus != s.Kstatus {
				t.Errorf("kstatus: got %s (%q), want %s", got.Kstatus, got.KstatusMessage, s.Kstatus)
			}
			if got.Flux != s.Flux {
				t.Errorf("flux healthCheckExprs: got %s %s, want %s", got.Flux, got.FluxError, s.Flux)
			}
		})
	}
	if out := os.Getenv("OTELWIRE_GITOPS_RESULTS"); out != "" {
		data, _ := json.MarshalIndent(results, "", "  ")
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("checked %d samples", len(in.Samples))
}
