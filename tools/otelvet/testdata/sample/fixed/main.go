// Command fixed is the orders service with the bugs of ../buggy fixed.
package main

import (
	"context"
	"log"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"example.com/orders/fixed/telemetry"
)

func main() {
	ctx := context.Background()
	shutdown, err := telemetry.Init(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer shutdown(ctx)

	s := newStore()
	go s.consume(ctx, make(chan event))

	r := gin.New()
	r.Use(gin.Recovery(), tracing())
	r.GET("/orders/:id", getOrder(s))
	r.POST("/orders", createOrder(s))
	r.GET("/metrics", gin.WrapH(promhttp.Handler())) // Go runtime metrics only

	// otelhttp records the HTTP server metrics: no second Prometheus
	// middleware counting the same requests.
	log.Fatal(http.ListenAndServe(":8080", otelhttp.NewHandler(r, "orders")))
}
