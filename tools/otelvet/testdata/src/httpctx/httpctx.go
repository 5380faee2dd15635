package httpctx

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel"
)

var tracer = otel.Tracer("httpctx")

func handler(w http.ResponseWriter, r *http.Request) {
	_, span := tracer.Start(context.Background(), "db") // want `httpctx: HTTP handler starts a span from a background context, the trace is cut off from the request: use r.Context\(\)`
	defer span.End()
}

func middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, span := tracer.Start(context.TODO(), "mw") // want `httpctx: HTTP handler starts a span from a background context, the trace is cut off from the request: use req.Context\(\)`
		defer span.End()
		next.ServeHTTP(w, req.WithContext(ctx))
	})
}

// Near misses: none of these may be reported.

func good(w http.ResponseWriter, r *http.Request) {
	_, span := tracer.Start(r.Context(), "db")
	defer span.End()
}

func client(r *http.Request) {
	// takes a request but is no handler (no ResponseWriter)
	_, span := tracer.Start(context.Background(), "send")
	defer span.End()
}

func detached(w http.ResponseWriter, r *http.Request) {
	go func() {
		_, span := tracer.Start(context.Background(), "async")
		defer span.End()
	}()
}
