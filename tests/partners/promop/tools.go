//go:build tools

// The Prometheus Operator's CRDs are files of its main module (example/prometheus-operator-crd/);
// build.env copies them out. Importing one small package of that module keeps the requirement
// in go.mod when `go mod tidy` runs: nothing here is built.
package promop

import _ "github.com/prometheus-operator/prometheus-operator/pkg/versionutil"
