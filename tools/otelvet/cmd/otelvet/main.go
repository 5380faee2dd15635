// Command otelvet runs the otelvet checks on Go packages.
//
// Run it on its own:
//
//	otelvet ./...
//
// or through go vet, which adds the go command's build flags and caching:
//
//	go vet -vettool=$(which otelvet) ./...
//
// "otelvet help" lists the checks; "otelvet help <check>" explains one.
// A single check runs with -<check> (e.g. -spanend), any check is turned
// off with -<check>=false.
package main

import (
	"golang.org/x/tools/go/analysis/multichecker"

	"github.com/otelwire/otelwire/tools/otelvet"
)

func main() { multichecker.Main(otelvet.All...) }
