"""Pure checks over one container's effective env and its pod template, and over the pod as a whole.

Each check names a failure mode from docs/design.md's table, says what a person
will see (``unknown_service:go``, empty dashboards, broken trace chains) and how
to fix it.  Inputs are plain manifest data; outputs are findings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otelwire.doctor.findings import Finding, Severity
from otelwire.plan import attributes
from otelwire.spec import endpoints

GO_IMAGE_HINTS = (
    "golang",
    "distroless/static",
    "distroless/base",
    "/go-",
    "-go:",
    "ko.local",
    "gcr.io/distroless",
)
LANGUAGE_KEY = "otelwire.io/language"
_ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
PROMETHEUS_DEFAULT_PORT = "9464"  # the SDKs' default for OTEL_EXPORTER_PROMETHEUS_PORT


def _literal(env: Mapping[str, Mapping[str, Any]], name: str) -> str | None:
    entry = env.get(name)
    if entry is None or entry.get("valueFrom") is not None:
        return None
    return str(entry.get("value") or "")


def looks_like_go(template: Mapping[str, Any], container: Mapping[str, Any]) -> bool:
    meta = template.get("metadata") or {}
    for source in (meta.get("labels") or {}, meta.get("annotations") or {}):
        if str(source.get(LANGUAGE_KEY, "")).lower() in ("go", "golang"):
            return True
    image = str(container.get("image", "")).lower()
    return any(hint in image for hint in GO_IMAGE_HINTS)


class _Collector:
    def __init__(self, resource: str, container: str | None) -> None:
        self.resource = resource
        self.container = container
        self.found: list[Finding] = []

    def add(self, check: str, severity: Severity, message: str, fix: str) -> None:
        self.found.append(Finding(self.resource, self.container, check, severity, message, fix))


def check_container(
    resource: str,
    workload_name: str | None,
    template: Mapping[str, Any],
    container: Mapping[str, Any],
    monitored: bool,
) -> list[Finding]:
    """All findings for one container of ``template``."""
    name = str(container.get("name", ""))
    out = _Collector(resource, name)
    env = {str(e.get("name")): e for e in container.get("env") or [] if isinstance(e, Mapping)}
    labels = (template.get("metadata") or {}).get("labels") or {}
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    create_ms = "create a MonitoredService selecting this workload (otelwire render shows the result)"

    # -- the service name
    service = env.get("OTEL_SERVICE_NAME")
    resource_attrs = _literal(env, "OTEL_RESOURCE_ATTRIBUTES") or ""
    in_attrs = attributes.decoded(resource_attrs).get("service.name")
    service_name: str | None = None
    if service is None and not in_attrs:
        out.add(
            "no-service-name",
            "error",
            "OTEL_SERVICE_NAME is not set: spans and metrics will show as unknown_service:go",
            create_ms if not monitored else "set spec.serviceName",
        )
    elif service is not None and service.get("valueFrom") is not None:
        out.add(
            "service-name-from-variable",
            "warning",
            "OTEL_SERVICE_NAME comes from valueFrom: if the source is empty or missing the service is unknown_service",
            "set a literal service name (spec.serviceName)",
        )
    elif service is not None:
        service_name = str(service.get("value") or "")
        if "$(" in service_name:
            out.add(
                "service-name-from-variable",
                "error",
                f"OTEL_SERVICE_NAME={service_name!r} is built from $(...): an undefined or empty variable "
                "leaves a literal or empty name and unknown_service",
                "write the service name literally",
            )
        elif not service_name.strip():
            out.add(
                "no-service-name",
                "error",
                "OTEL_SERVICE_NAME is empty: the service shows as unknown_service",
                "set a literal service name",
            )
    else:
        service_name = in_attrs

    # -- exporter and endpoint
    exporter = _literal(env, "OTEL_TRACES_EXPORTER")
    endpoint_var = next((v for v in _ENDPOINT_VARS if v in env), None)
    endpoint = _literal(env, endpoint_var) if endpoint_var else None
    protocol = _literal(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or _literal(env, "OTEL_EXPORTER_OTLP_PROTOCOL")
    if exporter in (None, "otlp") and endpoint_var is None:
        out.add(
            "no-exporter",
            "error",
            "no OTLP endpoint is configured: SDKs fall back to localhost:4318, which inside a pod is the pod "
            "itself, so spans are dropped and dashboards stay empty",
            create_ms if not monitored else "set spec.tracing.otlp.endpoint",
        )
    if endpoint:
        try:
            _scheme, host, port_text, _ = endpoints.split(endpoint)
        except ValueError:
            host, port_text = "", None
        if host and endpoints.is_loopback(host):
            out.add(
                "endpoint-loopback",
                "error",
                f"{endpoint_var}={endpoint!r} points at loopback: inside a pod that is the pod itself, "
                "not the collector",
                "use the collector Service's DNS name, e.g. http://otel-collector.observability.svc:4318",
            )
        port = int(port_text) if port_text and port_text.isdigit() else None
        proto = protocol or "http/protobuf"
        if (port == endpoints.OTLP_HTTP_PORT and proto == "grpc") or (
            port == endpoints.OTLP_GRPC_PORT and proto.startswith("http")
        ):
            out.add(
                "otlp-port-protocol",
                "error",
                f"{endpoint_var} uses port {port} with protocol {proto}: 4318 is OTLP/HTTP, 4317 is OTLP/gRPC",
                "match the port to the protocol",
            )

    if protocol == "http/json" and endpoint_var is not None:
        out.add(
            "otlp-http-json",
            "warning",
            "OTEL_EXPORTER_OTLP_PROTOCOL=http/json: the Go and Python SDKs do not support it and export nothing",
            "use http/protobuf (port 4318) or grpc (port 4317)",
        )

    # -- jaeger
    if exporter == "jaeger":
        out.add(
            "jaeger-legacy",
            "warning",
            "OTEL_TRACES_EXPORTER=jaeger: the Jaeger exporter is gone from the Go SDK (and deprecated "
            "elsewhere); Jaeger ingests OTLP on 4317/4318",
            "use exporter otlp pointed at Jaeger's OTLP port",
        )
    agent_host = _literal(env, "OTEL_EXPORTER_JAEGER_AGENT_HOST")
    agent_port = _literal(env, "OTEL_EXPORTER_JAEGER_AGENT_PORT")
    collector = _literal(env, "OTEL_EXPORTER_JAEGER_ENDPOINT")
    for check_fn, value in (
        (lambda v: endpoints.check_jaeger_agent_host(v, True), agent_host),
        (lambda v: endpoints.check_jaeger_agent_port(int(v)) if v.isdigit() else v, agent_port),
        (lambda v: endpoints.check_jaeger_collector(v, True), collector),
    ):
        if value is None:
            continue
        try:
            check_fn(value)
        except ValueError as error:
            out.add(
                "jaeger-agent-collector",
                "error",
                str(error),
                "agent: host + UDP 6831; collector: http://host:14268/api/traces",
            )

    # -- propagation
    propagators = _literal(env, "OTEL_PROPAGATORS")
    go = looks_like_go(template, container)
    if propagators is None:
        out.add(
            "no-propagators",
            "warning",
            "OTEL_PROPAGATORS is not set: incoming traceparent headers may be ignored and every request "
            "becomes a root span",
            create_ms if not monitored else "set spec.tracing.propagators",
        )
    if go:
        out.add(
            "go-propagators",
            "info",
            "Go SDKs ignore OTEL_PROPAGATORS unless the service uses "
            "go.opentelemetry.io/contrib/propagators/autoprop or calls otel.SetTextMapPropagator",
            "use autoprop.NewTextMapPropagator() in the service",
        )
        out.add(
            "otelvet",
            "info",
            "this looks like a Go service: run the otelvet analyzer in its CI for the tracing mistakes that "
            "no manifest shows (no exporter, lost contexts, spans never ended)",
            "go vet -vettool=$(which otelvet) ./...",
        )

    # -- metrics path
    metrics = _literal(env, "OTEL_METRICS_EXPORTER") or ""
    paths = {p.strip() for p in metrics.split(",") if p.strip()}
    scraped = str(annotations.get("prometheus.io/scrape", "")).lower() == "true"
    if {"otlp", "prometheus"} <= paths or ("otlp" in paths and scraped and "prometheus" not in paths):
        out.add(
            "double-metrics",
            "warning",
            "metrics leave by two paths (OTLP push and a Prometheus scrape): the same requests are counted twice",
            "pick one: spec.metrics.exporter otlp, prometheus or none",
        )

    # -- names agree
    if service_name and "$(" not in service_name:
        for what, other in (
            ("workload", workload_name),
            ("label app.kubernetes.io/name", labels.get("app.kubernetes.io/name")),
        ):
            if other and other != service_name:
                out.add(
                    "name-mismatch",
                    "warning",
                    f"service name {service_name!r} differs from the {what} {other!r}: traces, Istio and the "
                    "Prometheus job will not line up",
                    "use one name everywhere (spec.serviceName)",
                )
    return out.found


def _env(container: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(e.get("name")): e for e in container.get("env") or [] if isinstance(e, Mapping)}


def check_pod(resource: str, template: Mapping[str, Any]) -> list[Finding]:
    """Findings about the pod as a whole: containers whose Prometheus exporters want one port.

    Containers share the pod's network: of two SDKs listening on the same port only the first
    binds, and the other's metrics are never scraped.  Regular containers and native sidecars
    (init containers with ``restartPolicy: Always``) run side by side.
    """
    spec = template.get("spec") or {}
    running = [c for c in spec.get("containers") or [] if isinstance(c, Mapping)]
    running += [
        c for c in spec.get("initContainers") or [] if isinstance(c, Mapping) and c.get("restartPolicy") == "Always"
    ]
    listeners: dict[str, list[str]] = {}
    for container in running:
        env = _env(container)
        exporters = {p.strip() for p in (_literal(env, "OTEL_METRICS_EXPORTER") or "").split(",")}
        if "prometheus" in exporters:
            port = _literal(env, "OTEL_EXPORTER_PROMETHEUS_PORT") or PROMETHEUS_DEFAULT_PORT
            listeners.setdefault(port, []).append(str(container.get("name", "")))
    out = _Collector(resource, None)
    for port, names in listeners.items():
        if len(names) > 1:
            out.add(
                "prometheus-port-shared",
                "warning",
                f"containers {', '.join(names)} all serve Prometheus metrics on port {port}, in one pod "
                "network: only one exporter can listen there, and the others' metrics are never scraped",
                "instrument one container (name it in spec.injection.containers), or use spec.metrics.exporter otlp",
            )
    return out.found
