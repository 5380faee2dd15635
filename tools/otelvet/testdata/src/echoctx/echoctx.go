package echoctx

import (
	"context"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

var tracer = otel.Tracer("echoctx")

func storeContext(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, span := tracer.Start(c.Request().Context(), "auth")
		defer span.End()
		c.Set("ctx", ctx) // want `echoctx: context stored with c.Set is invisible to c.Request\(\).Context\(\), the trace breaks here: c.SetRequest\(c.Request\(\).WithContext\(ctx\)\)`
		return next(c)
	}
}

func storeSpan(c echo.Context) error {
	_, span := tracer.Start(c.Request().Context(), "auth")
	defer span.End()
	c.Set("span", span) // want `echoctx: span stored with c.Set is invisible to c.Request\(\).Context\(\), the trace breaks here: c.SetRequest\(c.Request\(\).WithContext\(trace.ContextWithSpan\(c.Request\(\).Context\(\), span\)\)\)`
	return nil
}

func backgroundSpan(c echo.Context) error {
	_, span := tracer.Start(context.Background(), "load") // want `echoctx: Echo handler starts a span from a background context, the trace is cut off from the request: use c.Request\(\).Context\(\)`
	defer span.End()
	return nil
}

// Near misses: none of these may be reported.

func storedAndOnRequest(c echo.Context) error {
	ctx, span := tracer.Start(c.Request().Context(), "auth")
	defer span.End()
	c.Set("ctx", ctx)
	c.SetRequest(c.Request().WithContext(ctx))
	return nil
}

func spanStoredAndOnRequest(c echo.Context) error {
	ctx, span := tracer.Start(c.Request().Context(), "auth")
	defer span.End()
	c.Set("span", span)
	c.SetRequest(c.Request().WithContext(trace.ContextWithSpan(ctx, span)))
	return nil
}

func plainValue(c echo.Context) error {
	c.Set("user", "alice")
	return nil
}

func requestContext(c echo.Context) error {
	_, span := tracer.Start(c.Request().Context(), "ok")
	defer span.End()
	return nil
}

// lookalike has a Set method and a Context parameter, but is not Echo.
type Context interface{ Set(key string, val any) }

func lookalike(c Context) {
	c.Set("ctx", context.Background())
	_, span := tracer.Start(context.Background(), "x")
	defer span.End()
}
