"""The data a plan is made of: env vars, per-container plans, the pod plan.

A :class:`Plan` is what otelwire *wants* in a pod, independent of what the pod
already has; ``otelwire.plan.changing`` compares it with a concrete pod or
template and yields the minimal changes.  Plans are frozen and hashable so the
webhook can cache them per (MonitoredService generation, template shape).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

INJECTED_ANNOTATION = "otelwire.io/injected"
OWNER_ANNOTATION = "otelwire.io/monitoredservice"
SERVICE_LABEL = "otelwire.io/service"
ISTIO_CANONICAL_NAME = "service.istio.io/canonical-name"
ISTIO_CANONICAL_REVISION = "service.istio.io/canonical-revision"
ISTIO_LABELS = (ISTIO_CANONICAL_NAME, ISTIO_CANONICAL_REVISION)
ISTIO_PROXY_CONFIG = "proxy.istio.io/config"
ISTIO_DEFAULT_REVISION = "latest"  # what Istio's injector writes when no label names a version
# Istio's metrics merge: the injector points the pod's scrape annotations at the sidecar and keeps
# the app's scrape settings in this env var of istio-proxy, where pilot-agent reads them.
ISTIO_PROMETHEUS_ENV = "ISTIO_PROMETHEUS_ANNOTATIONS"
VERSION_LABEL = "app.kubernetes.io/version"
# The labels a version is read from, first found wins: Istio's order for canonical-revision too.
VERSION_LABELS = (VERSION_LABEL, "version")
PROMETHEUS_SCRAPE = "prometheus.io/scrape"
PROMETHEUS_PORT = "prometheus.io/port"
PROMETHEUS_PATH = "prometheus.io/path"
PROMETHEUS_ANNOTATIONS = (PROMETHEUS_SCRAPE, PROMETHEUS_PATH, PROMETHEUS_PORT)
# The name of the port otelwire declares for the SDK's Prometheus exporter (an IANA_SVC_NAME: <= 15 chars).
METRICS_PORT_NAME = "otel-metrics"
# What Istio, the OpenTelemetry Collector's k8sattributes processor and the OpenTelemetry Operator read
# a pod's service name from, before any label (Istio: serviceAttributeEnrichment OTEL_SEMANTIC_CONVENTIONS).
OTEL_SERVICE_NAME_ANNOTATION = "resource.opentelemetry.io/service.name"


@dataclass(frozen=True)
class EnvVar:
    """One env entry: a literal value or a downward-API field reference."""

    name: str
    value: str | None = None
    field_path: str | None = None

    def manifest(self) -> dict[str, Any]:
        if self.field_path is not None:
            return {"name": self.name, "valueFrom": {"fieldRef": {"fieldPath": self.field_path}}}
        return {"name": self.name, "value": self.value or ""}

    def same_as(self, entry: Mapping[str, Any]) -> bool:
        """True when ``entry`` (a manifest env item) already says exactly this."""
        if self.field_path is not None:
            ref = (entry.get("valueFrom") or {}).get("fieldRef") or {}
            return ref.get("fieldPath") == self.field_path and "value" not in entry
        return entry.get("valueFrom") is None and (entry.get("value") or "") == (self.value or "")


@dataclass(frozen=True)
class ContainerPort:
    """One ``ports`` entry of a container: what Prometheus's pod discovery turns into a target.

    A container that declares no port yields a target without a port number, which a
    PodMonitor's ``portNumber`` keep rule drops: the SDK exporter's port must be declared.
    """

    name: str
    container_port: int
    protocol: str = "TCP"

    def manifest(self) -> dict[str, Any]:
        return {"name": self.name, "containerPort": self.container_port, "protocol": self.protocol}


@dataclass(frozen=True)
class Workload:
    """The workload owning a pod template, as far as it is known."""

    kind: str
    name: str
    replicaset: str | None = None


@dataclass(frozen=True)
class ContainerPlan:
    """The env otelwire wants in one container, in injection order, and the ports it declares there."""

    container: str
    init: bool
    env: tuple[EnvVar, ...]
    ports: tuple[ContainerPort, ...] = ()

    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.env)


@dataclass(frozen=True)
class Plan:
    """Everything otelwire wants in one pod (or pod template)."""

    monitored_service: str
    service_name: str
    containers: tuple[ContainerPlan, ...]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    proxy_config: Mapping[str, str]
    override_existing: bool
    notes: tuple[str, ...] = ()
    digest: str = field(default="", compare=False)
    istio_mode: str = "auto"

    @property
    def istio(self) -> bool:
        """Whether Istio applies to the pod: the plan owns its canonical-name and canonical-revision."""
        return ISTIO_CANONICAL_NAME in self.labels

    def with_digest(self) -> Plan:
        """The plan with its digest, which says whether a pod carries the current plan.

        The digest leaves out what depends on Istio's presence (canonical labels, proxy
        config): Istio's injector may add its sidecar after the pod template was planned
        (namespace-level injection, patch mode) or after otelwire's webhook (which is then
        re-invoked and adds them), so template and pod plan alike.  The Istio *mode* is in
        it, and so is the version, through ``service.version``.
        """
        body = {
            "service": self.service_name,
            "containers": [
                [c.container, c.init, [e.manifest() for e in c.env], [p.manifest() for p in c.ports]]
                for c in self.containers
            ],
            "labels": {k: v for k, v in sorted(self.labels.items()) if k not in ISTIO_LABELS},
            "annotations": dict(sorted(self.annotations.items())),
            "istio": self.istio_mode,
            # Turning overrideExisting on changes what a pod with conflicting settings must carry.
            "override": self.override_existing,
        }
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]
        annotations = {**self.annotations, INJECTED_ANNOTATION: digest}
        return replace(self, annotations=annotations, digest=digest)

    def container(self, name: str) -> ContainerPlan | None:
        return next((c for c in self.containers if c.container == name), None)
