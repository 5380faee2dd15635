"""The planner: what gets injected, in which order, and how it meets what a pod already has.

Every template in ``TEMPLATES`` goes through the same battery: the kubelet's
``$(VAR)`` expansion resolves every reference, applying twice equals applying
once, the JSON patch (applied by the ``jsonpatch`` package) equals
``apply``, and the patch is ``add``-only when nothing the user wrote differs.
Focused tables follow for env contents, resource attributes, containers,
conflicts, Istio, Prometheus, the digest and pod ownership.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import pytest
import yaml
from cel_cases import monitored_service
from jsonpatch import apply_patch
from otelwire.plan import (
    INJECTED_ANNOTATION,
    Workload,
    apply,
    attributes,
    changes,
    json_patch,
    owner_of_pod,
    plan_for,
    select_services,
    template_of,
    workload_of,
)
from otelwire.plan.parts import (
    ISTIO_CANONICAL_NAME,
    ISTIO_CANONICAL_REVISION,
    ISTIO_PROXY_CONFIG,
    OTEL_SERVICE_NAME_ANNOTATION,
    Plan,
)
from otelwire.spec import KNOWN_SIDECARS, MonitoredService, parse_monitored_service
from otelwire.webhook.reviewing import Reviewer
from support import kubelet
from support.builders import container, lit

NS = "shop"
OTEL_NAME = OTEL_SERVICE_NAME_ANNOTATION  # resource.opentelemetry.io/service.name
DEPLOYMENT = Workload("Deployment", "order-service")
DOWNWARD = ["OTEL_K8S_POD_NAME", "OTEL_K8S_NAMESPACE_NAME", "OTEL_K8S_NODE_NAME", "OTEL_K8S_POD_UID"]
DEFAULT_ENV_ORDER = [
    *DOWNWARD,
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_PROPAGATORS",
    "OTEL_TRACES_SAMPLER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_EXPORTER_PROMETHEUS_HOST",
    "OTEL_EXPORTER_PROMETHEUS_PORT",
]


# ---------------------------------------------------------------- builders


def make_ms(spec: dict[str, Any] | None = None, name: str = "order-service", namespace: str = NS) -> MonitoredService:
    body = monitored_service(spec if spec is not None else {}, name=name)
    body["metadata"]["namespace"] = namespace
    return parse_monitored_service(body)


def template(
    *containers: dict[str, Any],
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    init: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    meta: dict[str, Any] = {"labels": {"app.kubernetes.io/name": "order-service"} if labels is None else labels}
    if annotations is not None:
        meta["annotations"] = annotations
    spec: dict[str, Any] = {"containers": list(containers) or [container()]}
    if init:
        spec["initContainers"] = list(init)
    return {"metadata": meta, "spec": spec}


def port(name: str | None, number: int, protocol: str = "TCP") -> dict[str, Any]:
    """A ``ports`` entry as the API server stores it (no name when ``name`` is None)."""
    return {**({"name": name} if name is not None else {}), "containerPort": number, "protocol": protocol}


def env_of(obj: dict[str, Any], name: str = "app", init: bool = False) -> list[dict[str, Any]]:
    items = obj["spec"]["initContainers" if init else "containers"]
    found: list[dict[str, Any]] = next(c for c in items if c["name"] == name).get("env") or []
    return found


def env_values(obj: dict[str, Any], name: str = "app") -> dict[str, Any]:
    return {e["name"]: e.get("value") for e in env_of(obj, name)}


def names(env: list[dict[str, Any]]) -> list[str]:
    return [str(e["name"]) for e in env]


def value(env: list[dict[str, Any]], name: str) -> str | None:
    entry = next((e for e in env if e["name"] == name), None)
    return None if entry is None else entry.get("value")


def resolved(obj: dict[str, Any], name: str = "app", init: bool = False) -> kubelet.ResolvedEnv:
    return kubelet.resolve(env_of(obj, name, init))


def pod_from(tmpl: dict[str, Any], rs_hash: str = "7d9f8c6b5") -> dict[str, Any]:
    """The pod a Deployment named order-service makes from ``tmpl`` (what the webhook sees)."""
    pod = copy.deepcopy(tmpl)
    meta = pod.setdefault("metadata", {})
    meta["generateName"] = f"order-service-{rs_hash}-"
    meta["namespace"] = NS
    meta.setdefault("labels", {})["pod-template-hash"] = rs_hash
    meta["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"order-service-{rs_hash}", "controller": True}
    ]
    return pod


def plan(ms: MonitoredService, tmpl: dict[str, Any], workload: Workload | None = DEPLOYMENT) -> Plan:
    return plan_for(ms, tmpl, workload, NS)


# ---------------------------------------------------------------- the battery, over many pod shapes


@dataclass(frozen=True)
class Shape:
    """A pod template and the MonitoredService spec it meets; ``clean``: nothing of the user's differs."""

    template: dict[str, Any]
    spec: dict[str, Any] = field(default_factory=dict)
    clean: bool = True


TEMPLATES: list[Any] = [
    pytest.param(Shape(template()), id="bare"),
    pytest.param(Shape(template(container(env=[lit("LOG_LEVEL", "info")]))), id="user-env"),
    pytest.param(Shape(template(container(env=[]), labels={})), id="empty-env-no-labels"),
    pytest.param(Shape({"spec": {"containers": [container()]}}), id="no-metadata"),
    pytest.param(Shape({"metadata": None, "spec": {"containers": [container()]}}), id="metadata-null"),
    pytest.param(
        Shape({"metadata": {"labels": None, "annotations": None}, "spec": {"containers": [container()]}}),
        id="labels-null",
    ),
    pytest.param(Shape({"spec": {"containers": [container(env=None)]}}), id="env-null"),
    pytest.param(
        Shape(template(container(envFrom=[{"configMapRef": {"name": "app-config"}}]))),
        id="envfrom-only",
    ),
    pytest.param(
        Shape(
            template(
                container(
                    env=[{"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}],
                    envFrom=[{"secretRef": {"name": "app-secrets"}}],
                )
            )
        ),
        id="envfrom-and-valuefrom",
    ),
    pytest.param(
        Shape(template(container("app"), container("worker", env=[lit("QUEUE", "orders")]), container("istio-proxy"))),
        id="multi-container",
    ),
    pytest.param(
        Shape(template(container("app"), init=(container("migrate"), container("istio-init")))),
        id="init-not-named",
    ),
    pytest.param(
        Shape(
            template(container("app"), init=(container("migrate"),)), {"injection": {"containers": ["app", "migrate"]}}
        ),
        id="init-named",
    ),
    pytest.param(
        Shape(
            template(container(env=[lit("OTEL_SERVICE_NAME", "legacy-orders")])),
            clean=False,
        ),
        id="user-service-name-kept",
    ),
    pytest.param(
        Shape(
            template(container(env=[lit("OTEL_SERVICE_NAME", "legacy-orders"), lit("X", "1")])),
            {"injection": {"overrideExisting": True}},
            clean=False,
        ),
        id="user-service-name-overridden",
    ),
    pytest.param(
        Shape(
            template(
                container(
                    env=[
                        {
                            "name": "OTEL_SERVICE_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app.kubernetes.io/name']"}},
                        }
                    ]
                )
            ),
            clean=False,
        ),
        id="user-valuefrom-kept",
    ),
    pytest.param(
        Shape(
            template(
                container(
                    env=[
                        lit("VERSION", "1.4.2"),
                        lit("OTEL_RESOURCE_ATTRIBUTES", "team=payments,service.version=$(VERSION)"),
                    ]
                )
            ),
            {"resourceAttributes": {"team": "orders"}},
            clean=False,
        ),
        id="user-attributes-merged",
    ),
    pytest.param(
        Shape(
            template(container(env=[lit("OTEL_RESOURCE_ATTRIBUTES", "team=payments")])),
            {"resourceAttributes": {"team": "orders"}, "injection": {"overrideExisting": True}},
            clean=False,
        ),
        id="user-attributes-overridden",
    ),
    pytest.param(
        Shape(
            template(
                container(
                    env=[
                        lit("OTEL_RESOURCE_ATTRIBUTES", "team=payments"),
                        {"name": "OTEL_K8S_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    ]
                )
            ),
            clean=False,
        ),
        id="user-attributes-before-a-downward-var",
    ),
    pytest.param(
        Shape(template(container(env=[lit("OTEL_K8S_NODE_NAME", "pinned")])), clean=False),
        id="user-downward-literal",
    ),
    pytest.param(
        Shape(template(container(), container("istio-proxy"), labels={"app.kubernetes.io/version": "2.0"})),
        id="istio-auto-sidecar",
    ),
    pytest.param(
        Shape(
            template(
                container(),
                container("istio-proxy"),
                annotations={ISTIO_PROXY_CONFIG: "holdApplicationUntilProxyStarts: true\nconcurrency: 2\n"},
            ),
            clean=False,
        ),
        id="istio-proxy-config-merged",
    ),
    pytest.param(
        Shape(
            template(container(), annotations={ISTIO_PROXY_CONFIG: "{not: yaml"}), {"istio": {"mode": "enabled"}}, False
        ),
        id="istio-proxy-config-invalid",
    ),
    pytest.param(
        Shape(template(container(), annotations={"prometheus.io/scrape": "false"}), clean=False),
        id="user-prometheus-annotation",
    ),
    pytest.param(
        Shape(template(container(), annotations={INJECTED_ANNOTATION: "0123456789abcdef"}), clean=False),
        id="stale-digest",
    ),
    pytest.param(
        Shape(template(container()), {"resourceAttributes": {"owner": "a,b=c d$(HOME)é%"}}),
        id="odd-attribute-value",
    ),
    pytest.param(
        Shape(
            template(container()),
            {
                "tracing": {
                    "exporter": "jaeger",
                    "jaeger": {"agent": {"host": "jaeger-agent.observability.svc"}},
                    "sampler": {"type": "traceidratio", "ratio": "0.5"},
                },
                "metrics": {"exporter": "otlp"},
            },
        ),
        id="jaeger-and-otlp-metrics",
    ),
    pytest.param(Shape(template(container(ports=[port("http", 8080)]))), id="user-ports"),
    pytest.param(Shape(template(container(ports=None))), id="ports-null"),
    pytest.param(Shape(template(container(ports=[port("metrics", 9464)]))), id="metrics-port-declared"),
    pytest.param(
        Shape(template(container("app"), container("worker", ports=[port("prom", 9464)]))),
        id="metrics-port-declared-elsewhere",
    ),
    pytest.param(Shape(template(container(ports=[port("otel-metrics", 8080)])), clean=False), id="port-name-taken"),
    pytest.param(
        Shape(
            template(container("app", ports=[port("http", 8080)]), container("worker")),
            {"injection": {"containers": ["worker", "app"]}},
        ),
        id="port-on-the-pods-first",
    ),
    pytest.param(
        Shape(template(container(ports=[port("http", 8080)])), {"metrics": {"prometheus": {"port": 9091}}}),
        id="custom-metrics-port",
    ),
    pytest.param(
        Shape(template(container(), annotations={OTEL_NAME: "legacy-orders"}), clean=False),
        id="user-resource-service-name",
    ),
]


def _battery_inputs(shape: Shape) -> tuple[MonitoredService, dict[str, Any], Plan]:
    ms = make_ms(shape.spec)
    return ms, shape.template, plan(ms, shape.template)


@pytest.mark.parametrize("shape", TEMPLATES)
def test_every_reference_resolves_like_the_kubelet(shape: Shape) -> None:
    _, tmpl, p = _battery_inputs(shape)
    applied, _ = apply(tmpl, p)
    for cp in p.containers:
        env = env_of(applied, cp.container, cp.init)
        result = kubelet.resolve(env)
        assert result.unresolved == [], (cp.container, result.unresolved)
        for name in DOWNWARD:
            assert names(env).index(name) < names(env).index("OTEL_RESOURCE_ATTRIBUTES")
        decoded = attributes.decoded(result.values["OTEL_RESOURCE_ATTRIBUTES"])
        assert decoded["k8s.pod.name"] == kubelet.DOWNWARD_VALUES["metadata.name"]
        assert decoded["k8s.namespace.name"] == kubelet.DOWNWARD_VALUES["metadata.namespace"]
        assert decoded["k8s.container.name"] == cp.container


@pytest.mark.parametrize("shape", TEMPLATES)
def test_apply_is_idempotent(shape: Shape) -> None:
    ms, tmpl, p = _battery_inputs(shape)
    once, _ = apply(tmpl, p)
    again_plan = plan(ms, once)
    assert again_plan.digest == p.digest, "an injected pod must plan like the pod it was"
    twice, delta = apply(once, again_plan)
    assert twice == once
    assert delta.empty
    assert json_patch(once, again_plan)[0] == []


@pytest.mark.parametrize("shape", TEMPLATES)
def test_json_patch_equals_apply(shape: Shape) -> None:
    _, tmpl, p = _battery_inputs(shape)
    ops, _ = json_patch(tmpl, p)
    applied, _ = apply(tmpl, p)
    assert apply_patch(tmpl, ops) == applied


@pytest.mark.parametrize("shape", TEMPLATES)
def test_patch_is_add_only_unless_the_user_wrote_something_different(shape: Shape) -> None:
    _, tmpl, p = _battery_inputs(shape)
    ops, delta = json_patch(tmpl, p)
    kinds = {op["op"] for op in ops}
    if shape.clean:
        assert kinds == {"add"}
        assert delta.conflicts == ()
    else:
        assert kinds <= {"add", "replace", "remove"}


@pytest.mark.parametrize("shape", TEMPLATES)
def test_apply_leaves_the_input_alone(shape: Shape) -> None:
    _, tmpl, p = _battery_inputs(shape)
    before = copy.deepcopy(tmpl)
    apply(tmpl, p)
    json_patch(tmpl, p)
    assert tmpl == before


@pytest.mark.parametrize("shape", TEMPLATES)
def test_user_entries_keep_their_relative_order(shape: Shape) -> None:
    """Only OTEL_RESOURCE_ATTRIBUTES may move (behind the variables it references)."""
    _, tmpl, p = _battery_inputs(shape)
    applied, _ = apply(tmpl, p)
    for original in (tmpl.get("spec") or {}).get("containers") or []:
        theirs = [n for n in names(original.get("env") or []) if n != "OTEL_RESOURCE_ATTRIBUTES"]
        after = [n for n in names(env_of(applied, original["name"])) if n in theirs]
        assert after == theirs


# ---------------------------------------------------------------- the env


def test_default_env_order_and_values() -> None:
    applied, _ = apply(template(), plan(make_ms(), template()))
    env = env_of(applied)
    assert names(env) == DEFAULT_ENV_ORDER
    assert env[0] == {"name": "OTEL_K8S_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    assert [e["valueFrom"]["fieldRef"]["fieldPath"] for e in env[:4]] == [
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "metadata.uid",
    ]


def test_downward_vars_go_first_and_ours_after_the_users() -> None:
    tmpl = template(container(env=[lit("A", "1"), lit("B", "$(A)")]))
    applied, _ = apply(tmpl, plan(make_ms(), tmpl))
    assert names(env_of(applied)) == [*DOWNWARD, "A", "B", *DEFAULT_ENV_ORDER[4:]]


ENV_VALUES: list[Any] = [
    pytest.param(
        {},
        {
            "OTEL_SERVICE_NAME": "order-service",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability.svc:4318",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_PROPAGATORS": "tracecontext,baggage",
            "OTEL_TRACES_SAMPLER": "parentbased_always_on",
            "OTEL_TRACES_SAMPLER_ARG": None,
            "OTEL_METRICS_EXPORTER": "prometheus",
            "OTEL_EXPORTER_PROMETHEUS_HOST": "0.0.0.0",
            "OTEL_EXPORTER_PROMETHEUS_PORT": "9464",
            "OTEL_EXPORTER_JAEGER_AGENT_HOST": None,
        },
        id="defaults",
    ),
    pytest.param({"serviceName": "orders"}, {"OTEL_SERVICE_NAME": "orders"}, id="service-name"),
    pytest.param(
        {"tracing": {"otlp": {"protocol": "grpc"}}},
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability.svc:4317",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        },
        id="grpc-default-endpoint",
    ),
    pytest.param(
        {"tracing": {"otlp": {"endpoint": "Tempo.Tracing:4318/"}}},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://tempo.tracing:4318"},
        id="endpoint-normalised",
    ),
    pytest.param(
        {"tracing": {"otlp": {"protocol": "http/json", "endpoint": "https://otlp.example.com:443/base"}}},
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://otlp.example.com:443/base",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
        },
        id="endpoint-https-json",
    ),
    pytest.param(
        {"tracing": {"exporter": "none"}, "metrics": {"exporter": "none"}},
        {
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_ENDPOINT": None,
            "OTEL_EXPORTER_PROMETHEUS_PORT": None,
        },
        id="nothing-exported",
    ),
    pytest.param(
        {"tracing": {"exporter": "none"}, "metrics": {"exporter": "otlp"}},
        {
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability.svc:4318",
            "OTEL_EXPORTER_PROMETHEUS_HOST": None,
        },
        id="metrics-only-otlp",
    ),
    pytest.param(
        {"metrics": {"prometheus": {"port": 9091, "path": "/prom"}}},
        {"OTEL_EXPORTER_PROMETHEUS_PORT": "9091"},
        id="prometheus-port",
    ),
    pytest.param(
        {"tracing": {"exporter": "jaeger", "jaeger": {"agent": {"host": "jaeger-agent.observability.svc"}}}},
        {
            "OTEL_TRACES_EXPORTER": "jaeger",
            "OTEL_EXPORTER_JAEGER_AGENT_HOST": "jaeger-agent.observability.svc",
            "OTEL_EXPORTER_JAEGER_AGENT_PORT": "6831",
            "OTEL_EXPORTER_JAEGER_ENDPOINT": None,
            "OTEL_EXPORTER_OTLP_ENDPOINT": None,
        },
        id="jaeger-agent",
    ),
    pytest.param(
        {
            "tracing": {
                "exporter": "jaeger",
                "jaeger": {"collectorEndpoint": "http://Jaeger-Collector.observability:14268"},
            }
        },
        {
            "OTEL_TRACES_EXPORTER": "jaeger",
            "OTEL_EXPORTER_JAEGER_ENDPOINT": "http://jaeger-collector.observability:14268/api/traces",
            "OTEL_EXPORTER_JAEGER_AGENT_HOST": None,
        },
        id="jaeger-collector",
    ),
    pytest.param(
        {
            "tracing": {"exporter": "jaeger", "jaeger": {"agent": {"host": "10.0.0.9", "port": 6832}}},
            "metrics": {"exporter": "otlp"},
        },
        {
            "OTEL_EXPORTER_JAEGER_AGENT_PORT": "6832",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://otel-collector.observability.svc:4318",
        },
        id="jaeger-with-otlp-metrics",
    ),
    pytest.param(
        {"tracing": {"sampler": {"type": "parentbased_traceidratio", "ratio": "0.25"}}},
        {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"},
        id="sampler-ratio",
    ),
    pytest.param(
        {"tracing": {"sampler": {"type": "parentbased_jaeger_remote", "argument": "endpoint=http://jaeger:14250"}}},
        {"OTEL_TRACES_SAMPLER": "parentbased_jaeger_remote", "OTEL_TRACES_SAMPLER_ARG": "endpoint=http://jaeger:14250"},
        id="sampler-argument",
    ),
    pytest.param(
        {"tracing": {"sampler": {"type": "always_off"}}},
        {"OTEL_TRACES_SAMPLER": "always_off", "OTEL_TRACES_SAMPLER_ARG": None},
        id="sampler-always-off",
    ),
    pytest.param(
        {"tracing": {"propagators": ["b3multi", "xray"]}}, {"OTEL_PROPAGATORS": "b3multi,xray"}, id="propagators"
    ),
    pytest.param({"tracing": {"propagators": ["none"]}}, {"OTEL_PROPAGATORS": "none"}, id="propagators-none"),
]


@pytest.mark.parametrize(("spec", "expected"), ENV_VALUES)
def test_env_values(spec: dict[str, Any], expected: dict[str, str | None]) -> None:
    tmpl = template()
    applied, _ = apply(tmpl, plan(make_ms(spec), tmpl))
    env = env_of(applied)
    got = {name: value(env, name) for name in expected}
    assert got == expected


# ---------------------------------------------------------------- OTEL_RESOURCE_ATTRIBUTES

ATTRIBUTES: list[Any] = [
    pytest.param(DEPLOYMENT, {}, {"k8s.deployment.name": "order-service"}, id="deployment"),
    pytest.param(Workload("StatefulSet", "db"), {}, {"k8s.statefulset.name": "db"}, id="statefulset"),
    pytest.param(Workload("DaemonSet", "agent"), {}, {"k8s.daemonset.name": "agent"}, id="daemonset"),
    pytest.param(Workload("ReplicaSet", "rs-1"), {}, {"k8s.replicaset.name": "rs-1"}, id="replicaset"),
    pytest.param(Workload("Job", "migrate"), {}, {"k8s.job.name": "migrate"}, id="job"),
    pytest.param(Workload("CronJob", "nightly"), {}, {"k8s.cronjob.name": "nightly"}, id="cronjob"),
    pytest.param(None, {}, {"k8s.deployment.name": None, "k8s.job.name": None}, id="no-workload"),
    pytest.param(
        DEPLOYMENT,
        {"app.kubernetes.io/version": "1.4.2"},
        {"service.version": "1.4.2"},
        id="version-label",
    ),
    pytest.param(DEPLOYMENT, {}, {"service.version": None}, id="no-version"),
    pytest.param(
        DEPLOYMENT,
        {},
        {
            "service.namespace": NS,
            "k8s.node.name": kubelet.DOWNWARD_VALUES["spec.nodeName"],
            "k8s.pod.uid": kubelet.DOWNWARD_VALUES["metadata.uid"],
            "service.instance.id": f"{NS}.{kubelet.DOWNWARD_VALUES['metadata.name']}.app",
        },
        id="pod-facts",
    ),
]


@pytest.mark.parametrize(("workload", "labels", "expected"), ATTRIBUTES)
def test_resource_attributes(
    workload: Workload | None, labels: dict[str, str], expected: dict[str, str | None]
) -> None:
    tmpl = template(labels={"app.kubernetes.io/name": "order-service", **labels})
    applied, _ = apply(tmpl, plan(make_ms(), tmpl, workload))
    decoded = attributes.decoded(resolved(applied).values["OTEL_RESOURCE_ATTRIBUTES"])
    assert {key: decoded.get(key) for key in expected} == expected
    assert "service.name" not in decoded  # OTEL_SERVICE_NAME is the one source


ENCODING: list[Any] = [
    pytest.param("prod", "prod", id="plain"),
    pytest.param("a,b", "a%2Cb", id="comma"),
    pytest.param("k=v", "k%3Dv", id="equals"),
    pytest.param("two words", "two%20words", id="space"),
    pytest.param("$(HOME)", "%24%28HOME%29", id="dollar-paren"),
    pytest.param("$$(HOME)", "%24%24%28HOME%29", id="escaped-dollar"),
    pytest.param("100%", "100%25", id="percent"),
    pytest.param("zürich-東京", "z%C3%BCrich-%E6%9D%B1%E4%BA%AC", id="unicode"),
    pytest.param("a/b;c", "a%2Fb%3Bc", id="slash-semicolon"),
    pytest.param("v1.2_x~y-z", "v1.2_x~y-z", id="unreserved"),
]


@pytest.mark.parametrize(("raw", "encoded"), ENCODING)
def test_attribute_values_are_percent_encoded(raw: str, encoded: str) -> None:
    tmpl = template()
    applied, _ = apply(tmpl, plan(make_ms({"resourceAttributes": {"owner": raw}}), tmpl))
    text = value(env_of(applied), "OTEL_RESOURCE_ATTRIBUTES") or ""
    assert text.endswith(f",owner={encoded}")
    result = resolved(applied)
    assert result.unresolved == []
    assert attributes.decoded(result.values["OTEL_RESOURCE_ATTRIBUTES"])["owner"] == raw
    assert unquote(encoded) == raw


def test_spec_attributes_come_last_and_may_override_ours() -> None:
    tmpl = template()
    spec = {"resourceAttributes": {"deployment.environment": "prod", "service.namespace": "retail"}}
    applied, _ = apply(tmpl, plan(make_ms(spec), tmpl))
    pairs = attributes.parse(value(env_of(applied), "OTEL_RESOURCE_ATTRIBUTES") or "")
    assert pairs[-1] == ("deployment.environment", "prod")
    assert dict(pairs)["service.namespace"] == "retail"
    assert [k for k, _ in pairs].count("service.namespace") == 1


MERGES: list[Any] = [
    pytest.param(
        "team=payments,deployment.environment=staging",
        False,
        {"team": "payments", "deployment.environment": "staging", "k8s.container.name": "app"},
        ["deployment.environment"],
        id="theirs-win",
    ),
    pytest.param(
        "team=payments,deployment.environment=staging",
        True,
        {"team": "payments", "deployment.environment": "prod"},
        ["deployment.environment"],
        id="ours-with-override",
    ),
    pytest.param(
        "deployment.environment=prod",
        False,
        {"deployment.environment": "prod", "service.namespace": NS},
        [],
        id="same-value-no-conflict",
    ),
    pytest.param(" team = a , ,x=y", False, {"team": "a", "x": "y", "k8s.pod.name": None}, [], id="sloppy-list"),
]


@pytest.mark.parametrize(("theirs", "override", "expected", "clashes"), MERGES)
def test_user_resource_attributes_merged_key_by_key(
    theirs: str, override: bool, expected: dict[str, str | None], clashes: list[str]
) -> None:
    tmpl = template(container(env=[lit("OTEL_RESOURCE_ATTRIBUTES", theirs)]))
    spec = {"resourceAttributes": {"deployment.environment": "prod"}, "injection": {"overrideExisting": override}}
    applied, delta = apply(tmpl, plan(make_ms(spec), tmpl))
    env = env_of(applied)
    assert names(env).count("OTEL_RESOURCE_ATTRIBUTES") == 1
    decoded = attributes.decoded(kubelet.resolve(env).values["OTEL_RESOURCE_ATTRIBUTES"])
    expected = {
        k: (kubelet.DOWNWARD_VALUES["metadata.name"] if k == "k8s.pod.name" else v) for k, v in expected.items()
    }
    assert {k: decoded.get(k) for k in expected} == expected
    got = [c.name for c in delta.conflicts]
    assert got == [f"OTEL_RESOURCE_ATTRIBUTES[{key}]" for key in clashes]
    assert all(c.overridden is override for c in delta.conflicts)


def test_user_resource_attributes_move_behind_a_later_downward_var() -> None:
    pod_name = {"name": "OTEL_K8S_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    tmpl = template(container(env=[lit("OTEL_RESOURCE_ATTRIBUTES", "team=payments"), lit("A", "1"), pod_name]))
    p = plan(make_ms(), tmpl)
    applied, _ = apply(tmpl, p)
    order = names(env_of(applied))
    assert order[:5] == ["OTEL_K8S_NAMESPACE_NAME", "OTEL_K8S_NODE_NAME", "OTEL_K8S_POD_UID", "A", "OTEL_K8S_POD_NAME"]
    assert order[5:7] == ["OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES"]
    assert attributes.decoded(resolved(applied).values["OTEL_RESOURCE_ATTRIBUTES"])["team"] == "payments"
    ops, _ = json_patch(tmpl, p)
    assert {"op": "remove", "path": "/spec/containers/0/env/3"} in ops
    assert json_patch(applied, p)[0] == []


def test_user_resource_attributes_from_a_configmap_are_kept_and_reported() -> None:
    source = {"configMapKeyRef": {"name": "otel", "key": "attributes"}}
    tmpl = template(container(env=[{"name": "OTEL_RESOURCE_ATTRIBUTES", "valueFrom": source}]))
    applied, delta = apply(tmpl, plan(make_ms(), tmpl))
    assert env_of(applied)[names(env_of(applied)).index("OTEL_RESOURCE_ATTRIBUTES")]["valueFrom"] == source
    assert [(c.name, c.theirs, c.overridden) for c in delta.conflicts] == [
        ("OTEL_RESOURCE_ATTRIBUTES", "<from configMapKeyRef>", False)
    ]


# ---------------------------------------------------------------- conflicts and overrideExisting

CONFLICTS: list[Any] = [
    pytest.param(
        [lit("OTEL_SERVICE_NAME", "orders-legacy")],
        False,
        [("OTEL_SERVICE_NAME", "orders-legacy")],
        [("OTEL_SERVICE_NAME", "orders-legacy", "order-service", False)],
        id="literal-kept",
    ),
    pytest.param(
        [lit("OTEL_SERVICE_NAME", "orders-legacy")],
        True,
        [("OTEL_SERVICE_NAME", "order-service")],
        [("OTEL_SERVICE_NAME", "orders-legacy", "order-service", True)],
        id="literal-overridden",
    ),
    pytest.param(
        [lit("OTEL_SERVICE_NAME", "order-service")],
        False,
        [("OTEL_SERVICE_NAME", "order-service")],
        [],
        id="literal-equal",
    ),
    pytest.param(
        [{"name": "OTEL_SERVICE_NAME", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}],
        False,
        [("OTEL_SERVICE_NAME", None)],
        [("OTEL_SERVICE_NAME", "<from configMapKeyRef>", "order-service", False)],
        id="valuefrom-kept",
    ),
    pytest.param(
        [{"name": "OTEL_SERVICE_NAME", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}],
        True,
        [("OTEL_SERVICE_NAME", "order-service")],
        [("OTEL_SERVICE_NAME", "<from configMapKeyRef>", "order-service", True)],
        id="valuefrom-overridden",
    ),
    pytest.param(
        [lit("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"), lit("OTEL_PROPAGATORS", "b3")],
        False,
        [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318"), ("OTEL_PROPAGATORS", "b3")],
        [
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://localhost:4318",
                "http://otel-collector.observability.svc:4318",
                False,
            ),
            ("OTEL_PROPAGATORS", "b3", "tracecontext,baggage", False),
        ],
        id="two-kept",
    ),
    pytest.param(
        [lit("OTEL_K8S_POD_NAME", "fixed")],
        True,
        [("OTEL_K8S_POD_NAME", None)],
        [("OTEL_K8S_POD_NAME", "fixed", "<from fieldRef>", True)],
        id="downward-overridden",
    ),
]


@pytest.mark.parametrize(("env", "override", "after", "conflicts"), CONFLICTS)
def test_existing_env_wins_unless_override(
    env: list[dict[str, Any]],
    override: bool,
    after: list[tuple[str, str | None]],
    conflicts: list[tuple[str, str, str, bool]],
) -> None:
    tmpl = template(container(env=env))
    applied, delta = apply(tmpl, plan(make_ms({"injection": {"overrideExisting": override}}), tmpl))
    result = env_of(applied)
    assert [(name, value(result, name)) for name, _ in after] == after
    assert [(c.name, c.theirs, c.ours, c.overridden) for c in delta.conflicts] == conflicts
    for name, _ in after:
        assert names(result).count(name) == 1


def test_override_replaces_in_place() -> None:
    tmpl = template(container(env=[lit("A", "1"), lit("OTEL_PROPAGATORS", "b3"), lit("B", "2")]))
    applied, _ = apply(tmpl, plan(make_ms({"injection": {"overrideExisting": True}}), tmpl))
    env = names(env_of(applied))
    assert env[4:7] == ["A", "OTEL_PROPAGATORS", "B"]
    assert value(env_of(applied), "OTEL_PROPAGATORS") == "tracecontext,baggage"


def test_conflict_text_says_what_won() -> None:
    tmpl = template(container(env=[lit("OTEL_SERVICE_NAME", "x")]))
    _, delta = apply(tmpl, plan(make_ms(), tmpl))
    assert str(delta.conflicts[0]) == "container app: OTEL_SERVICE_NAME='x' kept instead of 'order-service'"


# ---------------------------------------------------------------- containers


def planned(tmpl: dict[str, Any], spec: dict[str, Any] | None = None) -> list[tuple[str, bool]]:
    return [(c.container, c.init) for c in plan(make_ms(spec), tmpl).containers]


CONTAINERS: list[Any] = [
    pytest.param(template(container("app")), {}, [("app", False)], id="one"),
    pytest.param(
        template(container("app"), container("worker"), container("istio-proxy")),
        {},
        [("app", False), ("worker", False)],
        id="multi-without-sidecar",
    ),
    pytest.param(
        template(container("app"), init=(container("migrate"),)), {}, [("app", False)], id="init-skipped-by-default"
    ),
    pytest.param(
        template(container("app"), init=(container("migrate"),)),
        {"injection": {"containers": ["migrate"]}},
        [("migrate", True)],
        id="init-when-named",
    ),
    pytest.param(
        template(container("app"), container("worker")),
        {"injection": {"containers": ["worker"]}},
        [("worker", False)],
        id="only-named",
    ),
    pytest.param(
        template(container("worker"), container("app")),
        {"injection": {"containers": ["app", "worker"]}},
        [("app", False), ("worker", False)],
        id="named-order",
    ),
    pytest.param(template(container("istio-proxy")), {}, [], id="only-sidecars"),
    pytest.param({"spec": {}}, {}, [], id="no-containers"),
]


@pytest.mark.parametrize(("tmpl", "spec", "expected"), CONTAINERS)
def test_which_containers(tmpl: dict[str, Any], spec: dict[str, Any], expected: list[tuple[str, bool]]) -> None:
    assert planned(tmpl, spec) == expected


@pytest.mark.parametrize("sidecar", sorted(KNOWN_SIDECARS))
def test_known_sidecars_are_never_chosen_by_default(sidecar: str) -> None:
    tmpl = template(container("app"), container(sidecar))
    assert planned(tmpl) == [("app", False)]
    applied, _ = apply(tmpl, plan(make_ms(), tmpl))
    assert env_of(applied, sidecar) == []


def test_multi_container_each_gets_its_own_container_name() -> None:
    tmpl = template(container("app"), container("worker"))
    applied, _ = apply(tmpl, plan(make_ms(), tmpl))
    for name in ("app", "worker"):
        decoded = attributes.decoded(resolved(applied, name).values["OTEL_RESOURCE_ATTRIBUTES"])
        assert decoded["k8s.container.name"] == name
        assert decoded["service.instance.id"].endswith(f".{name}")


def test_init_container_env_applied_and_patched() -> None:
    tmpl = template(container("app"), init=(container("setup"), container("migrate", env=[lit("A", "1")])))
    p = plan(make_ms({"injection": {"containers": ["migrate"]}}), tmpl)
    applied, _ = apply(tmpl, p)
    assert names(env_of(applied, "migrate", init=True))[4] == "A"
    assert env_of(applied, "setup", init=True) == []
    assert env_of(applied, "app") == []
    ops, _ = json_patch(tmpl, p)
    assert all(op["path"].startswith(("/metadata", "/spec/initContainers/1/env")) for op in ops)


@pytest.mark.parametrize(
    ("tmpl", "spec", "note"),
    [
        pytest.param(
            template(container("app")),
            {"injection": {"containers": ["app", "sidecar"]}},
            "container 'sidecar' named in spec.injection.containers is not in the pod",
            id="named-missing",
        ),
        pytest.param(
            template(container("istio-proxy")),
            {},
            "no container to instrument (only known sidecars, or none named)",
            id="nothing-to-instrument",
        ),
    ],
)
def test_notes(tmpl: dict[str, Any], spec: dict[str, Any], note: str) -> None:
    p = plan(make_ms(spec), tmpl)
    assert note in p.notes
    applied, _ = apply(tmpl, p)  # still labels and annotates: the pod is selected
    assert applied["metadata"]["annotations"][INJECTED_ANNOTATION] == p.digest


# ---------------------------------------------------------------- pod metadata: Istio and Prometheus

ISTIO: list[Any] = [
    pytest.param("auto", template(container(), container("istio-proxy")), True, id="auto-sidecar-container"),
    pytest.param(
        "auto", template(container(), annotations={"sidecar.istio.io/status": "{}"}), True, id="auto-status-annotation"
    ),
    pytest.param(
        "auto",
        template(container(), labels={"sidecar.istio.io/inject": "true"}),
        True,
        id="auto-inject-label",
    ),
    pytest.param("auto", template(container()), False, id="auto-no-sidecar"),
    pytest.param(
        "auto", template(container(), labels={"sidecar.istio.io/inject": "false"}), False, id="auto-inject-false"
    ),
    pytest.param("enabled", template(container()), True, id="enabled-no-sidecar"),
    pytest.param("disabled", template(container(), container("istio-proxy")), False, id="disabled-with-sidecar"),
]


@pytest.mark.parametrize(("mode", "tmpl", "wired"), ISTIO)
def test_istio_modes(mode: str, tmpl: dict[str, Any], wired: bool) -> None:
    applied, _ = apply(tmpl, plan(make_ms({"istio": {"mode": mode}}), tmpl))
    labels = applied["metadata"]["labels"]
    annotations = applied["metadata"]["annotations"]
    assert (labels.get(ISTIO_CANONICAL_NAME) == "order-service") is wired
    assert (ISTIO_PROXY_CONFIG in annotations) is wired
    if wired:
        assert yaml.safe_load(annotations[ISTIO_PROXY_CONFIG]) == {"tracingServiceName": "CANONICAL_NAME_ONLY"}
    if any(c["name"] == "istio-proxy" for c in tmpl["spec"]["containers"]):
        assert env_of(applied, "istio-proxy") == []  # never injected into the mesh's own proxy


def test_istio_canonical_revision_from_version_label() -> None:
    tmpl = template(container(), labels={"app.kubernetes.io/name": "x", "app.kubernetes.io/version": "1.4.2"})
    applied, _ = apply(tmpl, plan(make_ms({"istio": {"mode": "enabled"}}), tmpl))
    assert applied["metadata"]["labels"][ISTIO_CANONICAL_REVISION] == "1.4.2"


VERSIONS: list[Any] = [
    pytest.param({"app.kubernetes.io/version": "1.4.2"}, "1.4.2", None, id="recommended-label"),
    pytest.param({"version": "v2"}, "v2", None, id="istio-version-label"),
    pytest.param({"app.kubernetes.io/version": "1.4.2", "version": "1.4.2"}, "1.4.2", None, id="both-agree"),
    pytest.param(
        {"app.kubernetes.io/version": "1.4.2", "version": "v2"},
        "1.4.2",
        "labels app.kubernetes.io/version='1.4.2' and version='v2' disagree",
        id="both-disagree-recommended-wins",
    ),
    pytest.param({}, None, None, id="none"),
]


@pytest.mark.parametrize(("labels", "version", "note"), VERSIONS)
def test_version_is_read_as_istio_reads_it(labels: dict[str, str], version: str | None, note: str | None) -> None:
    """service.version and Istio's canonical-revision come from the same label, in Istio's order."""
    tmpl = template(container(), container("istio-proxy"), labels={"app.kubernetes.io/name": "x", **labels})
    p = plan(make_ms(), tmpl)
    applied, _ = apply(tmpl, p)
    attrs = attributes.decoded(env_values(applied)["OTEL_RESOURCE_ATTRIBUTES"])
    assert attrs.get("service.version") == version
    assert applied["metadata"]["labels"][ISTIO_CANONICAL_REVISION] == (version or "latest")
    disagreeing = [n for n in p.notes if "disagree" in n]
    assert len(disagreeing) == (0 if note is None else 1)
    assert note is None or note in disagreeing[0]


CANONICAL_LABELS: list[Any] = [
    # What Istio's injector writes when it runs first: canonical-name from `app`, revision from `version`.
    pytest.param({"app": "payments-app", ISTIO_CANONICAL_NAME: "payments-app"}, False, id="istio-first"),
    pytest.param({ISTIO_CANONICAL_NAME: "payments-app"}, True, id="istio-first-override-on"),
    pytest.param({ISTIO_CANONICAL_NAME: "order-service"}, False, id="already-ours"),
]


@pytest.mark.parametrize(("labels", "override"), CANONICAL_LABELS)
def test_istio_canonical_labels_are_otelwires_whenever_istio_applies(labels: dict[str, str], override: bool) -> None:
    tmpl = template(
        container(),
        container("istio-proxy"),
        labels={"app.kubernetes.io/name": "order-service", "version": "v3", ISTIO_CANONICAL_REVISION: "v1", **labels},
    )
    applied, delta = apply(tmpl, plan(make_ms({"injection": {"overrideExisting": override}}), tmpl))
    assert applied["metadata"]["labels"][ISTIO_CANONICAL_NAME] == "order-service"
    assert applied["metadata"]["labels"][ISTIO_CANONICAL_REVISION] == "v3"
    assert not [c for c in delta.conflicts if c.name.startswith("service.istio.io/")]


def test_istio_canonical_labels_of_a_pod_without_istio_are_the_users() -> None:
    tmpl = template(container(), labels={"app.kubernetes.io/name": "order-service", ISTIO_CANONICAL_NAME: "x"})
    applied, delta = apply(tmpl, plan(make_ms(), tmpl))
    assert applied["metadata"]["labels"][ISTIO_CANONICAL_NAME] == "x"
    assert delta.conflicts == ()


NAMESPACE_INJECTION: list[Any] = [
    pytest.param({"istio-injection": "enabled"}, {}, True, id="istio-injection-enabled"),
    pytest.param({"istio.io/rev": "canary"}, {}, True, id="revision"),
    pytest.param({"istio-injection": "disabled", "istio.io/rev": "canary"}, {}, False, id="disabled-wins"),
    pytest.param({"istio-injection": "enabled"}, {"sidecar.istio.io/inject": "false"}, False, id="pod-opts-out"),
    pytest.param({}, {}, False, id="plain-namespace"),
    pytest.param(None, {}, False, id="namespace-unknown"),
]


@pytest.mark.parametrize(("namespace_labels", "pod_labels", "istio"), NAMESPACE_INJECTION)
def test_namespace_level_injection_is_istio(
    namespace_labels: dict[str, str] | None, pod_labels: dict[str, str], istio: bool
) -> None:
    tmpl = template(container(), labels={"app.kubernetes.io/name": "order-service", **pod_labels})
    p = plan_for(make_ms(), tmpl, DEPLOYMENT, NS, namespace_labels=namespace_labels)
    assert p.istio is istio


def test_digest_is_the_same_before_and_after_istio_injects() -> None:
    """Patch mode plans a template Istio injects later; otelwire's webhook may run before Istio's."""
    ms = make_ms()
    tmpl = template(labels={"app.kubernetes.io/name": "order-service", "app": "shop"})
    template_plan = plan(ms, tmpl, DEPLOYMENT)
    assert not template_plan.istio
    injected, _ = apply(tmpl, template_plan)
    by_istio = pod_from(injected)
    by_istio["spec"]["containers"].append(container("istio-proxy"))
    by_istio["metadata"]["annotations"]["sidecar.istio.io/status"] = "{}"
    pod_plan = plan_for(ms, by_istio, owner_of_pod(by_istio), NS)
    assert pod_plan.istio and pod_plan.digest == template_plan.digest


def merged_pod(merge: dict[str, str] | None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """A pod after Istio's injector with metrics merge: scrape annotations at the sidecar, the app's in env."""
    env = [{"name": "ISTIO_META_WORKLOAD_NAME", "value": "order-service"}]
    if merge is not None:
        env.append({"name": "ISTIO_PROMETHEUS_ANNOTATIONS", "value": json.dumps(merge, separators=(",", ":"))})
    return template(
        container(),
        container("istio-proxy", env=env),
        annotations={
            "sidecar.istio.io/status": "{}",
            "prometheus.io/scrape": "true",
            "prometheus.io/port": "15020",
            "prometheus.io/path": "/stats/prometheus",
            **(annotations or {}),
        },
    )


METRICS_MERGE: list[Any] = [
    pytest.param(
        {"scrape": "", "path": "", "port": ""},
        False,
        '{"scrape":"true","path":"/metrics","port":"9464"}',
        [],
        id="empty-merge-filled",
    ),
    pytest.param(
        {"scrape": "true", "path": "/metrics", "port": "9464"},
        False,
        None,
        [],
        id="otelwire-first-already-ours",
    ),
    pytest.param(
        {"scrape": "true", "path": "/custom", "port": "8080"},
        False,
        None,
        ["ISTIO_PROMETHEUS_ANNOTATIONS[path]", "ISTIO_PROMETHEUS_ANNOTATIONS[port]"],
        id="users-kept",
    ),
    pytest.param(
        {"scrape": "true", "path": "/custom", "port": "8080"},
        True,
        '{"scrape":"true","path":"/metrics","port":"9464"}',
        ["ISTIO_PROMETHEUS_ANNOTATIONS[path]", "ISTIO_PROMETHEUS_ANNOTATIONS[port]"],
        id="users-overridden",
    ),
]


@pytest.mark.parametrize(("merge", "override", "value", "conflicts"), METRICS_MERGE)
def test_istio_metrics_merge_points_at_the_apps_port(
    merge: dict[str, str], override: bool, value: str | None, conflicts: list[str]
) -> None:
    pod = merged_pod(merge)
    p = plan(make_ms({"injection": {"overrideExisting": override}}), pod)
    applied, delta = apply(pod, p)
    # The scrape annotations stay the merge's: the sidecar serves the app's metrics with its own.
    assert {k: v for k, v in applied["metadata"]["annotations"].items() if k.startswith("prometheus.io/")} == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "15020",
        "prometheus.io/path": "/stats/prometheus",
    }
    proxy_env = env_values(applied, "istio-proxy")
    assert proxy_env["ISTIO_PROMETHEUS_ANNOTATIONS"] == (value or json.dumps(merge, separators=(",", ":")))
    assert set(proxy_env) == {"ISTIO_META_WORKLOAD_NAME", "ISTIO_PROMETHEUS_ANNOTATIONS"}  # nothing else of ours
    assert [c.name for c in delta.conflicts] == conflicts
    ops, _ = json_patch(pod, p)
    assert apply_patch(pod, ops) == applied
    assert changes(applied, p).merge is None  # applying twice changes nothing


OURS_MERGED = '{"scrape":"true","path":"/metrics","port":"9464"}'


def injected_without_scrape_settings(native: bool = False, proxy_env: bool = True) -> dict[str, Any]:
    """A pod Istio's injector merged without scrape annotations: pointed at pilot-agent, no variable.

    What the real injector writes (``applyPrometheusMerge`` adds ``ISTIO_PROMETHEUS_ANNOTATIONS``
    only when the pod had scrape settings; seen with ``istioctl kube-inject`` in tests/partners).
    """
    pod = merged_pod(None)
    proxy = pod["spec"]["containers"].pop()
    if not proxy_env:
        del proxy["env"]
    if native:
        pod["spec"]["initContainers"] = [container("istio-init"), {**proxy, "restartPolicy": "Always"}]
    else:
        pod["spec"]["containers"].append(proxy)
        pod["spec"]["initContainers"] = [container("istio-init")]
    return pod


MERGE_WITHOUT_VARIABLE: list[Any] = [
    pytest.param(False, True, {"op": "add", "path": "/spec/containers/1/env/-"}, id="classic"),
    pytest.param(False, False, {"op": "add", "path": "/spec/containers/1/env"}, id="istio-proxy-without-env"),
    pytest.param(True, True, {"op": "add", "path": "/spec/initContainers/1/env/-"}, id="native-sidecar"),
]


@pytest.mark.parametrize(("native", "proxy_env", "op"), MERGE_WITHOUT_VARIABLE)
def test_istio_first_without_scrape_settings_the_merge_gets_the_apps(
    native: bool, proxy_env: bool, op: dict[str, Any]
) -> None:
    """Istio ran first on a pod without scrape annotations: the app's settings go where pilot-agent reads them."""
    pod = pod_from(injected_without_scrape_settings(native, proxy_env))
    p = plan_for(make_ms(), pod, owner_of_pod(pod), NS)
    applied, delta = apply(pod, p)
    assert {k: v for k, v in applied["metadata"]["annotations"].items() if k.startswith("prometheus.io/")} == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "15020",
        "prometheus.io/path": "/stats/prometheus",
    }
    proxy = next(c for c in containers_of(applied) if c["name"] == "istio-proxy")
    assert proxy["env"][-1] == {"name": "ISTIO_PROMETHEUS_ANNOTATIONS", "value": OURS_MERGED}
    assert [e["name"] for e in proxy["env"]] == [
        *(["ISTIO_META_WORKLOAD_NAME"] if proxy_env else []),
        *["ISTIO_PROMETHEUS_ANNOTATIONS"],
    ]
    assert delta.conflicts == ()
    ops, _ = json_patch(pod, p)
    entry = {"name": "ISTIO_PROMETHEUS_ANNOTATIONS", "value": OURS_MERGED}
    assert ops[-1] == {**op, "value": entry if op["path"].endswith("/-") else [entry]}
    assert apply_patch(pod, ops) == applied
    assert changes(applied, p).empty  # applying twice changes nothing


NOT_ISTIOS_MERGE: list[Any] = [
    pytest.param(False, {}, id="no-istio-proxy"),
    pytest.param(True, {"prometheus.io/port": "15090"}, id="envoys-own-port"),
    pytest.param(True, {"prometheus.io/port": "8080", "prometheus.io/path": "/custom"}, id="users-own"),
]


@pytest.mark.parametrize(("sidecar", "annotations"), NOT_ISTIOS_MERGE)
def test_scrape_annotations_not_istios_merge_are_compared_as_they_are(
    sidecar: bool, annotations: dict[str, str]
) -> None:
    pod = merged_pod(None, annotations)
    if not sidecar:
        pod["spec"]["containers"].pop()
    before = {k: v for k, v in pod["metadata"]["annotations"].items() if k.startswith("prometheus.io/")}
    applied, delta = apply(pod, plan(make_ms(), pod))
    assert delta.merge is None
    assert {k: v for k, v in applied["metadata"]["annotations"].items() if k.startswith("prometheus.io/")} == before
    assert [c.name for c in delta.conflicts] == ["prometheus.io/port", "prometheus.io/path"]


def containers_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj["spec"]
    return [*(spec.get("initContainers") or []), *spec["containers"]]


def test_webhook_answers_follow_istios_merge() -> None:
    """The webhook's cached answers read the merge as the planner does: with and without the variable."""
    ms = make_ms()
    reviewer = Reviewer(lambda ns: [ms] if ns == NS else [])
    shapes = [
        merged_pod({"scrape": "true", "path": "/metrics", "port": "9464"}),
        injected_without_scrape_settings(),
        injected_without_scrape_settings(proxy_env=False),
        injected_without_scrape_settings(native=True),
        merged_pod({"scrape": "true", "path": "/custom", "port": "8080"}),
        merged_pod(None, {"prometheus.io/port": "15090"}),
    ]
    for _ in range(2):  # the second round is answered from the cache
        for shape in shapes:
            pod = pod_from(shape)
            review = {"request": {"uid": "u", "namespace": NS, "operation": "CREATE", "object": pod}}
            response = reviewer.review(review)["response"]
            ops = json.loads(base64.b64decode(response["patch"])) if response.get("patch") else []
            assert ops == json_patch(pod, plan_for(ms, pod, owner_of_pod(pod), NS))[0]
    assert reviewer.cache.hits


def test_with_podmonitors_no_scrape_annotations_and_no_merge() -> None:
    """One scrape path per pod: the PodMonitor, never the annotations as well."""
    tmpl = template()
    p = plan_for(make_ms(), tmpl, DEPLOYMENT, NS, podmonitors=True)
    applied, _ = apply(tmpl, p)
    assert not [k for k in applied["metadata"]["annotations"] if k.startswith("prometheus.io/")]
    assert p.digest != plan_for(make_ms(), tmpl, DEPLOYMENT, NS).digest
    pod = merged_pod({"scrape": "", "path": "", "port": ""})
    merged, delta = apply(pod, plan_for(make_ms(), pod, None, NS, podmonitors=True))
    assert delta.merge is None
    assert env_values(merged, "istio-proxy")["ISTIO_PROMETHEUS_ANNOTATIONS"] == '{"scrape":"","path":"","port":""}'


PROXY_CONFIGS: list[Any] = [
    pytest.param(
        "holdApplicationUntilProxyStarts: true",
        False,
        {"holdApplicationUntilProxyStarts": True, "tracingServiceName": "CANONICAL_NAME_ONLY"},
        [],
        id="merged",
    ),
    pytest.param(
        '{"concurrency": 2}',
        False,
        {"concurrency": 2, "tracingServiceName": "CANONICAL_NAME_ONLY"},
        [],
        id="json-merged",
    ),
    pytest.param(
        "tracingServiceName: APP_LABEL_AND_NAMESPACE",
        False,
        {"tracingServiceName": "APP_LABEL_AND_NAMESPACE"},
        ["proxy.istio.io/config[tracingServiceName]"],
        id="theirs-kept",
    ),
    pytest.param(
        "tracingServiceName: APP_LABEL_AND_NAMESPACE\nconcurrency: 1",
        True,
        {"tracingServiceName": "CANONICAL_NAME_ONLY", "concurrency": 1},
        ["proxy.istio.io/config[tracingServiceName]"],
        id="override",
    ),
    pytest.param("{not: valid", False, None, ["proxy.istio.io/config"], id="invalid-yaml"),
    pytest.param("- a list", False, None, ["proxy.istio.io/config"], id="not-a-mapping"),
    pytest.param(
        "tracingServiceName: CANONICAL_NAME_ONLY",
        False,
        {"tracingServiceName": "CANONICAL_NAME_ONLY"},
        [],
        id="already",
    ),
]


@pytest.mark.parametrize(("existing", "override", "expected", "conflicts"), PROXY_CONFIGS)
def test_proxy_config_merged_never_replaced(
    existing: str, override: bool, expected: dict[str, Any] | None, conflicts: list[str]
) -> None:
    tmpl = template(container(), container("istio-proxy"), annotations={ISTIO_PROXY_CONFIG: existing})
    spec = {"injection": {"overrideExisting": override}}
    applied, delta = apply(tmpl, plan(make_ms(spec), tmpl))
    text = applied["metadata"]["annotations"][ISTIO_PROXY_CONFIG]
    if expected is None:
        assert text == existing  # unreadable: left exactly as it was
    else:
        assert yaml.safe_load(text) == expected
    assert [c.name for c in delta.conflicts] == conflicts


PROMETHEUS: list[Any] = [
    pytest.param(
        {},
        {"prometheus.io/scrape": "true", "prometheus.io/port": "9464", "prometheus.io/path": "/metrics"},
        id="prometheus",
    ),
    pytest.param(
        {"metrics": {"prometheus": {"port": 8081, "path": "/stats"}}},
        {"prometheus.io/scrape": "true", "prometheus.io/port": "8081", "prometheus.io/path": "/stats"},
        id="prometheus-custom",
    ),
    pytest.param(
        {"metrics": {"exporter": "otlp"}},
        {"prometheus.io/scrape": None, "prometheus.io/port": None, "prometheus.io/path": None},
        id="otlp",
    ),
    pytest.param(
        {"metrics": {"exporter": "none"}},
        {"prometheus.io/scrape": None, "prometheus.io/port": None, "prometheus.io/path": None},
        id="none",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), PROMETHEUS)
def test_prometheus_annotations_per_metrics_exporter(spec: dict[str, Any], expected: dict[str, str | None]) -> None:
    tmpl = template()
    applied, _ = apply(tmpl, plan(make_ms(spec), tmpl))
    annotations = applied["metadata"]["annotations"]
    assert {k: annotations.get(k) for k in expected} == expected


OTEL_METRICS_PORT = {"name": "otel-metrics", "containerPort": 9464, "protocol": "TCP"}

METRICS_PORTS: list[Any] = [
    # (template, spec, the ports of each container afterwards, conflicts)
    pytest.param(template(container()), {}, {"app": [OTEL_METRICS_PORT]}, [], id="declared"),
    pytest.param(
        template(container(ports=[port("http", 8080)])),
        {},
        {"app": [port("http", 8080), OTEL_METRICS_PORT]},
        [],
        id="after-the-users",
    ),
    pytest.param(
        template(container()),
        {"metrics": {"prometheus": {"port": 9091}}},
        {"app": [{**OTEL_METRICS_PORT, "containerPort": 9091}]},
        [],
        id="custom-port",
    ),
    pytest.param(template(container()), {"metrics": {"exporter": "otlp"}}, {"app": None}, [], id="otlp"),
    pytest.param(template(container()), {"metrics": {"exporter": "none"}}, {"app": None}, [], id="none"),
    pytest.param(
        template(container(ports=[port("metrics", 9464)])),
        {},
        {"app": [port("metrics", 9464)]},
        [],
        id="users-declaration-serves",
    ),
    pytest.param(
        template(container(ports=[port(None, 9464)])), {}, {"app": [port(None, 9464)]}, [], id="unnamed-serves"
    ),
    pytest.param(
        template(container(ports=[port("metrics", 9464, "UDP")])),
        {},
        {"app": [port("metrics", 9464, "UDP")]},
        [],
        id="any-protocol-serves",  # pod discovery keeps it by number: a TCP twin would be a second target
    ),
    pytest.param(
        template(container("app"), container("worker", ports=[port("metrics", 9464)])),
        {},
        {"app": None, "worker": [port("metrics", 9464)]},
        [],
        id="another-containers-serves",
    ),
    pytest.param(
        template(container("app"), init=(container("agent", ports=[port("metrics", 9464)], restartPolicy="Always"),)),
        {},
        {"app": None},
        [],
        id="a-native-sidecars-serves",
    ),
    pytest.param(
        template(container(ports=[port("otel-metrics", 8080)])),
        {},
        {"app": [port("otel-metrics", 8080)]},
        ["container app: ports[otel-metrics]='8080' kept instead of '9464'"],
        id="name-taken",
    ),
    pytest.param(
        template(container("app"), container("worker", ports=[port("otel-metrics", 8080)])),
        {"injection": {"overrideExisting": True}},
        {"app": None, "worker": [port("otel-metrics", 8080)]},
        ["container worker: ports[otel-metrics]='8080' kept instead of '9464'"],
        id="name-taken-elsewhere-even-with-override",
    ),
    pytest.param(
        template(container("app"), container("worker")),
        {},
        {"app": [OTEL_METRICS_PORT], "worker": None},
        [],
        id="first-container-only",
    ),
    pytest.param(
        template(container("app"), container("worker")),
        {"injection": {"containers": ["worker", "app"]}},
        {"app": [OTEL_METRICS_PORT], "worker": None},
        [],
        id="first-in-the-pods-order",
    ),
    pytest.param(
        template(container("app"), container("worker")),
        {"injection": {"containers": ["worker"]}},
        {"app": None, "worker": [OTEL_METRICS_PORT]},
        [],
        id="first-instrumented",
    ),
    pytest.param(
        template(container("istio-proxy"), container("app")),
        {},
        {"istio-proxy": None, "app": [OTEL_METRICS_PORT]},
        [],
        id="never-a-sidecar",
    ),
    pytest.param(
        template(container("app"), init=(container("migrate"),)),
        {"injection": {"containers": ["migrate"]}},
        {"app": None},
        [],
        id="never-an-init-container",
    ),
]


@pytest.mark.parametrize(("tmpl", "spec", "ports", "conflicts"), METRICS_PORTS)
def test_the_prometheus_exporters_port_is_declared(
    tmpl: dict[str, Any], spec: dict[str, Any], ports: dict[str, list[dict[str, Any]] | None], conflicts: list[str]
) -> None:
    """Prometheus's pod discovery gives a container without the port no port number: a PodMonitor drops it."""
    p = plan(make_ms(spec), tmpl)
    applied, delta = apply(tmpl, p)
    assert {c["name"]: c.get("ports") for c in containers_of(applied) if c["name"] in ports} == ports
    assert [str(c) for c in delta.conflicts] == conflicts
    assert all(not c.overridden for c in delta.conflicts)
    ops, _ = json_patch(tmpl, p)
    assert apply_patch(tmpl, ops) == applied
    assert changes(applied, p).empty  # applying twice changes nothing
    # The plan does not depend on the ports the template declares: its pods plan alike.
    bare = copy.deepcopy(tmpl)
    for c in containers_of(bare):
        c.pop("ports", None)
    assert plan(make_ms(spec), bare).digest == p.digest == plan(make_ms(spec), applied).digest


PORT_OPS: list[Any] = [
    pytest.param(
        container(), {"op": "add", "path": "/spec/containers/0/ports", "value": [OTEL_METRICS_PORT]}, id="none"
    ),
    pytest.param(
        container(ports=None),
        {"op": "add", "path": "/spec/containers/0/ports", "value": [OTEL_METRICS_PORT]},
        id="null",
    ),
    pytest.param(
        container(ports=[]), {"op": "add", "path": "/spec/containers/0/ports/-", "value": OTEL_METRICS_PORT}, id="empty"
    ),
    pytest.param(
        container(ports=[port("http", 8080)]),
        {"op": "add", "path": "/spec/containers/0/ports/-", "value": OTEL_METRICS_PORT},
        id="appended",
    ),
]


@pytest.mark.parametrize(("app", "op"), PORT_OPS)
def test_the_port_is_one_add_operation(app: dict[str, Any], op: dict[str, Any]) -> None:
    tmpl = template(app)
    ops, _ = json_patch(tmpl, plan(make_ms(), tmpl))
    assert [o for o in ops if "/ports" in o["path"]] == [op]


def test_webhook_answers_follow_the_pods_ports() -> None:
    """The webhook's cached answers read a pod's ports as the planner does."""
    ms = make_ms()
    reviewer = Reviewer(lambda ns: [ms] if ns == NS else [])
    shapes = [
        template(container()),
        template(container(ports=None)),
        template(container(ports=[])),
        template(container(ports=[port("http", 8080)])),
        template(container(ports=[port("http", 8080), port("metrics", 9464)])),
        template(container(ports=[port("otel-metrics", 8080)])),
        template(container(ports=[port("otel-metrics", 9090)])),
        template(container(), container("worker", ports=[port("otel-metrics", 8080)])),
        template(container(), container("worker", ports=[port(None, 9464)])),
        template(container(), init=(container("agent", ports=[port("otel-metrics", 8080)]),)),
        template(container(ports=[port("http", 8080)]), container("worker")),
    ]
    answers = []
    for _ in range(2):  # the second round is answered from the cache
        for shape in shapes:
            pod = pod_from(shape)
            review = {"request": {"uid": "u", "namespace": NS, "operation": "CREATE", "object": pod}}
            response = reviewer.review(review)["response"]
            ops = json.loads(base64.b64decode(response["patch"])) if response.get("patch") else []
            expected, delta = json_patch(pod, plan_for(ms, pod, owner_of_pod(pod), NS))
            assert ops == expected
            assert response.get("warnings", []) == [f"otelwire: {c}" for c in delta.conflicts]
            answers.append(ops)
    assert reviewer.cache.hits
    assert len({json.dumps(a) for a in answers}) > 3  # the shapes are answered differently


def test_pod_labels_and_annotations() -> None:
    tmpl = template()
    p = plan(make_ms(name="orders-msvc", spec={"serviceName": "orders"}), tmpl)
    applied, _ = apply(tmpl, p)
    assert applied["metadata"]["labels"]["otelwire.io/service"] == "orders"
    assert applied["metadata"]["annotations"]["otelwire.io/monitoredservice"] == "orders-msvc"
    assert applied["metadata"]["annotations"]["resource.opentelemetry.io/service.name"] == "orders"
    assert applied["metadata"]["annotations"][INJECTED_ANNOTATION] == p.digest
    assert applied["metadata"]["labels"]["app.kubernetes.io/name"] == "order-service"  # the user's label untouched


OTEL_NAMES: list[Any] = [
    # (the pod's annotation, overrideExisting, the annotation afterwards, conflicts)
    pytest.param(None, False, "orders", [], id="added"),
    pytest.param("orders", False, "orders", [], id="already-the-same"),
    pytest.param(
        "legacy-orders",
        False,
        "legacy-orders",
        ["annotation: resource.opentelemetry.io/service.name='legacy-orders' kept instead of 'orders'"],
        id="users-kept",
    ),
    pytest.param(
        "legacy-orders",
        True,
        "orders",
        ["annotation: resource.opentelemetry.io/service.name='legacy-orders' replaced by 'orders'"],
        id="users-overridden",
    ),
]


@pytest.mark.parametrize(("theirs", "override", "after", "conflicts"), OTEL_NAMES)
def test_the_opentelemetry_service_name_annotation_names_the_service(
    theirs: str | None, override: bool, after: str, conflicts: list[str]
) -> None:
    """Istio's OTEL_SEMANTIC_CONVENTIONS mode, the collector's k8sattributes and the OpenTelemetry Operator read it first."""
    tmpl = template(annotations=None if theirs is None else {OTEL_NAME: theirs})
    ms = make_ms({"serviceName": "orders", "injection": {"overrideExisting": override}})
    p = plan(ms, tmpl)
    applied, delta = apply(tmpl, p)
    assert applied["metadata"]["annotations"][OTEL_NAME] == after
    assert [str(c) for c in delta.conflicts] == conflicts
    ops, _ = json_patch(tmpl, p)
    assert apply_patch(tmpl, ops) == applied
    assert env_values(applied)["OTEL_SERVICE_NAME"] == "orders"  # the same name, once in env, once on the pod


def test_pod_without_labels_gets_them() -> None:
    tmpl: dict[str, Any] = {"spec": {"containers": [container()]}}
    ms = make_ms({"selector": {"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}})
    assert ms.selector.matches({})
    applied, _ = apply(tmpl, plan(ms, tmpl))
    assert applied["metadata"]["labels"] == {"otelwire.io/service": "order-service"}


# ---------------------------------------------------------------- the digest


def test_digest_is_stable() -> None:
    tmpl = template(container(), container("worker"))
    first = plan(make_ms({"resourceAttributes": {"b": "2", "a": "1"}}), tmpl)
    second = plan(make_ms({"resourceAttributes": {"b": "2", "a": "1"}}), copy.deepcopy(tmpl))
    assert first.digest == second.digest
    assert len(first.digest) == 16 and int(first.digest, 16) >= 0


DIGEST_CHANGES: list[Any] = [
    pytest.param({"serviceName": "orders"}, id="service-name"),
    pytest.param({"tracing": {"otlp": {"endpoint": "tempo.tracing:4318"}}}, id="endpoint"),
    pytest.param({"tracing": {"otlp": {"protocol": "http/json"}}}, id="protocol"),
    pytest.param({"tracing": {"propagators": ["tracecontext"]}}, id="propagators"),
    pytest.param({"tracing": {"sampler": {"type": "traceidratio", "ratio": "0.5"}}}, id="sampler"),
    pytest.param({"tracing": {"exporter": "none"}}, id="tracing-exporter"),
    pytest.param({"metrics": {"exporter": "otlp"}}, id="metrics-exporter"),
    pytest.param({"metrics": {"prometheus": {"port": 9999}}}, id="prometheus-port"),
    pytest.param({"resourceAttributes": {"team": "x"}}, id="resource-attributes"),
    pytest.param({"istio": {"mode": "enabled"}}, id="istio-mode"),
    pytest.param({"injection": {"overrideExisting": True}}, id="override-existing"),
    pytest.param({"injection": {"containers": ["app", "worker"]}}, id="containers"),
]


@pytest.mark.parametrize("spec", DIGEST_CHANGES)
def test_digest_changes_with_what_pods_carry(spec: dict[str, Any]) -> None:
    tmpl = template(container(), container("worker"), init=(container("worker-init"),))
    base = plan(make_ms({"injection": {"containers": ["app"]}}), tmpl)
    merged = {"injection": {"containers": ["app"]}, **spec}
    assert plan(make_ms(merged), tmpl).digest != base.digest


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param({"injection": {"restartOutdated": True}}, id="restart-outdated"),
        pytest.param({"injection": {"mode": "patch"}}, id="injection-mode"),
        pytest.param({"clock": {"sync": "chrony", "maxSkew": "1s"}}, id="clock"),
        pytest.param({"aliases": ["order_service"]}, id="aliases"),
        pytest.param({"dashboard": True}, id="dashboard"),
        pytest.param({"selector": {"matchLabels": {"app.kubernetes.io/name": "order-service"}}}, id="selector"),
    ],
)
def test_digest_ignores_what_pods_do_not_carry(spec: dict[str, Any]) -> None:
    tmpl = template()
    assert plan(make_ms(spec), tmpl).digest == plan(make_ms(), tmpl).digest


def test_digest_equal_for_a_template_and_the_pods_made_from_it() -> None:
    """Patch mode injects the Deployment's template; the assessor plans its pods via ownerReferences."""
    ms = make_ms({"resourceAttributes": {"deployment.environment": "prod"}})
    tmpl = template(labels={"app.kubernetes.io/name": "order-service", "app.kubernetes.io/version": "1.0"})
    template_plan = plan(ms, tmpl, DEPLOYMENT)
    injected, _ = apply(tmpl, template_plan)
    pod = pod_from(injected)
    pod_plan = plan_for(ms, pod, owner_of_pod(pod), NS)
    assert pod_plan.digest == template_plan.digest
    assert json_patch(pod, pod_plan)[0] == []  # the webhook has nothing to add to such a pod


def test_digest_differs_between_two_services_selecting_alike() -> None:
    tmpl = template()
    assert (
        plan(make_ms(name="a", spec={"serviceName": "x"}), tmpl).digest
        != plan(make_ms(name="b", spec={"serviceName": "x"}), tmpl).digest
    )


# ---------------------------------------------------------------- JSON patch shape


def test_patch_for_a_pod_without_env_adds_whole_lists() -> None:
    tmpl: dict[str, Any] = {"metadata": {"name": "p"}, "spec": {"containers": [container()]}}
    ops, _ = json_patch(tmpl, plan(make_ms(), tmpl))
    assert [op["path"] for op in ops] == [
        "/metadata/labels",
        "/metadata/annotations",
        "/spec/containers/0/env",
        "/spec/containers/0/ports",
    ]


def test_patch_prefix_and_escaping() -> None:
    tmpl = template(container(env=[lit("A", "1")]), annotations={"x/y": "z"})
    ops, _ = json_patch(tmpl, plan(make_ms(), tmpl), prefix="/spec/template")
    assert all(op["path"].startswith("/spec/template/") for op in ops)
    assert {"op": "add", "path": "/spec/template/metadata/labels/otelwire.io~1service", "value": "order-service"} in ops
    assert {
        "op": "add",
        "path": "/spec/template/spec/containers/0/env/0",
        "value": {
            "name": "OTEL_K8S_POD_NAME",
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
        },
    } in ops


def test_stale_digest_is_replaced() -> None:
    tmpl = template(annotations={INJECTED_ANNOTATION: "old"})
    p = plan(make_ms(), tmpl)
    ops, delta = json_patch(tmpl, p)
    assert {
        "op": "replace",
        "path": f"/metadata/annotations/{INJECTED_ANNOTATION.replace('/', '~1')}",
        "value": p.digest,
    } in ops
    assert delta.conflicts == ()


def test_changes_reports_nothing_for_an_injected_pod() -> None:
    tmpl = template(container(), container("worker"))
    p = plan(make_ms(), tmpl)
    injected, _ = apply(tmpl, p)
    assert changes(injected, p).empty


# ---------------------------------------------------------------- ownership and selection


def _pod(labels: dict[str, str] | None, owners: list[dict[str, Any]] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p"}
    if labels is not None:
        meta["labels"] = labels
    if owners is not None:
        meta["ownerReferences"] = owners
    return {"kind": "Pod", "metadata": meta, "spec": {"containers": [container()]}}


def _owner(kind: str, name: str, controller: bool | None = True) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "u"}
    if controller is not None:
        out["controller"] = controller
    return out


OWNERS: list[Any] = [
    pytest.param(
        {"pod-template-hash": "7d9f8c6b5"},
        [_owner("ReplicaSet", "order-service-7d9f8c6b5")],
        Workload("Deployment", "order-service", replicaset="order-service-7d9f8c6b5"),
        id="deployment-via-replicaset",
    ),
    pytest.param(
        {"pod-template-hash": "abc"},
        [_owner("ReplicaSet", "my-app-v2-abc")],
        Workload("Deployment", "my-app-v2", replicaset="my-app-v2-abc"),
        id="deployment-name-with-dashes",
    ),
    pytest.param(None, [_owner("ReplicaSet", "plain-rs")], Workload("ReplicaSet", "plain-rs"), id="bare-replicaset"),
    pytest.param(
        {"pod-template-hash": "zzz"},
        [_owner("ReplicaSet", "order-service-7d9f8c6b5")],
        Workload("ReplicaSet", "order-service-7d9f8c6b5"),
        id="hash-mismatch",
    ),
    pytest.param({}, [_owner("StatefulSet", "db")], Workload("StatefulSet", "db"), id="statefulset"),
    pytest.param({}, [_owner("DaemonSet", "agent")], Workload("DaemonSet", "agent"), id="daemonset"),
    pytest.param({}, [_owner("Job", "nightly-2890")], Workload("Job", "nightly-2890"), id="job"),
    pytest.param(
        {},
        [_owner("ConfigMap", "x", controller=False), _owner("StatefulSet", "db")],
        Workload("StatefulSet", "db"),
        id="controller-preferred",
    ),
    pytest.param(
        {}, [_owner("StatefulSet", "db", controller=None)], Workload("StatefulSet", "db"), id="no-controller-flag"
    ),
    pytest.param({}, [_owner("Node", "node-1")], None, id="static-pod-node"),
    pytest.param({}, [_owner("Rollout", "canary")], None, id="unknown-kind"),
    pytest.param({}, [_owner("StatefulSet", "")], None, id="owner-without-name"),
    pytest.param({}, [], None, id="empty-owners"),
    pytest.param(None, None, None, id="no-owner"),
]


@pytest.mark.parametrize(("labels", "owners", "expected"), OWNERS)
def test_owner_of_pod(
    labels: dict[str, str] | None, owners: list[dict[str, Any]] | None, expected: Workload | None
) -> None:
    pod = _pod(labels, owners)
    assert owner_of_pod(pod) == expected
    assert workload_of(pod) == expected


WORKLOADS: list[Any] = [
    pytest.param("Deployment", {"spec": {"template": {"spec": {}}}}, ("spec", "template"), id="deployment"),
    pytest.param("StatefulSet", {"spec": {"template": {"spec": {}}}}, ("spec", "template"), id="statefulset"),
    pytest.param("DaemonSet", {"spec": {"template": {"spec": {}}}}, ("spec", "template"), id="daemonset"),
    pytest.param("Job", {"spec": {"template": {"spec": {}}}}, ("spec", "template"), id="job"),
    pytest.param(
        "CronJob",
        {"spec": {"jobTemplate": {"spec": {"template": {"spec": {}}}}}},
        ("spec", "jobTemplate", "spec", "template"),
        id="cronjob",
    ),
    pytest.param("Pod", {"spec": {}}, (), id="pod"),
    pytest.param("Service", {"spec": {}}, None, id="service"),
    pytest.param("Deployment", {"spec": None}, None, id="deployment-without-template"),
]


@pytest.mark.parametrize(("kind", "body", "path"), WORKLOADS)
def test_template_of(kind: str, body: dict[str, Any], path: tuple[str, ...] | None) -> None:
    obj = {"kind": kind, "metadata": {"name": "w"}, **body}
    found = template_of(obj)
    if path is None:
        assert found is None
        return
    node: Any = obj
    for key in path:
        node = node[key]
    assert found is node
    if kind != "Pod":
        assert workload_of(obj) == Workload(kind, "w")


def test_selection_stays_in_the_namespace_and_prefers_the_first_name() -> None:
    labels = {"app.kubernetes.io/name": "order-service"}
    here_b = make_ms(name="b", spec={"serviceName": "order-service"})
    here_a = make_ms(name="a", spec={"serviceName": "order-service"})
    elsewhere = make_ms(name="aa", spec={"serviceName": "order-service"}, namespace="other")
    chosen = select_services([here_b, elsewhere, here_a], NS, labels)
    assert [m.key for m in chosen] == [f"{NS}/a", f"{NS}/b"]
    assert select_services([elsewhere], NS, labels) == []
    assert select_services([here_a], NS, {}) == []


SELECTORS: list[Any] = [
    pytest.param({"matchLabels": {"app": "x"}}, {"app": "x", "b": "c"}, True, id="labels-match"),
    pytest.param({"matchLabels": {"app": "x"}}, {"app": "y"}, False, id="labels-differ"),
    pytest.param(
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}, {"tier": "b"}, True, id="in"
    ),
    pytest.param(
        {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}, {}, False, id="in-missing"
    ),
    pytest.param(
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {}, True, id="notin-missing"
    ),
    pytest.param(
        {"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {"tier": "a"}, False, id="notin"
    ),
    pytest.param({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {"tier": ""}, True, id="exists"),
    pytest.param(
        {"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {"tier": "a"}, False, id="does-not-exist"
    ),
    pytest.param(
        {"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "canary", "operator": "DoesNotExist"}]},
        {"app": "x", "canary": "true"},
        False,
        id="labels-and-expressions",
    ),
]


@pytest.mark.parametrize(("selector", "labels", "match"), SELECTORS)
def test_selector_matches_like_kubernetes(selector: dict[str, Any], labels: dict[str, str], match: bool) -> None:
    assert make_ms({"selector": selector}).selector.matches(labels) is match


def test_a_known_sidecar_is_never_injected_even_when_named() -> None:
    from otelwire.plan.selecting import target_containers

    spec = {"containers": [{"name": "app"}, {"name": "istio-proxy"}]}
    chosen, notes = target_containers(spec, ["app", "istio-proxy"])
    assert chosen == [(0, "app", False)]
    assert notes and "istio-proxy" in notes[0] and "never injected" in notes[0]
