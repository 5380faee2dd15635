// Package v5 checks Echo v5, whose Context is a struct.
package v5

import (
	"context"

	"github.com/labstack/echo/v5"
	"go.opentelemetry.io/otel"
)

var tracer = otel.Tracer("v5")

func handler(c *echo.Context) error {
	ctx, span := tracer.Start(context.Background(), "v5") // want `echoctx: Echo handler starts a span from a background context`
	defer span.End()
	c.Set("ctx", ctx) // want `echoctx: context stored with c.Set is invisible to c.Request\(\).Context\(\)`
	return nil
}

func fixed(c *echo.Context) error {
	ctx, span := tracer.Start(c.Request().Context(), "v5")
	defer span.End()
	c.Set("ctx", ctx)
	c.SetRequest(c.Request().WithContext(ctx))
	return nil
}
