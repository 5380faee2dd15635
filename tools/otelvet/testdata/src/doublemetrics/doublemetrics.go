package doublemetrics

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo-contrib/echoprometheus"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	ginprometheus "github.com/zsais/go-gin-prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric/noop"
)

var (
	requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total"}, []string{"code"})
	duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_duration_seconds"}, []string{"code"})
)

func nestedOtelOutside(h http.Handler) http.Handler {
	return otelhttp.NewHandler(promhttp.InstrumentHandlerCounter(requests, h), "orders") // want `doublemetrics: requests are counted twice, by otelhttp and by promhttp.InstrumentHandlerCounter: keep one, or pass otelhttp.WithMeterProvider\(noop.NewMeterProvider\(\)\)`
}

func nestedOtelInside(h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerDuration(duration, otelhttp.NewHandler(h, "orders")) // want `doublemetrics: requests are counted twice, by otelhttp and by promhttp.InstrumentHandlerDuration`
}

func throughVariables(mux *http.ServeMux) {
	counted := promhttp.InstrumentHandlerCounter(requests, mux)
	logged := logging(counted)
	http.ListenAndServe(":8080", otelhttp.NewHandler(logged, "api")) // want `doublemetrics: requests are counted twice`
}

func middleware(h http.Handler) http.Handler {
	return otelhttp.NewMiddleware("api")(promhttp.InstrumentHandlerCounter(requests, h)) // want `doublemetrics: requests are counted twice`
}

func ginEngine() {
	r := gin.New()
	p := ginprometheus.NewPrometheus("gin")
	p.Use(r)
	http.ListenAndServe(":8080", otelhttp.NewHandler(r, "gin")) // want `doublemetrics: requests are counted twice, by otelhttp and by github.com/zsais/go-gin-prometheus`
}

func echoEngine() {
	e := echo.New()
	e.Use(echoprometheus.NewMiddleware("shop"))
	e.Use(echo.WrapMiddleware(otelhttp.NewMiddleware("shop"))) // want `doublemetrics: requests are counted twice, by otelhttp and by github.com/labstack/echo-contrib/echoprometheus`
	e.Start(":8080")
}

func echoEngineWrapped() {
	e := echo.New()
	mw := echoprometheus.NewMiddleware("shop")
	e.Use(mw)
	http.ListenAndServe(":8080", otelhttp.NewHandler(e, "shop")) // want `doublemetrics: requests are counted twice`
}

func logging(h http.Handler) http.Handler { return h }

// Near misses: none of these may be reported.

func onlyOtel(h http.Handler) http.Handler {
	return otelhttp.NewHandler(h, "orders")
}

func onlyProm(h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerCounter(requests, h)
}

func metricsEndpoint(mux *http.ServeMux) http.Handler {
	mux.Handle("/metrics", promhttp.Handler()) // serving /metrics is no instrumentation
	return otelhttp.NewHandler(mux, "api")
}

func otelMetricsOff(h http.Handler) http.Handler {
	return otelhttp.NewHandler(promhttp.InstrumentHandlerCounter(requests, h), "orders",
		otelhttp.WithMeterProvider(noop.NewMeterProvider()))
}

func separateHandlers(mux *http.ServeMux, a, b http.Handler) {
	mux.Handle("/a", otelhttp.NewHandler(a, "a"))
	mux.Handle("/b", promhttp.InstrumentHandlerCounter(requests, b))
}

func echoMetricsHandler() {
	e := echo.New()
	e.GET("/metrics", echoprometheus.NewHandler())
	http.ListenAndServe(":8080", otelhttp.NewHandler(e, "shop"))
}
