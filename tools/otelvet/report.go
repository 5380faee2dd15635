package otelvet

import (
	"go/ast"
	"go/token"
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// directivePrefix starts a suppression comment:
//
//	//otelvet:ignore <check>[,<check>...] <reason>
const directivePrefix = "otelvet:ignore"

// directive is one parsed //otelvet:ignore comment.
type directive struct {
	pos    token.Pos
	line   int
	checks []string
	reason string
}

// parseDirective parses a comment; ok is false if it is not a directive.
// Both "//otelvet:ignore" and "// otelvet:ignore" are accepted.
func parseDirective(c *ast.Comment) (d directive, ok bool) {
	text, found := strings.CutPrefix(c.Text, "//")
	if !found {
		return d, false
	}
	text, found = strings.CutPrefix(strings.TrimLeft(text, " \t"), directivePrefix)
	if !found || (text != "" && text[0] != ' ' && text[0] != '\t') {
		return d, false
	}
	// A further "//" starts another comment on the same line (as in
	// "//otelvet:ignore spanend // want ..." in tests): not the reason.
	text, _, _ = strings.Cut(text, "//")
	fields := strings.Fields(text)
	d.pos = c.Slash
	if len(fields) > 0 {
		for name := range strings.SplitSeq(fields[0], ",") {
			if name != "" {
				d.checks = append(d.checks, name)
			}
		}
		d.reason = strings.Join(fields[1:], " ")
	}
	return d, true
}

// suppressed reports whether a valid directive for check sits on the line of
// pos or on the line above it. A directive without a reason suppresses
// nothing (and the ignore check reports it).
func suppressed(pass *analysis.Pass, pos token.Pos, check string) bool {
	tf := pass.Fset.File(pos)
	if tf == nil {
		return false
	}
	line := tf.Line(pos)
	for _, f := range pass.Files {
		if pass.Fset.File(f.FileStart) != tf {
			continue
		}
		for _, group := range f.Comments {
			for _, c := range group.List {
				l := tf.Line(c.Slash)
				if l != line && l != line-1 {
					continue
				}
				if d, ok := parseDirective(c); ok && d.reason != "" && slices.Contains(d.checks, check) {
					return true
				}
			}
		}
	}
	return false
}

// report emits a finding of the running check at rng, prefixed with the
// check's name (the name an //otelvet:ignore directive uses), unless a
// directive silences it.
func report(pass *analysis.Pass, rng analysis.Range, msg string, fixes ...analysis.SuggestedFix) {
	name := pass.Analyzer.Name
	if suppressed(pass, rng.Pos(), name) {
		return
	}
	pass.Report(analysis.Diagnostic{
		Pos:            rng.Pos(),
		End:            rng.End(),
		Category:       name,
		Message:        name + ": " + msg,
		SuggestedFixes: fixes,
	})
}

// fix builds a one-edit SuggestedFix.
func fix(message string, pos, end token.Pos, newText string) analysis.SuggestedFix {
	return analysis.SuggestedFix{
		Message:   message,
		TextEdits: []analysis.TextEdit{{Pos: pos, End: end, NewText: []byte(newText)}},
	}
}
