package otelvet_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// buggyFindings is everything otelvet must report on testdata/sample: all
// of it in buggy/, none of it in fixed/ (the same service, fixed).
var buggyFindings = []string{
	"buggy/handlers.go:18: ginctx",    // c.Set("ctx", ctx) in the tracing middleware
	"buggy/handlers.go:26: spanend",   // store.get span not ended on the 404 path
	"buggy/handlers.go:44: ginctx",    // span started from context.Background() in createOrder
	"buggy/main.go:22: nopropagator",  // telemetry builds a provider, nobody sets a propagator
	"buggy/main.go:42: doublemetrics", // otelhttp around promhttp.InstrumentHandlerCounter
	"buggy/store.go:51: timestamp",    // span started at the publisher's SentAt
	"buggy/telemetry/telemetry.go:10: jaegerexporter",
	"buggy/telemetry/telemetry.go:25: servicename", // WithFromEnv before the code's service name
	"buggy/telemetry/telemetry.go:26: servicename", // os.Getenv("SERVICE_NAME") unchecked
	"buggy/telemetry/telemetry.go:43: noexporter",  // exporter built, never given to the provider
}

// TestSample builds the otelvet binary and runs it on the sample module
// (testdata/sample, a module of its own that uses the real Gin, otel and
// Prometheus packages), both on its own and as go vet's -vettool.
func TestSample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds otelvet and the sample's dependencies")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	bin := filepath.Join(t.TempDir(), "otelvet")
	if out, err := exec.Command(goCmd, "build", "-o", bin, "./cmd/otelvet").CombinedOutput(); err != nil {
		t.Fatalf("building otelvet: %v\n%s", err, out)
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "sample"))
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")

	// Fetch the sample's dependencies first (from the module proxy on a
	// clean machine), so that a download problem reads as one and the
	// runs below print nothing but findings.
	list := exec.Command(goCmd, "list", "-deps", "./...")
	list.Dir, list.Env = dir, env
	if out, err := list.CombinedOutput(); err != nil {
		t.Fatalf("loading the sample module's dependencies: %v\n%s", err, out)
	}

	// Stop the runs a little before go test's own timeout, so that a slow
	// cold machine gets a message rather than a goroutine dump.
	ctx := t.Context()
	if deadline, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-20*time.Second))
		t.Cleanup(cancel) // after the parallel subtests, unlike defer
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"standalone", []string{bin, "./..."}},
		{"vettool", []string{goCmd, "vet", "-vettool=" + bin, "./..."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(ctx, tc.args[0], tc.args[1:]...)
			cmd.Dir = dir
			cmd.Env = env
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("%v did not finish before the test deadline (cold caches on a busy machine? "+
					"rerun, or raise go test -timeout)\n%s", tc.args, out.String())
			}
			if _, ok := err.(*exec.ExitError); err != nil && !ok {
				t.Fatalf("running %v: %v", tc.args, err)
			}
			if err == nil {
				t.Errorf("%v exited 0 despite findings", tc.args)
			}
			got, junk := parseFindings(dir, out.String())
			if len(junk) > 0 {
				t.Errorf("unexpected output lines:\n%s", strings.Join(junk, "\n"))
			}
			if !slices.Equal(got, buggyFindings) {
				t.Errorf("findings differ\ngot:\n\t%s\nwant:\n\t%s\nfull output:\n%s",
					strings.Join(got, "\n\t"), strings.Join(buggyFindings, "\n\t"), out.String())
			}
		})
	}
}

var findingRE = regexp.MustCompile(`^(.+\.go):(\d+):\d+: ([a-z]+): `)

// parseFindings turns "file:line:col: check: message" lines into sorted
// "file:line: check" strings with file relative to dir; other lines, apart
// from go vet's "# package" headers and the go command's download notes,
// are returned as junk.
func parseFindings(dir, output string) (findings, junk []string) {
	for line := range strings.Lines(output) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || strings.HasPrefix(line, "# ") || strings.HasPrefix(line, "go: downloading ") {
			continue
		}
		m := findingRE.FindStringSubmatch(line)
		if m == nil {
			junk = append(junk, line)
			continue
		}
		file := m[1]
		if rel, err := filepath.Rel(dir, file); err == nil && filepath.IsAbs(file) {
			file = rel
		}
		findings = append(findings, filepath.ToSlash(file)+":"+m[2]+": "+m[3])
	}
	slices.Sort(findings)
	return findings, junk
}
