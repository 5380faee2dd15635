package main

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

type order struct {
	ID    string `json:"id"`
	Total int    `json:"total"`
}

// event is an order event, queued by this process.
type event struct {
	OrderID  string
	Paid     bool
	QueuedAt time.Time // time.Now() when queued, by this process
}

type store struct {
	mu     sync.Mutex
	orders map[string]order
}

func newStore() *store { return &store{orders: map[string]order{}} }

func (s *store) get(ctx context.Context, id string) (order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return order{}, errors.New("no order " + id)
	}
	return o, nil
}

func (s *store) put(ctx context.Context, o order) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[o.ID] = o
}

// consume applies payment events.
func (s *store) consume(ctx context.Context, events <-chan event) {
	for e := range events {
		// The span covers the time in the queue too.
		//otelvet:ignore timestamp QueuedAt is taken from this process's clock when the event is queued
		_, span := tracer.Start(ctx, "payment.apply", trace.WithTimestamp(e.QueuedAt))
		span.SetAttributes(attribute.String("order.id", e.OrderID), attribute.Bool("order.paid", e.Paid))
		span.End()
	}
}
