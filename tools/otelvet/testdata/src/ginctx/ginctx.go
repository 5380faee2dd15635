package ginctx

import (
	"context"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	fake "example.com/lookalike/gin"
)

var tracer = otel.Tracer("ginctx")

func storeContext(c *gin.Context) {
	ctx, span := tracer.Start(c.Request.Context(), "auth")
	defer span.End()
	c.Set("ctx", ctx) // want `ginctx: context stored with c.Set is invisible to c.Request.Context\(\), the trace breaks here: c.Request = c.Request.WithContext\(ctx\)`
	c.Next()
}

func storeSpan(c *gin.Context) {
	_, span := tracer.Start(c.Request.Context(), "auth")
	defer span.End()
	c.Set("span", span) // want `ginctx: span stored with c.Set is invisible to c.Request.Context\(\), the trace breaks here: c.Request = c.Request.WithContext\(trace.ContextWithSpan\(c.Request.Context\(\), span\)\)`
	c.Next()
}

func middleware() gin.HandlerFunc {
	return func(ctx *gin.Context) {
		spanCtx, span := tracer.Start(ctx.Request.Context(), "mw")
		defer span.End()
		ctx.Set("trace", spanCtx) // want `ginctx: context stored with ctx.Set`
		ctx.Next()
	}
}

func backgroundSpan(c *gin.Context) {
	_, span := tracer.Start(context.Background(), "load") // want `ginctx: Gin handler starts a span from a background context, the trace is cut off from the request: use c.Request.Context\(\)`
	defer span.End()
	_, span2 := tracer.Start(context.TODO(), "load") // want `ginctx: Gin handler starts a span`
	defer span2.End()
	bg := context.Background()
	_, span3 := tracer.Start(bg, "load") // want `ginctx: Gin handler starts a span`
	defer span3.End()
}

// Near misses: none of these may be reported.

func storedAndOnRequest(c *gin.Context) {
	ctx, span := tracer.Start(c.Request.Context(), "auth")
	defer span.End()
	c.Set("ctx", ctx) // also on the request below
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

func spanStoredAndOnRequest(c *gin.Context) {
	ctx, span := tracer.Start(c.Request.Context(), "auth")
	defer span.End()
	c.Set("span", span)
	c.Request = c.Request.WithContext(trace.ContextWithSpan(ctx, span))
}

func plainValues(c *gin.Context) {
	c.Set("user", "alice")
	c.Set("n", 42)
}

func lookalike(c *fake.Context) {
	ctx := context.Background()
	c.Set("ctx", ctx) // not Gin: a lookalike type in another package
}

func requestContext(c *gin.Context) {
	_, span := tracer.Start(c.Request.Context(), "ok")
	defer span.End()
	go func() {
		// a goroutine that outlives the request may detach on purpose
		_, span := tracer.Start(context.Background(), "async")
		defer span.End()
	}()
}

func notAHandler() {
	_, span := tracer.Start(context.Background(), "job")
	defer span.End()
}

func suppressed(c *gin.Context) {
	ctx := c.Request.Context()
	c.Set("ctx", ctx) //otelvet:ignore ginctx the legacy audit handler reads it back with c.MustGet
}
