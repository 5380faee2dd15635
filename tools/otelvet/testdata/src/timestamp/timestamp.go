package timestamp

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

var tracer = otel.Tracer("timestamp")

type message struct {
	SentAt   time.Time
	UnixTime int64
}

func fromMessage(ctx context.Context, m message) {
	_, span := tracer.Start(ctx, "consume", trace.WithTimestamp(m.SentAt)) // want `timestamp: span time not taken from time.Now misaligns the trace with its parent and with metrics: drop trace.WithTimestamp and let the SDK stamp the span`
	span.End()
}

func fromUnix(ctx context.Context, m message) {
	_, span := tracer.Start(ctx, "consume")
	end := time.Unix(m.UnixTime, 0)
	span.End(trace.WithTimestamp(end)) // want `timestamp: span time not taken from time.Now`
}

func parsed(ctx context.Context, header string) {
	t, _ := time.Parse(time.RFC3339, header)
	_, span := tracer.Start(ctx, "consume", trace.WithTimestamp(t)) // want `timestamp: span time not taken`
	span.End(trace.WithTimestamp(t.Add(time.Second)))               // want `timestamp: span time not taken`
}

func inSlice(ctx context.Context, m message) {
	opts := []trace.SpanStartOption{trace.WithTimestamp(m.SentAt)} // want `timestamp: span time not taken from time.Now`
	_, span := tracer.Start(ctx, "consume", opts...)
	span.End()
}

// Near misses: none of these may be reported.

func now(ctx context.Context) {
	start := time.Now()
	_, span := tracer.Start(ctx, "work", trace.WithTimestamp(start))
	span.End(trace.WithTimestamp(start.Add(time.Since(start))))
}

func nowInClosure(ctx context.Context) {
	start := time.Now()
	_, span := tracer.Start(ctx, "work", trace.WithTimestamp(start))
	defer func() { span.End(trace.WithTimestamp(time.Now().UTC())) }()
	func() { span.AddEvent("x", trace.WithTimestamp(time.Unix(0, 0))) }() // events are not checked
}

func parameter(ctx context.Context, start time.Time) {
	_, span := tracer.Start(ctx, "work", trace.WithTimestamp(start)) // the caller decides
	span.End()
}

func suppressed(ctx context.Context, m message) {
	//otelvet:ignore timestamp SentAt is stamped by this process when it enqueues the job
	_, span := tracer.Start(ctx, "queued", trace.WithTimestamp(m.SentAt))
	span.End()
}
