"""The env vars injected into one container, in the order Kubernetes needs.

Kubernetes expands ``$(VAR)`` only for variables defined *earlier* in the same
list, so the downward-API variables come first, then the service name, the
resource attributes that reference them, the exporter, propagation and
sampling, and the metrics path (docs/design.md, "What gets injected").
"""

from __future__ import annotations

from otelwire.plan import attributes
from otelwire.plan.parts import EnvVar, Workload
from otelwire.spec.model import MonitoredService

POD_NAME = "OTEL_K8S_POD_NAME"
NAMESPACE_NAME = "OTEL_K8S_NAMESPACE_NAME"
NODE_NAME = "OTEL_K8S_NODE_NAME"
POD_UID = "OTEL_K8S_POD_UID"
RESOURCE_ATTRIBUTES = "OTEL_RESOURCE_ATTRIBUTES"
SERVICE_NAME = "OTEL_SERVICE_NAME"

DOWNWARD = (
    EnvVar(POD_NAME, field_path="metadata.name"),
    EnvVar(NAMESPACE_NAME, field_path="metadata.namespace"),
    EnvVar(NODE_NAME, field_path="spec.nodeName"),
    EnvVar(POD_UID, field_path="metadata.uid"),
)
DOWNWARD_NAMES = frozenset(e.name for e in DOWNWARD)


def _exporter(ms: MonitoredService) -> list[EnvVar]:
    tracing = ms.spec.tracing
    metrics = ms.spec.metrics
    env = [EnvVar("OTEL_TRACES_EXPORTER", tracing.exporter)]
    if tracing.exporter == "jaeger" and tracing.jaeger is not None:
        if tracing.jaeger.agent is not None:
            env.append(EnvVar("OTEL_EXPORTER_JAEGER_AGENT_HOST", tracing.jaeger.agent.host))
            env.append(EnvVar("OTEL_EXPORTER_JAEGER_AGENT_PORT", str(tracing.jaeger.agent.port)))
        collector = tracing.jaeger.resolved_collector
        if collector is not None:
            env.append(EnvVar("OTEL_EXPORTER_JAEGER_ENDPOINT", collector))
    if tracing.exporter == "otlp" or metrics.exporter == "otlp":
        env.append(EnvVar("OTEL_EXPORTER_OTLP_ENDPOINT", tracing.otlp.resolved_endpoint))
        env.append(EnvVar("OTEL_EXPORTER_OTLP_PROTOCOL", tracing.otlp.protocol))
    return env


def _propagation_and_sampling(ms: MonitoredService) -> list[EnvVar]:
    tracing = ms.spec.tracing
    env = [
        EnvVar("OTEL_PROPAGATORS", ",".join(tracing.propagators)),
        EnvVar("OTEL_TRACES_SAMPLER", tracing.sampler.type),
    ]
    if tracing.sampler.env_argument is not None:
        env.append(EnvVar("OTEL_TRACES_SAMPLER_ARG", tracing.sampler.env_argument))
    return env


def _metrics(ms: MonitoredService) -> list[EnvVar]:
    metrics = ms.spec.metrics
    env = [EnvVar("OTEL_METRICS_EXPORTER", metrics.exporter)]
    if metrics.exporter == "prometheus":
        # The SDKs' Prometheus exporters listen on localhost by default: unscrapable from outside.
        env.append(EnvVar("OTEL_EXPORTER_PROMETHEUS_HOST", "0.0.0.0"))
        env.append(EnvVar("OTEL_EXPORTER_PROMETHEUS_PORT", str(metrics.prometheus.port)))
    return env


def container_env(
    ms: MonitoredService, *, container: str, namespace: str, workload: Workload | None, version: str | None
) -> tuple[EnvVar, ...]:
    """The full, ordered list of variables otelwire wants in ``container``."""
    resource = attributes.resource_attributes(
        container=container,
        namespace=namespace,
        workload=workload,
        version=version,
        extra=ms.spec.resource_attributes,
        pod_name_var=POD_NAME,
        namespace_var=NAMESPACE_NAME,
        node_name_var=NODE_NAME,
        pod_uid_var=POD_UID,
    )
    return (
        *DOWNWARD,
        EnvVar(SERVICE_NAME, ms.service_name),
        EnvVar(RESOURCE_ATTRIBUTES, resource),
        *_exporter(ms),
        *_propagation_and_sampling(ms),
        *_metrics(ms),
    )
