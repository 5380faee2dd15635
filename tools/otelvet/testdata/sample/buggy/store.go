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

// event is an order event published by the payments service.
type event struct {
	OrderID string
	Paid    bool
	SentAt  time.Time // the publisher's clock
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
		_, span := tracer.Start(ctx, "payment.apply", trace.WithTimestamp(e.SentAt))
		span.SetAttributes(attribute.String("order.id", e.OrderID), attribute.Bool("order.paid", e.Paid))
		span.End()
	}
}
