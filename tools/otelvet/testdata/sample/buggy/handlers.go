package main

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
)

var tracer = otel.Tracer("example.com/orders")

// tracing starts a span per route and hands its context to the handlers.
func tracing() gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, span := tracer.Start(c.Request.Context(), c.FullPath())
		defer span.End()
		c.Set("ctx", ctx)
		c.Next()
	}
}

func getOrder(s *store) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx := c.MustGet("ctx").(context.Context)
		ctx, span := tracer.Start(ctx, "store.get")
		o, err := s.get(ctx, c.Param("id"))
		if err != nil {
			c.JSON(http.StatusNotFound, gin.H{"error": err.Error()})
			return
		}
		span.End()
		c.JSON(http.StatusOK, o)
	}
}

func createOrder(s *store) gin.HandlerFunc {
	return func(c *gin.Context) {
		var o order
		if err := c.ShouldBindJSON(&o); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		ctx, span := tracer.Start(context.Background(), "store.put")
		defer span.End()
		s.put(ctx, o)
		c.JSON(http.StatusCreated, o)
	}
}
