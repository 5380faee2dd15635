"""Every CEL rule of the MonitoredService CRD, as pairs of objects: one the rule accepts, one it rejects.

Each :class:`CelCase` holds whole MonitoredService objects (apiVersion, kind,
metadata, spec), so the same table can be checked two ways:

* offline, by ``tests/unit/test_spec.py``: the pydantic model accepts ``valid``
  and rejects ``invalid`` with exactly one problem, whose message is exactly
  ``rule.message`` and whose path is ``path``;
* against a real API server, by the control-plane tests: ``kubectl apply`` of
  ``valid`` succeeds and of ``invalid`` fails with ``rule.message``.

``invalid`` objects break only the rule under test (and nothing the schema's
types, enums or patterns reject), so both judges must give that one message.

:data:`PATTERN_CASES` does the same for the schema's patterns, where three
regex engines judge one pattern (Go's RE2 in the API server, Rust's regex in
pydantic, Python's re in the validators): each object is accepted by both
judges, or refused by both at one field.
``valid`` objects are chosen to exercise the rule's guards too (fields left
out, so a rule that forgets ``has()`` fails on them with "no such key").
``path`` is where the offline check reports the problem. It starts with the
path the API server reports (the object carrying the rule plus the rule's
``fieldPath``) and may be more precise: the API server reports
``JAEGER_LOOPBACK_RULE`` at ``spec.tracing.jaeger`` and ``DEFAULT_NAME_RULE``
at the root, neither having a fieldPath, and a map key only at the map.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from otelwire.spec import model
from otelwire.spec.model import Cel

NAMESPACE = "cel-cases"


def monitored_service(spec: dict[str, Any] | None = None, name: str = "order-service") -> dict[str, Any]:
    """A whole MonitoredService object around ``spec``."""
    body: dict[str, Any] = {
        "apiVersion": f"{model.API_GROUP}/{model.API_VERSION}",
        "kind": model.KIND,
        "metadata": {"name": name, "namespace": NAMESPACE},
    }
    if spec is not None:
        body["spec"] = copy.deepcopy(spec)
    return body


@dataclass(frozen=True)
class CelCase:
    """One rule, an object it accepts, an object it rejects, and where the rejection is reported."""

    id: str
    rule: Cel
    valid: dict[str, Any]
    invalid: dict[str, Any]
    path: str


def _tracing(**fields: Any) -> dict[str, Any]:
    return {"tracing": fields}


def _jaeger(jaeger: dict[str, Any]) -> dict[str, Any]:
    return _tracing(exporter="jaeger", jaeger=jaeger)


_AGENT = {"host": "jaeger-agent.observability.svc", "port": 6831}
_COLLECTOR = "http://jaeger-collector.observability.svc:14268/api/traces"


def _case(rule: Cel, case_id: str, valid: dict[str, Any], invalid: dict[str, Any], path: str) -> CelCase:
    return CelCase(case_id, rule, monitored_service(valid), monitored_service(invalid), path)


CEL_CASES: list[CelCase] = [
    # -- selector requirements
    _case(
        model.SELECTOR_OPERATOR_RULE,
        "selector-in-without-values",
        {"selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}},
        {"selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": []}]}},
        "spec.selector.matchExpressions[0]",
    ),
    _case(
        model.SELECTOR_OPERATOR_RULE,
        "selector-notin-values-left-out",
        {"selector": {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["batch"]}]}},
        {"selector": {"matchExpressions": [{"key": "tier", "operator": "NotIn"}]}},
        "spec.selector.matchExpressions[0]",
    ),
    _case(
        model.SELECTOR_OPERATOR_RULE,
        "selector-exists-with-values",
        {"selector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}},
        {"selector": {"matchExpressions": [{"key": "tier", "operator": "Exists", "values": ["web"]}]}},
        "spec.selector.matchExpressions[0]",
    ),
    _case(
        model.SELECTOR_EMPTY_RULE,
        "selector-empty",
        {"selector": {"matchLabels": {"app": "order-service"}}},
        {"selector": {}},
        "spec.selector",
    ),
    _case(
        model.SELECTOR_EMPTY_RULE,
        "selector-empty-lists",
        {"selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}},
        {"selector": {"matchLabels": {}, "matchExpressions": []}},
        "spec.selector",
    ),
    # -- OTLP
    _case(
        model.OTLP_PORT_RULE,
        "otlp-grpc-on-4318",
        _tracing(otlp={"protocol": "grpc", "endpoint": "http://otel-collector.observability.svc:4317"}),
        _tracing(otlp={"protocol": "grpc", "endpoint": "http://otel-collector.observability.svc:4318"}),
        "spec.tracing.otlp.endpoint",
    ),
    _case(
        model.OTLP_PORT_RULE,
        "otlp-http-on-4317",
        _tracing(otlp={"endpoint": "otel-collector.observability.svc:4318"}),
        _tracing(otlp={"endpoint": "otel-collector.observability.svc:4317"}),
        "spec.tracing.otlp.endpoint",
    ),
    _case(
        model.OTLP_PORT_RULE,
        "otlp-http-json-on-4317-with-path",
        _tracing(otlp={"protocol": "http/json", "endpoint": "https://gateway.example.com:4318/otlp"}),
        _tracing(otlp={"protocol": "http/json", "endpoint": "https://gateway.example.com:4317/otlp"}),
        "spec.tracing.otlp.endpoint",
    ),
    _case(
        model.OTLP_LOOPBACK_RULE,
        "otlp-localhost",
        _tracing(otlp={"endpoint": "localhost:4318", "allowLoopback": True}),
        _tracing(otlp={"endpoint": "localhost:4318"}),
        "spec.tracing.otlp.endpoint",
    ),
    _case(
        model.OTLP_LOOPBACK_RULE,
        "otlp-127-0-0-1",
        _tracing(otlp={"endpoint": "http://otel-collector.observability.svc:4318"}),
        _tracing(otlp={"endpoint": "http://127.0.0.1:4318"}),
        "spec.tracing.otlp.endpoint",
    ),
    _case(
        model.OTLP_LOOPBACK_RULE,
        "otlp-ipv6-loopback-grpc",
        _tracing(otlp={"protocol": "grpc", "endpoint": "http://[::1]:4317", "allowLoopback": True}),
        _tracing(otlp={"protocol": "grpc", "endpoint": "http://[::1]:4317"}),
        "spec.tracing.otlp.endpoint",
    ),
    # -- Jaeger
    _case(
        model.JAEGER_AGENT_PORT_RULE,
        "jaeger-agent-on-collector-port",
        _jaeger({"agent": dict(_AGENT)}),
        _jaeger({"agent": {**_AGENT, "port": 14268}}),
        "spec.tracing.jaeger.agent.port",
    ),
    _case(
        model.JAEGER_AGENT_PORT_RULE,
        "jaeger-agent-on-otlp-port",
        _jaeger({"agent": {**_AGENT, "port": 6832}}),
        _jaeger({"agent": {**_AGENT, "port": 4317}}),
        "spec.tracing.jaeger.agent.port",
    ),
    _case(
        model.JAEGER_COLLECTOR_PORT_RULE,
        "jaeger-collector-on-agent-port",
        _jaeger({"collectorEndpoint": _COLLECTOR}),
        _jaeger({"collectorEndpoint": "http://jaeger-collector.observability.svc:6831/api/traces"}),
        "spec.tracing.jaeger.collectorEndpoint",
    ),
    _case(
        model.JAEGER_LOOPBACK_RULE,
        "jaeger-agent-localhost",
        _jaeger({"agent": {"host": "localhost", "port": 6831}, "allowLoopback": True}),
        _jaeger({"agent": {"host": "localhost", "port": 6831}}),
        "spec.tracing.jaeger.agent",
    ),
    _case(
        model.JAEGER_LOOPBACK_RULE,
        "jaeger-collector-127-0-0-1",
        _jaeger({"collectorEndpoint": _COLLECTOR, "agent": dict(_AGENT)}),
        _jaeger({"collectorEndpoint": "http://127.0.0.1:14268/api/traces"}),
        "spec.tracing.jaeger.collectorEndpoint",
    ),
    # -- sampler
    _case(
        model.SAMPLER_RATIO_RULE,
        "sampler-ratio-missing",
        _tracing(sampler={"type": "traceidratio", "ratio": "0.5"}),
        _tracing(sampler={"type": "traceidratio"}),
        "spec.tracing.sampler.ratio",
    ),
    _case(
        model.SAMPLER_RATIO_RULE,
        "sampler-ratio-on-always-on",
        _tracing(sampler={"type": "parentbased_always_on"}),
        _tracing(sampler={"type": "parentbased_always_on", "ratio": "0.5"}),
        "spec.tracing.sampler.ratio",
    ),
    _case(
        model.SAMPLER_RATIO_RULE,
        "sampler-ratio-on-default-type",
        _tracing(sampler={}),
        _tracing(sampler={"ratio": "1"}),
        "spec.tracing.sampler.ratio",
    ),
    _case(
        model.SAMPLER_ARGUMENT_RULE,
        "sampler-argument-on-ratio-sampler",
        _tracing(sampler={"type": "jaeger_remote", "argument": "endpoint=http://jaeger:5778,pollingIntervalMs=5000"}),
        _tracing(sampler={"type": "parentbased_traceidratio", "ratio": "0.1", "argument": "0.1"}),
        "spec.tracing.sampler.argument",
    ),
    # -- tracing
    _case(
        model.TRACING_JAEGER_ONLY_RULE,
        "jaeger-block-with-otlp",
        _jaeger({"agent": dict(_AGENT)}),
        _tracing(exporter="otlp", jaeger={"agent": dict(_AGENT)}),
        "spec.tracing.jaeger",
    ),
    _case(
        model.TRACING_JAEGER_NEEDS_TARGET_RULE,
        "jaeger-without-block",
        _jaeger({"collectorEndpoint": _COLLECTOR}),
        _tracing(exporter="jaeger"),
        "spec.tracing.exporter",
    ),
    _case(
        model.TRACING_JAEGER_NEEDS_TARGET_RULE,
        "jaeger-with-empty-block",
        _jaeger({"agent": dict(_AGENT)}),
        _jaeger({"allowLoopback": False}),
        "spec.tracing.exporter",
    ),
    _case(
        model.PROPAGATORS_NONE_RULE,
        "propagators-none-with-others",
        _tracing(propagators=["none"]),
        _tracing(propagators=["none", "tracecontext"]),
        "spec.tracing.propagators",
    ),
    _case(
        model.PROPAGATORS_UNIQUE_RULE,
        "propagators-repeated",
        _tracing(propagators=["tracecontext", "baggage", "b3"]),
        _tracing(propagators=["tracecontext", "baggage", "tracecontext"]),
        "spec.tracing.propagators",
    ),
    # -- clock
    _case(
        model.CLOCK_SKEW_RULE,
        "clock-zero-ms",
        {"clock": {"maxSkew": "1ms"}},
        {"clock": {"maxSkew": "0ms"}},
        "spec.clock.maxSkew",
    ),
    _case(
        model.CLOCK_SKEW_RULE,
        "clock-zero-seconds",
        {"clock": {"sync": "chrony", "maxSkew": "2s"}},
        {"clock": {"sync": "chrony", "maxSkew": "000s"}},
        "spec.clock.maxSkew",
    ),
    # -- spec
    _case(
        model.ALIASES_RULE,
        "aliases-include-service-name",
        # "$", quotes and backslashes are accepted by both judges: the collector rules escape them.
        {
            "serviceName": "order-service",
            "aliases": [
                "order_service",
                "OrderService",
                "${ORDER_SVC}",
                "${file:/etc/hostname}",
                "a$",
                'we"ird',
                "b\\c",
            ],
        },
        {"serviceName": "order-service", "aliases": ["order_service", "order-service"]},
        "spec.aliases",
    ),
    _case(
        model.RESOURCE_ATTRIBUTES_RULE,
        "resource-attributes-service-name",
        {"resourceAttributes": {"deployment.environment": "prod"}},
        {"resourceAttributes": {"deployment.environment": "prod", "service.name": "orders"}},
        "spec.resourceAttributes[service.name]",
    ),
    # -- the whole object
    CelCase(
        "default-name-not-a-label",
        model.DEFAULT_NAME_RULE,
        monitored_service({"serviceName": "order-service"}, name="order.service"),
        monitored_service({"dashboard": True}, name="order.service"),
        "spec.serviceName",
    ),
    CelCase(
        "default-name-no-spec",
        model.DEFAULT_NAME_RULE,
        monitored_service(None, name="order-service"),
        monitored_service(None, name="orders.v2"),
        "spec.serviceName",
    ),
]


@dataclass(frozen=True)
class PatternCase:
    """One object both judges must accept (``path`` None) or refuse at ``path`` (the offline path)."""

    id: str
    object: dict[str, Any]
    path: str | None
    api_path: str | None = None  # where the API server reports it, when not at ``path``


def _pattern(case_id: str, spec: dict[str, Any], path: str | None, api_path: str | None = None) -> PatternCase:
    return PatternCase(case_id, monitored_service(spec), path, api_path)


def _otlp(endpoint: str) -> dict[str, Any]:
    return _tracing(otlp={"endpoint": endpoint})


PATTERN_CASES: list[PatternCase] = [
    # Aliases: no ASCII whitespace, ',' or '='. RE2's \s has no \v, Rust's and Python's have it and
    # Unicode spaces too: the pattern spells the class out.
    _pattern("alias-vertical-tab", {"aliases": ["order\vservice"]}, "spec.aliases[0]"),
    _pattern("alias-form-feed", {"aliases": ["order\fservice"]}, "spec.aliases[0]"),
    _pattern("alias-tab", {"aliases": ["order\tservice"]}, "spec.aliases[0]"),
    _pattern("alias-space", {"aliases": ["order service"]}, "spec.aliases[0]"),
    _pattern("alias-comma", {"aliases": ["order,service"]}, "spec.aliases[0]"),
    _pattern("alias-equals", {"aliases": ["order=service"]}, "spec.aliases[0]"),
    _pattern("alias-no-break-space", {"aliases": ["order\u00a0service"]}, None),
    _pattern("alias-ideographic-space", {"aliases": ["order\u3000service"]}, None),
    # Python's $ also matches before a final newline; RE2's only at the end.
    _pattern("service-name-newline", {"serviceName": "orders\n"}, "spec.serviceName"),
    _pattern(
        "label-value-newline",
        {"selector": {"matchLabels": {"app": "orders\n"}}},
        "spec.selector.matchLabels[app]",
        "spec.selector.matchLabels.app",
    ),
    _pattern(
        "label-key-newline",
        {"selector": {"matchLabels": {"app\n": "orders"}}},
        "spec.selector.matchLabels[app\n]",
        "spec.selector.matchLabels",
    ),
    _pattern(
        "attribute-key-newline",
        {"resourceAttributes": {"team\n": "orders"}},
        "spec.resourceAttributes[team\n]",
        "spec.resourceAttributes",
    ),
    _pattern(
        "ratio-newline",
        _tracing(sampler={"type": "traceidratio", "ratio": "0.5\n"}),
        "spec.tracing.sampler.ratio",
    ),
    _pattern("endpoint-newline", _otlp("http://otel-collector.observability.svc:4318\n"), "spec.tracing.otlp.endpoint"),
    # Python's isdigit() and int() take any decimal digit; [0-9] does not.
    _pattern(
        "endpoint-fullwidth-port",
        _otlp("http://otel-collector.observability.svc:\uff14\uff13\uff11\uff18"),
        "spec.tracing.otlp.endpoint",
    ),
    _pattern(
        "endpoint-surrounding-spaces", _otlp("  otel-collector.observability.svc:4318 "), "spec.tracing.otlp.endpoint"
    ),
    _pattern(
        "endpoint-upper-case-scheme",
        _otlp("HTTP://otel-collector.observability.svc:4318"),
        "spec.tracing.otlp.endpoint",
    ),
    _pattern(
        "endpoint-space-in-path",
        _otlp("http://otel-collector.observability.svc:4318/a b"),
        "spec.tracing.otlp.endpoint",
    ),
    _pattern(
        "endpoint-vertical-tab-in-path",
        _otlp("http://otel-collector.observability.svc:4318/a\vb"),
        "spec.tracing.otlp.endpoint",
    ),
    _pattern("endpoint-no-break-space-in-path", _otlp("http://otel-collector.observability.svc:4318/a\u00a0b"), None),
    _pattern(
        "jaeger-agent-host-underscore",
        _jaeger({"agent": {"host": "jaeger_agent.observability.svc"}}),
        "spec.tracing.jaeger.agent.host",
    ),
    _pattern(
        "jaeger-collector-space-in-path",
        _jaeger({"collectorEndpoint": "http://jaeger-collector.observability.svc:14268/api traces"}),
        "spec.tracing.jaeger.collectorEndpoint",
    ),
]
