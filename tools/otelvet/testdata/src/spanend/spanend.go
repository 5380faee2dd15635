package spanend

import (
	"context"
	"errors"
	"log"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

var tracer = otel.Tracer("spanend")

func load(ctx context.Context) error { return nil }

func earlyReturn(ctx context.Context) error {
	ctx, span := tracer.Start(ctx, "load") // want `spanend: span not ended on every path \(return at line 20\): add defer span.End\(\) after the Start call`
	if err := load(ctx); err != nil {
		span.RecordError(err) // recording the error does not end the span
		return err
	}
	span.End()
	return nil
}

func neverEnded(ctx context.Context) {
	_, sp := tracer.Start(ctx, "fire-and-forget") // want `spanend: span not ended on every path`
	sp.SetAttributes()
}

func discarded(ctx context.Context) {
	ctx, _ = tracer.Start(ctx, "lost") // want `spanend: span is discarded and never ended: keep it and defer span.End\(\)`
	tracer.Start(ctx, "lost too")      // want `spanend: span is discarded and never ended`
}

func inLoop(ctx context.Context, items []string) error {
	for range items {
		_, span := tracer.Start(ctx, "item") // want `spanend: span not ended on every path`
		if err := load(ctx); err != nil {
			continue
		}
		span.End()
	}
	return nil
}

func varDecl(ctx context.Context) error {
	var _, span = tracer.Start(ctx, "decl") // want `spanend: span not ended on every path`
	if ctx == nil {
		return errors.New("nil")
	}
	span.End()
	return nil
}

// Near misses: none of these may be reported.

func deferred(ctx context.Context) error {
	ctx, span := tracer.Start(ctx, "load")
	defer span.End()
	return load(ctx)
}

func endedOnEveryPath(ctx context.Context) error {
	ctx, span := tracer.Start(ctx, "load")
	if err := load(ctx); err != nil {
		span.RecordError(err)
		span.End()
		return err
	}
	span.End()
	return nil
}

func closure(ctx context.Context) error {
	ctx, span := tracer.Start(ctx, "load")
	defer func() { span.End() }()
	return load(ctx)
}

func handedOn(ctx context.Context) error {
	ctx, span := tracer.Start(ctx, "load")
	finish(span, load(ctx))
	return nil
}

func finish(span trace.Span, err error) { span.End() }

func returned(ctx context.Context) (context.Context, trace.Span) {
	ctx, span := tracer.Start(ctx, "load")
	return ctx, span
}

func namedResult(ctx context.Context) (span trace.Span) {
	_, span = tracer.Start(ctx, "load")
	return
}

func fatal(ctx context.Context) {
	_, span := tracer.Start(ctx, "load")
	if ctx == nil {
		log.Fatal("no context") // does not return
	}
	span.End()
}

func suppressed(ctx context.Context) {
	//otelvet:ignore spanend the span is ended by the worker that receives it
	_, span := tracer.Start(ctx, "handoff")
	go func() {}()
	_ = span.IsRecording()
}

func missingReason(ctx context.Context) {
	//otelvet:ignore spanend
	_, span := tracer.Start(ctx, "handoff") // want `spanend: span not ended on every path`
	_ = span.IsRecording()
}

func otherCheck(ctx context.Context) {
	_, span := tracer.Start(ctx, "handoff") //otelvet:ignore timestamp wrong check name // want `spanend: span not ended on every path`
	_ = span.IsRecording()
}
