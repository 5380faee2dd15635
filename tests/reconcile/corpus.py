"""A corpus of malformed input: MonitoredServices, workloads and AdmissionReviews.

Each MonitoredService case must be rejected at apply time by the CRD's schema
or CEL, or be reported as ``ConfigValid=False`` -- never crash the operator.
Each AdmissionReview case must be answered *allowed* with no patch.
"""

from __future__ import annotations

from typing import Any

HUGE = "x" * 100_000


def _ms(name: str, spec: Any, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "otelwire.io/v1alpha1",
        "kind": "MonitoredService",
        "metadata": {"name": name, **meta},
        "spec": spec,
    }


MALFORMED_SERVICES: list[tuple[str, dict[str, Any]]] = [
    ("spec-is-a-string", _ms("m01", "not a mapping")),
    ("spec-is-a-list", _ms("m02", [1, 2, 3])),
    ("servicename-number", _ms("m03", {"serviceName": 42})),
    ("servicename-empty", _ms("m04", {"serviceName": ""})),
    ("servicename-env-ref", _ms("m05", {"serviceName": "$(SERVICE)"})),
    ("servicename-uppercase", _ms("m06", {"serviceName": "OrderService"})),
    ("servicename-too-long", _ms("m07", {"serviceName": "a" * 64})),
    ("servicename-huge", _ms("m08", {"serviceName": HUGE})),
    ("servicename-unicode", _ms("m09", {"serviceName": "ordér-sérvice"})),
    ("servicename-emoji", _ms("m10", {"serviceName": "orders-🚀"})),
    ("selector-empty", _ms("m11", {"selector": {}})),
    ("selector-labels-list", _ms("m12", {"selector": {"matchLabels": ["app"]}})),
    ("selector-bad-operator", _ms("m13", {"selector": {"matchExpressions": [{"key": "app", "operator": "Like"}]}})),
    ("selector-in-without-values", _ms("m14", {"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}})),
    (
        "selector-exists-with-values",
        _ms("m15", {"selector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}}),
    ),
    ("selector-bad-key", _ms("m16", {"selector": {"matchLabels": {"bad key!": "x"}}})),
    ("selector-huge-value", _ms("m17", {"selector": {"matchLabels": {"app": HUGE}}})),
    ("injection-mode-unknown", _ms("m18", {"injection": {"mode": "sidecar"}})),
    ("injection-containers-string", _ms("m19", {"injection": {"containers": "app"}})),
    ("injection-containers-duplicate", _ms("m20", {"injection": {"containers": ["app", "app"]}})),
    ("override-string", _ms("m21", {"injection": {"overrideExisting": "yes"}})),
    ("exporter-zipkin", _ms("m22", {"tracing": {"exporter": "zipkin"}})),
    ("endpoint-localhost", _ms("m23", {"tracing": {"otlp": {"endpoint": "localhost:4318"}}})),
    ("endpoint-127", _ms("m24", {"tracing": {"otlp": {"endpoint": "http://127.0.0.1:4318"}}})),
    ("endpoint-ipv6-loopback", _ms("m25", {"tracing": {"otlp": {"endpoint": "http://[::1]:4318"}}})),
    ("endpoint-grpc-on-4318", _ms("m26", {"tracing": {"otlp": {"endpoint": "collector:4318", "protocol": "grpc"}}})),
    ("endpoint-http-on-4317", _ms("m27", {"tracing": {"otlp": {"endpoint": "collector:4317"}}})),
    ("endpoint-no-port", _ms("m28", {"tracing": {"otlp": {"endpoint": "http://collector"}}})),
    ("endpoint-signal-path", _ms("m29", {"tracing": {"otlp": {"endpoint": "http://collector:4318/v1/traces"}}})),
    ("endpoint-ftp", _ms("m30", {"tracing": {"otlp": {"endpoint": "ftp://collector:4318"}}})),
    ("endpoint-huge", _ms("m31", {"tracing": {"otlp": {"endpoint": f"http://{HUGE}:4318"}}})),
    ("protocol-unknown", _ms("m32", {"tracing": {"otlp": {"protocol": "thrift"}}})),
    ("jaeger-without-target", _ms("m33", {"tracing": {"exporter": "jaeger"}})),
    (
        "jaeger-agent-url",
        _ms("m34", {"tracing": {"exporter": "jaeger", "jaeger": {"agent": {"host": "http://jaeger:6831"}}}}),
    ),
    (
        "jaeger-agent-collector-port",
        _ms("m35", {"tracing": {"exporter": "jaeger", "jaeger": {"agent": {"host": "jaeger", "port": 14268}}}}),
    ),
    (
        "jaeger-collector-udp-port",
        _ms("m36", {"tracing": {"exporter": "jaeger", "jaeger": {"collectorEndpoint": "http://jaeger:6831"}}}),
    ),
    ("jaeger-block-with-otlp", _ms("m37", {"tracing": {"jaeger": {"agent": {"host": "jaeger"}}}})),
    ("propagator-unknown", _ms("m38", {"tracing": {"propagators": ["w3c"]}})),
    ("propagators-none-plus-other", _ms("m39", {"tracing": {"propagators": ["none", "b3"]}})),
    ("propagators-empty", _ms("m40", {"tracing": {"propagators": []}})),
    ("sampler-unknown", _ms("m41", {"tracing": {"sampler": {"type": "sometimes"}}})),
    ("sampler-ratio-missing", _ms("m42", {"tracing": {"sampler": {"type": "traceidratio"}}})),
    ("sampler-ratio-number", _ms("m43", {"tracing": {"sampler": {"type": "traceidratio", "ratio": 0.5}}})),
    ("sampler-ratio-above-one", _ms("m44", {"tracing": {"sampler": {"type": "traceidratio", "ratio": "1.5"}}})),
    ("sampler-ratio-on-always-on", _ms("m45", {"tracing": {"sampler": {"type": "always_on", "ratio": "0.5"}}})),
    ("metrics-both", _ms("m46", {"metrics": {"exporter": "otlp,prometheus"}})),
    ("prometheus-port-zero", _ms("m47", {"metrics": {"prometheus": {"port": 0}}})),
    ("prometheus-port-huge", _ms("m48", {"metrics": {"prometheus": {"port": 70000}}})),
    ("attributes-service-name", _ms("m49", {"resourceAttributes": {"service.name": "x"}})),
    ("attributes-bad-key", _ms("m50", {"resourceAttributes": {"a=b": "x"}})),
    ("attributes-value-number", _ms("m51", {"resourceAttributes": {"team": 7}})),
    ("clock-unknown", _ms("m52", {"clock": {"sync": "ntp"}})),
    ("clock-skew-zero", _ms("m53", {"clock": {"sync": "chrony", "maxSkew": "0ms"}})),
    ("clock-skew-unit", _ms("m54", {"clock": {"maxSkew": "5 minutes"}})),
    ("aliases-include-name", _ms("m55", {"serviceName": "orders", "aliases": ["orders"]})),
    ("aliases-string", _ms("m56", {"aliases": "orders_v1"})),
    ("unknown-field", _ms("m57", {"tracng": {"exporter": "otlp"}})),
    ("istio-mode-unknown", _ms("m58", {"istio": {"mode": "maybe"}})),
    ("dashboard-string", _ms("m59", {"dashboard": "yes"})),
    ("name-not-a-label", _ms("m60.with.dots", {})),
]

# AdmissionReviews a webhook can receive from a confused client or a fuzzer.
POD = {"metadata": {"labels": {"app": "sentinel"}}, "spec": {"containers": [{"name": "app", "image": "x"}]}}


def _review(request: Any) -> Any:
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


GARBAGE_REVIEWS: list[tuple[str, Any]] = [
    ("empty-object", {}),
    ("a-list", [1, 2]),
    ("a-string", "hello"),
    ("null", None),
    ("no-request", {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}),
    ("request-is-string", _review("x")),
    ("no-object", _review({"uid": "1", "operation": "CREATE", "namespace": "sentinel"})),
    ("object-is-list", _review({"uid": "2", "operation": "CREATE", "namespace": "sentinel", "object": []})),
    ("no-spec", _review({"uid": "3", "operation": "CREATE", "namespace": "sentinel", "object": {"metadata": {}}})),
    (
        "labels-is-list",
        _review({"uid": "4", "namespace": "sentinel", "object": {"metadata": {"labels": ["a"]}, "spec": {}}}),
    ),
    (
        "containers-is-dict",
        _review(
            {
                "uid": "5",
                "namespace": "sentinel",
                "object": {"metadata": {"labels": {"app": "sentinel"}}, "spec": {"containers": {"a": 1}}},
            }
        ),
    ),
    (
        "no-containers",
        _review(
            {
                "uid": "6",
                "namespace": "sentinel",
                "object": {"metadata": {"labels": {"app": "sentinel"}}, "spec": {"containers": []}},
            }
        ),
    ),
    (
        "env-is-string",
        _review(
            {
                "uid": "7",
                "namespace": "sentinel",
                "object": {
                    "metadata": {"labels": {"app": "sentinel"}},
                    "spec": {"containers": [{"name": "app", "env": "X=1"}]},
                },
            }
        ),
    ),
    ("delete-operation", _review({"uid": "8", "operation": "DELETE", "namespace": "sentinel", "object": POD})),
    ("not-a-pod", _review({"uid": "9", "kind": {"kind": "Service"}, "namespace": "sentinel", "object": POD})),
    ("kube-system", _review({"uid": "10", "operation": "CREATE", "namespace": "kube-system", "object": POD})),
    (
        "huge-label",
        _review(
            {
                "uid": "11",
                "namespace": "sentinel",
                "object": {"metadata": {"labels": {"app": HUGE}}, "spec": {"containers": [{"name": "a"}]}},
            }
        ),
    ),
    (
        "env-1000",
        _review(
            {
                "uid": "12",
                "namespace": "other",
                "object": {
                    "metadata": {"labels": {"app": "x"}},
                    "spec": {
                        "containers": [{"name": "a", "env": [{"name": f"V{i}", "value": "1"} for i in range(1000)]}]
                    },
                },
            }
        ),
    ),
]
