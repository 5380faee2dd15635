package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel"
)

var tracer = otel.Tracer("example.com/orders")

// tracing starts a span per route and puts it on the request, where the
// handlers, otelhttp clients and database drivers look for it.
func tracing() gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, span := tracer.Start(c.Request.Context(), c.FullPath())
		defer span.End()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

func getOrder(s *store) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, span := tracer.Start(c.Request.Context(), "store.get")
		defer span.End()
		o, err := s.get(ctx, c.Param("id"))
		if err != nil {
			span.RecordError(err)
			c.JSON(http.StatusNotFound, gin.H{"error": err.Error()})
			return
		}
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
		ctx, span := tracer.Start(c.Request.Context(), "store.put")
		defer span.End()
		s.put(ctx, o)
		c.JSON(http.StatusCreated, o)
	}
}
