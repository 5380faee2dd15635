"""The planner: one pure function from (MonitoredService, pod template) to a Plan.

The webhook, patch mode, ``otelwire render`` and ``otelwire doctor`` all call
:func:`plan_for`; none of them decides on its own what to inject.  The plan
depends only on the spec, the template's container names, its version labels
and Istio signals (and its namespace's injection labels, where known), the
owning workload, and whether the cluster scrapes through PodMonitors -- never
on what otelwire injected before -- so planning an already injected pod yields
the same digest, which is how the assessor tells current, outdated and missing
pods apart.
Next in the flow: ``otelwire.plan.changing`` turns a plan into changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otelwire.plan import environment, selecting
from otelwire.plan.parts import (
    ISTIO_CANONICAL_NAME,
    ISTIO_CANONICAL_REVISION,
    ISTIO_DEFAULT_REVISION,
    METRICS_PORT_NAME,
    OTEL_SERVICE_NAME_ANNOTATION,
    OWNER_ANNOTATION,
    PROMETHEUS_PATH,
    PROMETHEUS_PORT,
    PROMETHEUS_SCRAPE,
    SERVICE_LABEL,
    VERSION_LABELS,
    ContainerPlan,
    ContainerPort,
    Plan,
    Workload,
)
from otelwire.spec.model import MonitoredService

HTTP_JSON_NOTE = (
    "OTLP protocol http/json: the Go and Python OpenTelemetry SDKs do not support it and export nothing "
    "(Go refuses to start its exporter); use http/protobuf unless every service's SDK speaks OTLP/JSON"
)


def version_of(labels: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The pod's version, read as Istio reads ``canonical-revision``, and a note when its labels disagree.

    ``app.kubernetes.io/version`` wins over ``version``: Istio's injector and pilot take
    the same order, so ``service.version`` and the mesh's revision are always the same.
    """
    found = [(key, labels[key]) for key in VERSION_LABELS if isinstance(labels.get(key), str) and labels[key]]
    if not found:
        return None, None
    (key, version), *others = found
    note = None
    if others and others[0][1] != version:
        other_key, other = others[0]
        note = (
            f"labels {key}={version!r} and {other_key}={other!r} disagree: service.version and Istio's "
            f"canonical-revision use {version!r} ({key} comes first, as in Istio)"
        )
    return version, note


def plan_for(
    ms: MonitoredService,
    template: Mapping[str, Any],
    workload: Workload | None = None,
    namespace: str | None = None,
    *,
    podmonitors: bool = False,
    namespace_labels: Mapping[str, str] | None = None,
) -> Plan:
    """What ``ms`` wants in a pod built from ``template`` (a pod, or a workload's pod template).

    ``podmonitors``: the cluster runs the Prometheus Operator, so the service's pods are
    scraped through its PodMonitor and get no scrape annotations (one scrape path per pod).
    ``namespace_labels``: the labels of the pods' namespace, when known, for Istio's
    namespace-level injection (patch mode plans templates before Istio injects their pods).
    """
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    labels = meta.get("labels") or {}
    version, version_note = version_of(labels)
    containers, notes = selecting.target_containers(spec, ms.spec.injection.containers)
    if version_note:
        notes.append(version_note)
    metrics = ms.spec.metrics
    # The SDK's Prometheus exporter listens in the first instrumented regular container (in the
    # pod's order): declared there, Prometheus's pod discovery has a target with its port number.
    regular = [index for index, _, init in containers if not init]
    exporter_at = min(regular) if metrics.exporter == "prometheus" and regular else None
    metrics_port = (ContainerPort(METRICS_PORT_NAME, metrics.prometheus.port),)
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
            ports=metrics_port if not init and index == exporter_at else (),
        )
        for index, name, init in containers
    )
    want_labels: dict[str, str] = {SERVICE_LABEL: ms.service_name}
    # Istio (OpenTelemetry tracing with serviceAttributeEnrichment OTEL_SEMANTIC_CONVENTIONS), the
    # collector's k8sattributes processor and the OpenTelemetry Operator name a pod's telemetry
    # after this annotation before any label: with it, they read the name OTEL_SERVICE_NAME says.
    want_annotations: dict[str, str] = {OWNER_ANNOTATION: ms.name, OTEL_SERVICE_NAME_ANNOTATION: ms.service_name}
    proxy: dict[str, str] = {}
    mode = ms.spec.istio.mode
    if mode == "enabled" or (mode == "auto" and selecting.istio_injects(template, namespace_labels)):
        # Istio's injector fills these from the `app` and `version` labels unless they are set;
        # it may run before otelwire, so they are otelwire's whenever Istio applies.
        want_labels[ISTIO_CANONICAL_NAME] = ms.service_name
        want_labels[ISTIO_CANONICAL_REVISION] = version or ISTIO_DEFAULT_REVISION
        proxy["tracingServiceName"] = "CANONICAL_NAME_ONLY"
    if metrics.exporter == "prometheus" and not podmonitors:
        want_annotations.update(
            {
                PROMETHEUS_SCRAPE: "true",
                PROMETHEUS_PORT: str(metrics.prometheus.port),
                PROMETHEUS_PATH: metrics.prometheus.path,
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
        istio_mode=mode,
    ).with_digest()
