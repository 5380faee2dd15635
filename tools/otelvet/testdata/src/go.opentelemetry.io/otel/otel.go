// Package otel is a stub of go.opentelemetry.io/otel for analysistest.
package otel

import (
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

func SetTracerProvider(tp trace.TracerProvider)            {}
func GetTracerProvider() trace.TracerProvider              { return nil }
func Tracer(name string) trace.Tracer                      { return nil }
func SetTextMapPropagator(p propagation.TextMapPropagator) {}
func GetTextMapPropagator() propagation.TextMapPropagator  { return nil }
