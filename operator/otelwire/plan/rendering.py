"""Planning a whole set of manifests at once: what ``otelwire render`` does.

Given the documents a GitOps repository holds -- MonitoredServices and
workloads side by side -- pair each workload with the MonitoredService that
selects it (same namespace only), apply the plan to its pod template and
collect warnings.  Pure: documents in, documents and messages out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from otelwire.plan import changing, selecting, workloads
from otelwire.plan.planning import plan_for
from otelwire.spec.model import API_GROUP, KIND, MonitoredService, parse_monitored_service
from otelwire.spec.problems import InvalidSpec


@dataclass
class Rendered:
    """The outcome: changed documents in input order, warnings, and spec errors."""

    documents: list[dict[str, Any]] = field(default_factory=list)
    workloads: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    services: list[MonitoredService] = field(default_factory=list)


def is_monitored_service(body: Mapping[str, Any]) -> bool:
    return body.get("kind") == KIND and str(body.get("apiVersion", "")).startswith(f"{API_GROUP}/")


def _namespace(body: Mapping[str, Any], default: str) -> str:
    return str((body.get("metadata") or {}).get("namespace") or default)


def _label(body: Mapping[str, Any], default: str) -> str:
    name = (body.get("metadata") or {}).get("name") or "<unnamed>"
    return f"{body.get('kind')} {_namespace(body, default)}/{name}"


def parse_services(
    bodies: Sequence[Mapping[str, Any]], default_namespace: str
) -> tuple[list[MonitoredService], list[str]]:
    services: list[MonitoredService] = []
    errors: list[str] = []
    for body in bodies:
        if not is_monitored_service(body):
            continue
        try:
            services.append(parse_monitored_service(body, default_namespace))
        except InvalidSpec as error:
            errors.extend(error.lines())
    return services, errors


def _set_template(body: dict[str, Any], template: dict[str, Any]) -> None:
    path = workloads.TEMPLATE_PATHS[str(body.get("kind"))]
    if not path:
        body.clear()
        body.update(template)
        return
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = template


def namespace_labels(bodies: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, str]]:
    """The labels of the Namespaces among ``bodies`` (Istio's namespace-level injection reads them)."""
    found: dict[str, Mapping[str, str]] = {}
    for body in bodies:
        meta = body.get("metadata") or {}
        if body.get("kind") == "Namespace" and body.get("apiVersion") == "v1" and meta.get("name"):
            found[str(meta["name"])] = meta.get("labels") or {}
    return found


def render(
    bodies: Sequence[Mapping[str, Any]], default_namespace: str = "default", *, podmonitors: bool = False
) -> Rendered:
    """Apply every MonitoredService's plan to the workloads it selects.

    ``podmonitors``: render for a cluster that runs the Prometheus Operator (scraped through
    PodMonitors, so no scrape annotations).  Namespaces among ``bodies`` tell which namespaces
    Istio injects.
    """
    out = Rendered()
    out.services, out.errors = parse_services(bodies, default_namespace)
    namespaces = namespace_labels(bodies)
    used: set[str] = set()
    for raw in bodies:
        body: dict[str, Any] = dict(raw)
        if is_monitored_service(body):
            out.documents.append(body)
            continue
        template = workloads.template_of(body)
        if template is None:
            out.documents.append(body)
            continue
        namespace = _namespace(body, default_namespace)
        labels = (template.get("metadata") or {}).get("labels") or {}
        chosen = selecting.select_services(out.services, namespace, labels)
        if chosen:
            ms = chosen[0]
            used.update(m.key for m in chosen)
            if len(chosen) > 1:
                others = ", ".join(m.name for m in chosen[1:])
                out.warnings.append(
                    f"{_label(body, default_namespace)}: also selected by {others}; using {ms.name} (first by name)"
                )
            plan = plan_for(
                ms,
                template,
                workloads.workload_of(body),
                namespace,
                podmonitors=podmonitors,
                namespace_labels=namespaces.get(namespace),
            )
            changed, delta = changing.apply(template, plan)
            body = _copy_with_template(body, changed)
            for conflict in delta.conflicts:
                hint = "" if conflict.overridden else " (set spec.injection.overrideExisting: true to replace it)"
                out.warnings.append(f"{_label(body, default_namespace)}: {conflict}{hint}")
            for note in plan.notes:
                out.warnings.append(f"{_label(body, default_namespace)}: {note}")
        out.documents.append(body)
        out.workloads.append(body)
    for ms in out.services:
        if ms.key not in used:
            out.warnings.append(
                f"{KIND} {ms.key}: selects no workload in the input (selector {ms.selector.describe()})"
            )
    return out


def _copy_with_template(body: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    import copy

    result = copy.deepcopy(body)
    _set_template(result, template)
    return result
