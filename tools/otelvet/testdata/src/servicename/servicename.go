package servicename

import (
	"cmp"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"servicename/envlib"
)

func direct() *resource.Resource {
	return resource.NewSchemaless(semconv.ServiceName(os.Getenv("SERVICE_NAME"))) // want `servicename: service name read from the environment without a non-empty check, unset it becomes unknown_service:go: fall back to a default, e.g. cmp.Or\(name, "my-service"\)`
}

func glued() *resource.Resource {
	name := os.Getenv("TEAM") + "-" + os.Getenv("APP")
	return resource.NewSchemaless(semconv.ServiceNameKey.String(name)) // want `servicename: service name read from the environment`
}

func sprintf() attribute.KeyValue {
	return attribute.String("service.name", fmt.Sprintf("%s-api", os.Getenv("APP"))) // want `servicename: service name read from the environment`
}

func lookupOK() attribute.KeyValue {
	name, ok := os.LookupEnv("SERVICE_NAME")
	if !ok {
		name = "orders"
	}
	return attribute.Key("service.name").String(strings.ToLower(name)) // want `servicename: service name read from the environment`
}

func throughHelper() attribute.KeyValue {
	return semconv.ServiceName(serviceName()) // want `servicename: service name read from the environment`
}

func serviceName() string { // want serviceName:"envString"
	return os.Getenv("SERVICE_NAME")
}

func throughOtherPackage() attribute.KeyValue {
	return semconv.ServiceName(envlib.Get("SERVICE_NAME", "orders")) // want `servicename: service name read from the environment`
}

var pkgName = os.Getenv("SERVICE_NAME")

func packageVar() attribute.KeyValue {
	return semconv.ServiceName(pkgName) // want `servicename: service name read from the environment`
}

// Near misses: none of these may be reported.

func checkedDefault() attribute.KeyValue {
	name := os.Getenv("SERVICE_NAME")
	if name == "" {
		name = "orders"
	}
	return semconv.ServiceName(name)
}

func checkedLen() attribute.KeyValue {
	name := os.Getenv("SERVICE_NAME")
	if len(name) == 0 {
		panic("SERVICE_NAME is empty")
	}
	return semconv.ServiceName(name)
}

func cmpOr() attribute.KeyValue {
	return semconv.ServiceName(cmp.Or(os.Getenv("SERVICE_NAME"), "orders"))
}

func cmpOrVar() attribute.KeyValue {
	name := os.Getenv("SERVICE_NAME")
	name = cmp.Or(name, "orders")
	return semconv.ServiceName(name)
}

func checkedHelper() attribute.KeyValue {
	return semconv.ServiceName(envlib.GetNonEmpty("SERVICE_NAME", "orders"))
}

func literal() attribute.KeyValue {
	return semconv.ServiceName("orders")
}

func otherAttribute() attribute.KeyValue {
	return attribute.String("deployment.environment", os.Getenv("ENV"))
}

func parameter(name string) attribute.KeyValue {
	return semconv.ServiceName(name)
}
