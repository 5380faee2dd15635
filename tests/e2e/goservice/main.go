// Command goservice is the Go sample that otelwire's end-to-end test runs.
//
// It is written the way a well-behaved Go service should be: it sets up
// OpenTelemetry only from the standard OTEL_* environment variables (the ones
// otelwire injects), with no names, endpoints or samplers in the code:
//
//   - traces:      autoexport.NewSpanExporter (OTEL_TRACES_EXPORTER,
//     OTEL_EXPORTER_OTLP_PROTOCOL, OTEL_EXPORTER_OTLP_ENDPOINT)
//   - metrics:     autoexport.NewMetricReader (OTEL_METRICS_EXPORTER,
//     OTEL_EXPORTER_PROMETHEUS_HOST/PORT)
//   - propagation: autoprop (OTEL_PROPAGATORS); the Go SDK ignores that
//     variable without it
//   - sampler and resource: the SDK defaults, which read OTEL_TRACES_SAMPLER,
//     OTEL_TRACES_SAMPLER_ARG, OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
//
// GET /work answers "ok", or first calls -downstream + "/work" when that flag
// is set (frontend -> orders). Both sides are wrapped in otelhttp. The actual
// listen address is printed as "listening on ADDR" once the socket is open.
// SIGTERM or SIGINT shuts down and flushes every span before exiting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on")
	downstream := flag.String("downstream", "", "base URL to call on every /work request")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	shutdown, err := setupOTel(ctx)
	if err != nil {
		log.Fatalf("setting up OpenTelemetry: %v", err)
	}

	client := &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport), Timeout: 10 * time.Second}
	mux := http.NewServeMux()
	mux.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) {
		if *downstream == "" {
			fmt.Fprintln(w, "ok")
			return
		}
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, *downstream+"/work", nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("listening on %s: %v", *listen, err)
	}
	srv := &http.Server{Handler: otelhttp.NewHandler(mux, "work"), ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("listening on %s\n", ln.Addr())

	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("serving: %v", err)
		}
	}()
	<-ctx.Done()

	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := shutdown(sctx); err != nil {
		log.Printf("shutting down OpenTelemetry: %v", err)
	}
}

// setupOTel installs global tracer and meter providers configured only from
// the environment and returns a function that flushes and stops them.
func setupOTel(ctx context.Context) (func(context.Context) error, error) {
	otel.SetTextMapPropagator(autoprop.NewTextMapPropagator())

	spanExporter, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		return nil, fmt.Errorf("span exporter: %w", err)
	}
	// No WithSampler and no WithResource: the SDK defaults read
	// OTEL_TRACES_SAMPLER(_ARG), OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(spanExporter))
	otel.SetTracerProvider(tp)

	reader, err := autoexport.NewMetricReader(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("metric reader: %w", err), tp.Shutdown(ctx))
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	otel.SetMeterProvider(mp)

	return func(ctx context.Context) error {
		return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx))
	}, nil
}
