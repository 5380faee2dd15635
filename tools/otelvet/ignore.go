package otelvet

import (
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// Ignore checks the //otelvet:ignore directives themselves.
var Ignore = &analysis.Analyzer{
	Name: "ignore",
	Doc: `check //otelvet:ignore directives

A finding of any otelvet check is silenced by a comment on the finding's line
or on the line above it:

	//otelvet:ignore <check>[,<check>...] <reason>

The reason is mandatory: a suppression nobody can explain a year later is a
bug waiting to come back. A directive without a reason, without a check name,
or naming a check that does not exist silences nothing and is reported here.`,
	Run: runIgnore,
}

func runIgnore(pass *analysis.Pass) (any, error) {
	for _, f := range pass.Files {
		for _, group := range f.Comments {
			for _, c := range group.List {
				d, ok := parseDirective(c)
				if !ok {
					continue
				}
				switch {
				case len(d.checks) == 0:
					report(pass, c, "otelvet:ignore needs a check name and a reason: //otelvet:ignore <check> <why>")
				case d.reason == "":
					report(pass, c, "otelvet:ignore "+strings.Join(d.checks, ",")+" needs a reason: //otelvet:ignore "+
						strings.Join(d.checks, ",")+" <why this finding is fine>")
				}
				for _, name := range d.checks {
					if !slices.Contains(checkNames, name) {
						report(pass, c, "otelvet:ignore names unknown check "+name+"; known checks: "+strings.Join(checkNames, ", "))
					}
				}
			}
		}
	}
	return nil, nil
}
