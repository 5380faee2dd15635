"""The planner: one pure function from (MonitoredService, pod template) to a Plan.

The webhook, patch mode, ``otelwire render`` and ``otelwire doctor`` all call
:func:`plan_for`; none of them decides on its own what to inject.  The plan
depends only on the spec, the template's container names, its version label
and Istio signals, and the owning workload -- never on what otelwire injected
before -- so planning an already injected pod yields the same digest, which
is how the assessor tells current, outdated and missing pods apart.
Next in the flow: ``otelwire.plan.changing`` turns a plan into changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otelwire.plan import environment, selecting
from otelwire.plan.plans import (
    ISTIO_CANONICAL_NAME,
    ISTIO_CANONICAL_REVISION,
    OWNER_ANNOTATION,
    SERVICE_LABEL,
    VERSION_LABEL,
    ContainerPlan,
    Plan,
    Workload,
)
from otelwire.spec.model import MonitoredService

HTTP_JSON_NOTE = (
    "OTLP protocol http/json: the Go and Python OpenTelemetry SDKs do not support it and export nothing "
    "(Go refuses to start its exporter); use http/protobuf unless every service's SDK speaks OTLP/JSON"
)


def _istio_applies(ms: MonitoredService, template: Mapping[str, Any]) -> bool:
    mode = ms.spec.istio.mode
    return mode == "enabled" or (mode == "auto" and selecting.has_istio_sidecar(template))


def plan_for(
    ms: MonitoredService,
    template: Mapping[str, Any],
    workload: Workload | None = None,
    namespace: str | None = None,
) -> Plan:
    """What ``ms`` wants in a pod built from ``template`` (a pod, or a workload's pod template)."""
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    labels = meta.get("labels") or {}
    version = labels.get(VERSION_LABEL) or None
    containers, notes = selecting.target_containers(spec, ms.spec.injection.containers)
    container_plans = tuple(
        ContainerPlan(
            container=name,
            init=init,
            env=environment.container_env(
                ms,
                container=name,
                namespace=namespace or ms.namespace,
                workload=workload,
                version=version,
            ),
        )
        for _, name, init in containers
    )
    want_labels: dict[str, str] = {SERVICE_LABEL: ms.service_name}
    want_annotations: dict[str, str] = {OWNER_ANNOTATION: ms.name}
    proxy: dict[str, str] = {}
    if _istio_applies(ms, template):
        want_labels[ISTIO_CANONICAL_NAME] = ms.service_name
        if version:
            want_labels[ISTIO_CANONICAL_REVISION] = version
        proxy["tracingServiceName"] = "CANONICAL_NAME_ONLY"
    metrics = ms.spec.metrics
    if metrics.exporter == "prometheus":
        want_annotations.update(
            {
                "prometheus.io/scrape": "true",
                "prometheus.io/port": str(metrics.prometheus.port),
                "prometheus.io/path": metrics.prometheus.path,
            }
        )
    uses_otlp = ms.spec.tracing.exporter == "otlp" or metrics.exporter == "otlp"
    if uses_otlp and ms.spec.tracing.otlp.protocol == "http/json":
        notes.append(HTTP_JSON_NOTE)
    if not container_plans:
        notes.append("no container to instrument (only known sidecars, or none named)")
    return Plan(
        monitored_service=ms.key,
        service_name=ms.service_name,
        containers=container_plans,
        labels=want_labels,
        annotations=want_annotations,
        proxy_config=proxy,
        override_existing=ms.spec.injection.override_existing,
        notes=tuple(notes),
    ).with_digest()
