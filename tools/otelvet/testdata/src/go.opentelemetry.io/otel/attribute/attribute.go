// Package attribute is a stub of go.opentelemetry.io/otel/attribute.
package attribute

type Key string

type KeyValue struct {
	Key   Key
	Value string
}

func (k Key) String(v string) KeyValue { return KeyValue{k, v} }

func String(k, v string) KeyValue { return KeyValue{Key(k), v} }
