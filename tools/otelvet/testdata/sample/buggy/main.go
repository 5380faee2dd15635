// Command buggy is the orders service with the tracing bugs otelvet finds.
package main

import (
	"context"
	"log"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"example.com/orders/buggy/telemetry"
)

var httpRequests = prometheus.NewCounterVec(
	prometheus.CounterOpts{Name: "http_requests_total", Help: "HTTP requests by status code and method."},
	[]string{"code", "method"},
)

func main() {
	ctx := context.Background()
	shutdown, err := telemetry.Init(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer shutdown(ctx)
	prometheus.MustRegister(httpRequests)

	s := newStore()
	go s.consume(ctx, make(chan event))

	r := gin.New()
	r.Use(gin.Recovery(), tracing())
	r.GET("/orders/:id", getOrder(s))
	r.POST("/orders", createOrder(s))
	r.GET("/metrics", gin.WrapH(promhttp.Handler()))

	var handler http.Handler = r
	handler = promhttp.InstrumentHandlerCounter(httpRequests, handler)
	handler = otelhttp.NewHandler(handler, "orders")
	log.Fatal(http.ListenAndServe(":8080", handler))
}
