"""The MonitoredService model: every validation rule, the defaults, endpoint normalisation, CEL twins.

Tables first (``VALID`` and ``INVALID`` specs, ``ENDPOINTS``), then the checks
that every CEL rule of ``otelwire.spec.model.ALL_CEL_RULES`` is enforced
offline with exactly the rule's message (the cases live in ``tests/cel_cases.py``
so the control-plane tests can replay them against a real API server).
"""

from __future__ import annotations

from typing import Any

import pytest
from cel_cases import CEL_CASES, PATTERN_CASES, CelCase, PatternCase, monitored_service
from otelwire.spec import InvalidSpec, MonitoredServiceSpec, endpoints, model, parse_monitored_service, parse_spec

LONGEST_LABEL = "a" * 63


def _problems(raw: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidSpec) as caught:
        parse_spec(raw)
    return [(p.path, p.message) for p in caught.value.problems]


# ---------------------------------------------------------------- valid specs

VALID: list[Any] = [
    pytest.param({}, id="empty"),
    pytest.param({"serviceName": "order-service"}, id="service-name"),
    pytest.param({"serviceName": LONGEST_LABEL}, id="service-name-63"),
    pytest.param({"serviceName": "a"}, id="service-name-1"),
    pytest.param({"serviceName": "0rders9"}, id="service-name-digits"),
    pytest.param({"selector": {"matchLabels": {"app.kubernetes.io/name": "orders"}}}, id="selector-labels"),
    pytest.param(
        {"selector": {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}}, id="selector-does-not-exist"
    ),
    pytest.param({"tracing": {"otlp": {"endpoint": "otel-collector.observability.svc:4318"}}}, id="otlp-host-port"),
    pytest.param({"tracing": {"otlp": {"endpoint": "https://otlp.example.com:443/otlp"}}}, id="otlp-https-path"),
    pytest.param({"tracing": {"otlp": {"endpoint": "http://10.0.0.7:4318"}}}, id="otlp-ip"),
    pytest.param({"tracing": {"otlp": {"protocol": "grpc", "endpoint": "collector:4317"}}}, id="otlp-grpc"),
    pytest.param({"tracing": {"otlp": {"protocol": "grpc", "endpoint": "collector:55680"}}}, id="otlp-grpc-other-port"),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "http://127.0.0.1:4318", "allowLoopback": True}}}, id="otlp-loopback-allowed"
    ),
    pytest.param({"tracing": {"exporter": "none"}}, id="tracing-none"),
    pytest.param(
        {"tracing": {"exporter": "jaeger", "jaeger": {"agent": {"host": "10.1.2.3", "port": 6832}}}}, id="jaeger-agent"
    ),
    pytest.param(
        {"tracing": {"exporter": "jaeger", "jaeger": {"collectorEndpoint": "https://jaeger.example.com/api/traces"}}},
        id="jaeger-collector-no-port",
    ),
    pytest.param(
        {"tracing": {"propagators": ["tracecontext", "baggage", "b3", "b3multi", "jaeger", "xray", "ottrace"]}},
        id="propagators-all",
    ),
    pytest.param({"tracing": {"sampler": {"type": "always_off"}}}, id="sampler-always-off"),
    pytest.param({"tracing": {"sampler": {"type": "traceidratio", "ratio": "0"}}}, id="sampler-ratio-0"),
    pytest.param({"tracing": {"sampler": {"type": "traceidratio", "ratio": "1.0"}}}, id="sampler-ratio-1.0"),
    pytest.param(
        {"tracing": {"sampler": {"type": "parentbased_traceidratio", "ratio": "0.123456789"}}}, id="sampler-ratio-9dp"
    ),
    pytest.param({"tracing": {"sampler": {"type": "xray", "argument": "x"}}}, id="sampler-xray-argument"),
    pytest.param({"metrics": {"exporter": "otlp"}}, id="metrics-otlp"),
    pytest.param({"metrics": {"exporter": "none"}}, id="metrics-none"),
    pytest.param({"metrics": {"prometheus": {"port": 9090, "path": "/stats/prometheus"}}}, id="metrics-prom-custom"),
    pytest.param({"resourceAttributes": {"deployment.environment": "a,b=c $(X) é"}}, id="attributes-odd-value"),
    pytest.param({"injection": {"mode": "patch", "containers": ["app", "init-db"]}}, id="injection-patch"),
    pytest.param(
        {"clock": {"sync": "chrony", "maxSkew": "1s", "nodeSelector": {"kubernetes.io/os": "linux"}}}, id="clock"
    ),
    pytest.param({"aliases": ["order_service", "OrderService", "orders.v1"]}, id="aliases"),
    pytest.param({"istio": {"mode": "disabled"}, "dashboard": True}, id="istio-dashboard"),
]


@pytest.mark.parametrize("raw", VALID)
def test_valid_specs_parse(raw: dict[str, Any]) -> None:
    spec = parse_spec(raw)
    assert isinstance(spec, MonitoredServiceSpec)
    # what was given survives a round trip through the model
    assert parse_spec(spec.model_dump(by_alias=True, exclude_none=True)) == spec


# ---------------------------------------------------------------- invalid specs: (spec, path, fragment)

INVALID: list[Any] = [
    # serviceName
    pytest.param({"serviceName": ""}, "spec.serviceName", "must not be empty", id="name-empty"),
    pytest.param({"serviceName": "   "}, "spec.serviceName", "must not be empty", id="name-blank"),
    pytest.param({"serviceName": "$(POD_NAME)"}, "spec.serviceName", "contains '$('", id="name-var"),
    pytest.param({"serviceName": "orders-$(ENV)"}, "spec.serviceName", "contains '$('", id="name-var-suffix"),
    pytest.param({"serviceName": "a" * 64}, "spec.serviceName", "DNS-1123 label", id="name-64"),
    pytest.param({"serviceName": "Orders"}, "spec.serviceName", "DNS-1123 label", id="name-upper"),
    pytest.param({"serviceName": "order_service"}, "spec.serviceName", "DNS-1123 label", id="name-underscore"),
    pytest.param({"serviceName": "-orders"}, "spec.serviceName", "DNS-1123 label", id="name-leading-dash"),
    pytest.param({"serviceName": "orders."}, "spec.serviceName", "DNS-1123 label", id="name-dot"),
    pytest.param({"serviceName": 42}, "spec.serviceName", "valid string", id="name-int"),
    # selector
    pytest.param({"selector": {}}, "spec.selector", "empty selector", id="selector-empty"),
    pytest.param(
        {"selector": {"matchLabels": {"bad key!": "x"}}},
        "spec.selector.matchLabels[bad key!]",
        "label key",
        id="label-key",
    ),
    pytest.param(
        {"selector": {"matchLabels": {"app": "-x"}}}, "spec.selector.matchLabels[app]", "label value", id="label-value"
    ),
    pytest.param(
        {"selector": {"matchExpressions": [{"key": "a", "operator": "Like", "values": ["b"]}]}},
        "spec.selector.matchExpressions[0].operator",
        "'In', 'NotIn', 'Exists' or 'DoesNotExist'",
        id="selector-operator",
    ),
    # OTLP endpoint
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "localhost:4318"}}},
        "spec.tracing.otlp.endpoint",
        "loopback",
        id="otlp-localhost",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "LocalHost:4318"}}},
        "spec.tracing.otlp.endpoint",
        "loopback",
        id="otlp-localhost-case",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "http://127.0.0.1:4318"}}},
        "spec.tracing.otlp.endpoint",
        "loopback",
        id="otlp-127",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "http://127.9.8.7:4318"}}},
        "spec.tracing.otlp.endpoint",
        "loopback",
        id="otlp-127-8",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "http://127.1:4318"}}},
        "spec.tracing.otlp.endpoint",
        "loopback",
        id="otlp-127-short",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "http://[::1]:4318"}}},
        "spec.tracing.otlp.endpoint",
        "loopback",
        id="otlp-ipv6",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "0.0.0.0:4318"}}},
        "spec.tracing.otlp.endpoint",
        "loopback",
        id="otlp-unspecified",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "api.localhost:4318"}}},
        "spec.tracing.otlp.endpoint",
        "loopback",
        id="otlp-dot-localhost",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "collector:4318", "protocol": "grpc"}}},
        "spec.tracing.otlp.endpoint",
        "4318 is OTLP/HTTP",
        id="otlp-grpc-4318",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "collector:4317"}}},
        "spec.tracing.otlp.endpoint",
        "4317 is OTLP/gRPC",
        id="otlp-http-4317",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "http://collector:4317", "protocol": "http/json"}}},
        "spec.tracing.otlp.endpoint",
        "port and protocol disagree",
        id="otlp-json-4317",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "collector"}}}, "spec.tracing.otlp.endpoint", "has no port", id="otlp-no-port"
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "http://collector:99999"}}},
        "spec.tracing.otlp.endpoint",
        "invalid port",
        id="otlp-port-range",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "grpc://collector:4317", "protocol": "grpc"}}},
        "spec.tracing.otlp.endpoint",
        "scheme 'grpc' is not supported",
        id="otlp-grpc-scheme",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "http://collector:4318/v1/traces"}}},
        "spec.tracing.otlp.endpoint",
        "names a signal",
        id="otlp-signal-path",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "http://collector:4317/otlp", "protocol": "grpc"}}},
        "spec.tracing.otlp.endpoint",
        "take no path",
        id="otlp-grpc-path",
    ),
    pytest.param(
        {"tracing": {"otlp": {"protocol": "thrift"}}},
        "spec.tracing.otlp.protocol",
        "'http/protobuf'",
        id="otlp-protocol",
    ),
    # Jaeger
    pytest.param(
        {"tracing": {"exporter": "jaeger", "jaeger": {"agent": {"host": "http://jaeger-collector:14268/api/traces"}}}},
        "spec.tracing.jaeger.agent.host",
        "belongs in tracing.jaeger.collectorEndpoint",
        id="jaeger-url-as-agent",
    ),
    pytest.param(
        {"tracing": {"exporter": "jaeger", "jaeger": {"agent": {"host": "jaeger-agent:6831"}}}},
        "spec.tracing.jaeger.agent.host",
        "not a plain host",
        id="jaeger-host-with-port",
    ),
    pytest.param(
        {"tracing": {"exporter": "jaeger", "jaeger": {"agent": {"host": "jaeger", "port": 14268}}}},
        "spec.tracing.jaeger.agent.port",
        "agent listens on UDP 6831",
        id="jaeger-collector-port-as-agent",
    ),
    pytest.param(
        {"tracing": {"exporter": "jaeger", "jaeger": {"agent": {"host": "jaeger", "port": 70000}}}},
        "spec.tracing.jaeger.agent.port",
        "less than or equal to 65535",
        id="jaeger-port-range",
    ),
    pytest.param(
        {"tracing": {"exporter": "jaeger", "jaeger": {"collectorEndpoint": "jaeger-collector:14268"}}},
        "spec.tracing.jaeger.collectorEndpoint",
        "not an http(s) URL",
        id="jaeger-collector-no-scheme",
    ),
    pytest.param(
        {"tracing": {"exporter": "jaeger", "jaeger": {"collectorEndpoint": "udp://jaeger-agent:6831"}}},
        "spec.tracing.jaeger.collectorEndpoint",
        "belongs in tracing.jaeger.agent",
        id="jaeger-collector-udp",
    ),
    pytest.param(
        {"tracing": {"exporter": "jaeger", "jaeger": {"collectorEndpoint": "http://jaeger-collector:6832"}}},
        "spec.tracing.jaeger.collectorEndpoint",
        "agent's UDP port",
        id="jaeger-collector-agent-port",
    ),
    pytest.param(
        {"tracing": {"exporter": "jaeger", "jaeger": {"agent": {"port": 6831}}}},
        "spec.tracing.jaeger.agent.host",
        "required field is missing",
        id="jaeger-agent-no-host",
    ),
    pytest.param(
        {"tracing": {"exporter": "zipkin"}}, "spec.tracing.exporter", "'otlp', 'jaeger' or 'none'", id="exporter"
    ),
    # propagators
    pytest.param(
        {"tracing": {"propagators": ["w3c"]}}, "spec.tracing.propagators[0]", "'tracecontext'", id="prop-unknown"
    ),
    pytest.param({"tracing": {"propagators": []}}, "spec.tracing.propagators", "at least 1 item", id="prop-empty"),
    pytest.param(
        {"tracing": {"propagators": "tracecontext,baggage"}}, "spec.tracing.propagators", "valid list", id="prop-string"
    ),
    pytest.param(
        {"tracing": {"propagators": ["b3", "b3"]}}, "spec.tracing.propagators", "must not repeat", id="prop-repeat"
    ),
    # sampler
    pytest.param(
        {"tracing": {"sampler": {"type": "probabilistic"}}},
        "spec.tracing.sampler.type",
        "'always_on'",
        id="sampler-type",
    ),
    pytest.param(
        {"tracing": {"sampler": {"type": "traceidratio", "ratio": "1.5"}}},
        "spec.tracing.sampler.ratio",
        "not a decimal in [0, 1]",
        id="ratio-above-1",
    ),
    pytest.param(
        {"tracing": {"sampler": {"type": "traceidratio", "ratio": "-0.1"}}},
        "spec.tracing.sampler.ratio",
        "not a decimal in [0, 1]",
        id="ratio-negative",
    ),
    pytest.param(
        {"tracing": {"sampler": {"type": "traceidratio", "ratio": "25%"}}},
        "spec.tracing.sampler.ratio",
        "not a decimal in [0, 1]",
        id="ratio-percent",
    ),
    pytest.param(
        {"tracing": {"sampler": {"type": "traceidratio", "ratio": 0.25}}},
        "spec.tracing.sampler.ratio",
        'quoted decimal string such as "0.25"',
        id="ratio-float",
    ),
    pytest.param(
        {"tracing": {"sampler": {"type": "parentbased_traceidratio"}}},
        "spec.tracing.sampler.ratio",
        "ratio is required",
        id="ratio-missing",
    ),
    pytest.param(
        {"tracing": {"sampler": {"type": "always_on", "argument": "0.5"}}},
        "spec.tracing.sampler.argument",
        "argument applies to",
        id="argument-wrong-sampler",
    ),
    # metrics: exactly one path
    pytest.param(
        {"metrics": {"exporter": "otlp,prometheus"}},
        "spec.metrics.exporter",
        "'otlp', 'prometheus' or 'none'",
        id="metrics-two",
    ),
    pytest.param(
        {"metrics": {"exporter": ["otlp", "prometheus"]}},
        "spec.metrics.exporter",
        "'otlp', 'prometheus' or 'none'",
        id="metrics-list",
    ),
    pytest.param(
        {"metrics": {"exporter": "console"}},
        "spec.metrics.exporter",
        "'otlp', 'prometheus' or 'none'",
        id="metrics-console",
    ),
    pytest.param(
        {"metrics": {"prometheus": {"port": "9464"}}},
        "spec.metrics.prometheus.port",
        "valid integer",
        id="metrics-port-string",
    ),
    pytest.param(
        {"metrics": {"prometheus": {"path": "metrics"}}},
        "spec.metrics.prometheus.path",
        "should match pattern",
        id="metrics-path",
    ),
    # injection, istio, clock
    pytest.param(
        {"injection": {"mode": "sidecar"}}, "spec.injection.mode", "'webhook' or 'patch'", id="injection-mode"
    ),
    pytest.param(
        {"injection": {"containers": ["App"]}},
        "spec.injection.containers[0]",
        "should match pattern",
        id="containers-name",
    ),
    pytest.param(
        {"injection": {"containers": ["app", "app"]}},
        "spec.injection.containers",
        "must be unique",
        id="containers-dup",
    ),
    pytest.param(
        {"injection": {"overrideExisting": "yes"}},
        "spec.injection.overrideExisting",
        "valid boolean",
        id="override-string",
    ),
    pytest.param({"istio": {"mode": "on"}}, "spec.istio.mode", "'auto', 'enabled' or 'disabled'", id="istio-mode"),
    pytest.param({"clock": {"maxSkew": "100"}}, "spec.clock.maxSkew", "not a duration", id="skew-no-unit"),
    pytest.param({"clock": {"maxSkew": "0s"}}, "spec.clock.maxSkew", "greater than zero", id="skew-zero"),
    pytest.param({"clock": {"sync": "ntp"}}, "spec.clock.sync", "'chrony' or 'none'", id="clock-sync"),
    # resource attributes, aliases, unknown fields
    pytest.param(
        {"resourceAttributes": {"service.name": "x"}},
        "spec.resourceAttributes[service.name]",
        "set from spec.serviceName",
        id="attr-service-name",
    ),
    pytest.param(
        {"resourceAttributes": {"a=b": "x"}},
        "spec.resourceAttributes[a=b]",
        "not a resource attribute key",
        id="attr-key",
    ),
    pytest.param(
        {"resourceAttributes": {"deployment.environment": 1}},
        "spec.resourceAttributes[deployment.environment]",
        "valid string",
        id="attr-value-int",
    ),
    pytest.param({"aliases": ["a", "a"]}, "spec.aliases", "must not repeat", id="aliases-repeat"),
    pytest.param({"aliases": ["a b"]}, "spec.aliases[0]", "should match pattern", id="aliases-space"),
    pytest.param(
        {"serviceName": "orders", "aliases": ["orders"]},
        "spec.aliases",
        "must not include serviceName",
        id="aliases-self",
    ),
    pytest.param({"servicename": "orders"}, "spec.servicename", "unknown field", id="unknown-field"),
    pytest.param(
        {"tracing": {"otlp": {"endpiont": "x:4318"}}},
        "spec.tracing.otlp.endpiont",
        "unknown field",
        id="unknown-nested",
    ),
]


@pytest.mark.parametrize(("raw", "path", "fragment"), INVALID)
def test_invalid_specs_name_field_and_reason(raw: dict[str, Any], path: str, fragment: str) -> None:
    problems = _problems(raw)
    assert len(problems) == 1, problems
    got_path, message = problems[0]
    assert got_path == path
    assert fragment in message
    assert "\n" not in message


def test_several_problems_are_all_reported() -> None:
    problems = _problems({"serviceName": "", "metrics": {"exporter": "both"}, "istio": {"mode": "x"}})
    assert [p for p, _ in problems] == ["spec.serviceName", "spec.metrics.exporter", "spec.istio.mode"]


# ---------------------------------------------------------------- defaults


def test_defaults() -> None:
    spec = parse_spec({})
    assert spec.service_name is None
    assert spec.selector is None
    assert spec.injection.mode == "webhook"
    assert spec.injection.containers == []
    assert spec.injection.override_existing is False
    assert spec.injection.restart_outdated is False
    assert spec.tracing.exporter == "otlp"
    assert spec.tracing.otlp.protocol == "http/protobuf"
    assert spec.tracing.otlp.allow_loopback is False
    assert spec.tracing.otlp.resolved_endpoint == "http://otel-collector.observability.svc:4318"
    assert spec.tracing.jaeger is None
    assert spec.tracing.propagators == ["tracecontext", "baggage"]
    assert spec.tracing.sampler.type == "parentbased_always_on"
    assert spec.tracing.sampler.env_argument is None
    assert spec.metrics.exporter == "prometheus"
    assert (spec.metrics.prometheus.port, spec.metrics.prometheus.path) == (9464, "/metrics")
    assert spec.istio.mode == "auto"
    assert (spec.clock.sync, spec.clock.max_skew, spec.clock.max_skew_ms) == ("none", "100ms", 100)
    assert spec.resource_attributes == {} and spec.aliases == [] and spec.dashboard is False
    assert parse_spec(None) == spec


def test_service_name_and_selector_default_to_metadata_name() -> None:
    ms = parse_monitored_service(monitored_service({}, name="checkout"))
    assert ms.service_name == "checkout"
    assert ms.selector.match_labels == {"app.kubernetes.io/name": "checkout"}
    assert ms.selector.matches({"app.kubernetes.io/name": "checkout", "x": "y"})
    assert not ms.selector.matches({})


def test_default_selector_follows_service_name_not_metadata_name() -> None:
    ms = parse_monitored_service(monitored_service({"serviceName": "orders"}, name="orders-msvc"))
    assert ms.service_name == "orders"
    assert ms.selector.match_labels == {"app.kubernetes.io/name": "orders"}


def test_identity_fields() -> None:
    body = monitored_service({})
    body["metadata"].pop("namespace")
    body["metadata"].update(generation=7, uid="u-1")
    ms = parse_monitored_service(body, default_namespace="shop")
    assert (ms.namespace, ms.generation, ms.uid, ms.key) == ("shop", 7, "u-1", "shop/order-service")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"apiVersion": "otelwire.io/v1", "kind": "MonitoredService", "metadata": {"name": "a", "namespace": "n"}},
            ["MonitoredService n/a: apiVersion: must be otelwire.io/v1alpha1"],
            id="api-version",
        ),
        pytest.param(
            {"kind": "MonitoredService", "metadata": {"namespace": "n"}},
            ["MonitoredService n/<unnamed>: metadata.name: required; name the MonitoredService"],
            id="no-name",
        ),
        pytest.param(
            {"kind": "MonitoredService", "metadata": {"name": "a", "namespace": "n"}, "spec": ["x"]},
            ["MonitoredService n/a: spec: must be a mapping"],
            id="spec-list",
        ),
        pytest.param(
            {"kind": "MonitoredService", "metadata": {"name": "Orders", "namespace": "n"}},
            [f"MonitoredService n/Orders: spec.serviceName: {model.DEFAULT_NAME_RULE.message}"],
            id="name-not-label",
        ),
        pytest.param(
            {"kind": "MonitoredService", "metadata": {"name": "a", "namespace": "n"}, "spec": {"serviceName": "A"}},
            [
                "MonitoredService n/a: spec.serviceName: 'A' is not a DNS-1123 label: use at most 63 lowercase "
                "letters, digits and '-', starting and ending with a letter or digit (e.g. order-service)"
            ],
            id="one-line-per-problem",
        ),
    ],
)
def test_resource_problems_name_resource_and_field(body: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse_monitored_service(body)
    assert caught.value.lines() == expected


# ---------------------------------------------------------------- endpoints, normalised

ENDPOINTS: list[Any] = [
    pytest.param(None, "http/protobuf", "http://otel-collector.observability.svc:4318", id="default-http"),
    pytest.param(None, "http/json", "http://otel-collector.observability.svc:4318", id="default-json"),
    pytest.param(None, "grpc", "http://otel-collector.observability.svc:4317", id="default-grpc"),
    pytest.param("otel:4318", "http/protobuf", "http://otel:4318", id="host-port"),
    pytest.param(
        "Collector.Observability.SVC:4318", "http/protobuf", "http://collector.observability.svc:4318", id="case"
    ),
    pytest.param("https://otlp.example.com:443/", "http/protobuf", "https://otlp.example.com:443", id="trailing-slash"),
    pytest.param("https://gw.example.com:8443/otlp/", "http/json", "https://gw.example.com:8443/otlp", id="base-path"),
    pytest.param("collector:4317", "grpc", "http://collector:4317", id="grpc"),
    pytest.param("https://collector:443", "grpc", "https://collector:443", id="grpc-tls"),
    pytest.param("http://[fd00::7]:4318", "http/protobuf", "http://[fd00::7]:4318", id="ipv6"),
]


@pytest.mark.parametrize(("endpoint", "protocol", "resolved"), ENDPOINTS)
def test_resolved_endpoint(endpoint: str | None, protocol: str, resolved: str) -> None:
    otlp: dict[str, Any] = {"protocol": protocol}
    if endpoint is not None:
        otlp["endpoint"] = endpoint
    spec = parse_spec({"tracing": {"otlp": otlp}})
    assert spec.tracing.otlp.resolved_endpoint == resolved
    assert spec.tracing.otlp.endpoint == endpoint  # the spec keeps what the user wrote


def test_loopback_resolves_when_allowed() -> None:
    spec = parse_spec({"tracing": {"otlp": {"endpoint": "localhost:4318", "allowLoopback": True}}})
    assert spec.tracing.otlp.resolved_endpoint == "http://localhost:4318"


@pytest.mark.parametrize(
    ("given", "resolved"),
    [
        ("http://Jaeger-Collector:14268", "http://jaeger-collector:14268/api/traces"),
        ("https://jaeger.example.com:443/api/traces", "https://jaeger.example.com:443/api/traces"),
    ],
)
def test_resolved_jaeger_collector(given: str, resolved: str) -> None:
    spec = parse_spec({"tracing": {"exporter": "jaeger", "jaeger": {"collectorEndpoint": given}}})
    assert spec.tracing.jaeger is not None
    assert spec.tracing.jaeger.resolved_collector == resolved


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("svc.localhost", True),
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("127.1", True),
        ("[::1]", True),
        ("::1", True),
        ("0.0.0.0", True),
        ("[::]", True),
        ("otel-collector.observability.svc", False),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
        ("127.example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert endpoints.is_loopback(host) is loopback


# ---------------------------------------------------------------- CEL twins


def test_every_cel_rule_has_cases() -> None:
    covered = {id(case.rule) for case in CEL_CASES}
    missing = [rule.message for rule in model.ALL_CEL_RULES if id(rule) not in covered]
    assert not missing, f"CEL rules without a case in tests/cel_cases.py: {missing}"


def test_cel_messages_are_distinct() -> None:
    messages = [rule.message for rule in model.ALL_CEL_RULES]
    assert len(set(messages)) == len(messages)


@pytest.mark.parametrize("case", CEL_CASES, ids=[c.id for c in CEL_CASES])
def test_cel_rule_python_twin_accepts_valid(case: CelCase) -> None:
    parse_monitored_service(case.valid)


@pytest.mark.parametrize("case", CEL_CASES, ids=[c.id for c in CEL_CASES])
def test_cel_rule_python_twin_rejects_invalid_with_the_rule_message(case: CelCase) -> None:
    with pytest.raises(InvalidSpec) as caught:
        parse_monitored_service(case.invalid)
    problems = caught.value.problems
    assert [(p.path, p.message) for p in problems] == [(case.path, case.rule.message)]


@pytest.mark.parametrize("case", CEL_CASES, ids=[c.id for c in CEL_CASES])
def test_cel_case_path_names_the_rule_field(case: CelCase) -> None:
    """The offline path ends in the rule's fieldPath, where the API server reports it too."""
    if case.rule.field_path:
        assert (case.path.split("[")[0]).endswith(case.rule.field_path)


@pytest.mark.parametrize("case", PATTERN_CASES, ids=[c.id for c in PATTERN_CASES])
def test_patterns_judge_as_the_api_server_does(case: PatternCase) -> None:
    """The offline half of the pattern table (the API server's half: tests/cluster/test_cel_replay.py)."""
    if case.path is None:
        parse_monitored_service(case.object)
        return
    with pytest.raises(InvalidSpec) as caught:
        parse_monitored_service(case.object)
    assert [p.path for p in caught.value.problems] == [case.path]


def test_cel_loopback_regex_agrees_with_python() -> None:
    """The CEL loopback regex (RE2 syntax, here run by Python's re) and is_loopback judge hosts alike."""
    import re

    regex = re.compile(endpoints.LOOPBACK_CEL_REGEX)
    for host in ["localhost", "LocalHost", "a.localhost", "127.0.0.1", "127.3", "[::1]", "0.0.0.0", "[::]"]:
        assert regex.search(f"http://{host}:4318"), host
        assert endpoints.is_loopback(host), host
    for host in ["collector", "localhost.example.com", "10.0.0.1", "[fd00::1]", "127x.example.com"]:
        assert not regex.search(f"http://{host}:4318"), host
        assert not endpoints.is_loopback(host), host


def test_any_mapping_is_accepted() -> None:
    """kopf hands bodies over as Mapping views, not dicts; strict validation must still read them."""
    from types import MappingProxyType

    raw = MappingProxyType({"serviceName": "orders", "tracing": MappingProxyType({"propagators": ("b3",)})})
    spec = parse_spec(raw)
    assert (spec.service_name, spec.tracing.propagators) == ("orders", ["b3"])
