"""MonitoredService objects in every state the operator reports, with the health each tool should see.

The statuses come from otelwire's own assessor (``otelwire.assess.assess`` and
``assess_invalid``) over pods planned by the real planner, so when the product
changes what it writes, these samples change with it and the Argo CD, kstatus
and Flux expectations are re-checked.  ``write_samples`` puts them in one JSON
file for the Lua and Go sides.

Expectations per sample:

* ``argo`` -- what manifests/gitops/argocd/health.lua returns (status, and a
  substring of the message);
* ``kstatus`` -- ``status.Compute`` of sigs.k8s.io/cli-utils (kubectl wait,
  plain Flux ``wait``);
* ``flux`` -- Flux with the ``healthCheckExprs`` of manifests/gitops/flux
  ("Error": Flux cannot evaluate them yet and keeps waiting).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otelwire.assess import ClockFacts, ProbeResult, assess, assess_invalid
from otelwire.plan.parts import INJECTED_ANNOTATION
from otelwire.plan.planning import plan_for
from otelwire.plan.workloads import owner_of_pod
from otelwire.spec.model import MonitoredService, parse_monitored_service
from otelwire.spec.problems import InvalidSpec

NOW = "2026-01-01T12:00:00Z"
NAMESPACE = "shop"
ENDPOINT = "http://otel-collector.observability.svc:4318"
REACHABLE = ProbeResult(ENDPOINT, True, "the collector answers")
UNREACHABLE = ProbeResult(ENDPOINT, False, "connection refused")


@dataclass(frozen=True)
class Sample:
    name: str
    object: dict[str, Any]
    argo: str
    argo_message: str
    kstatus: str
    flux: str


def resource(spec: Mapping[str, Any], *, name: str = "orders", generation: int = 2) -> dict[str, Any]:
    return {
        "apiVersion": "otelwire.io/v1alpha1",
        "kind": "MonitoredService",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "generation": generation,
            "uid": "6f1c2b9e-0d4a-4c1e-9b7a-2f5d8e3c1a00",
            "creationTimestamp": "2026-01-01T11:00:00Z",
        },
        "spec": copy.deepcopy(dict(spec)),
    }


def pod(ms: MonitoredService, index: int, state: str, deployment: str | None = None) -> dict[str, Any]:
    """A pod of ``deployment`` (default: the service's) carrying the current plan, an older one, or none."""
    owner = deployment or ms.service_name
    out: dict[str, Any] = {
        "metadata": {
            "name": f"{owner}-7c9d5f-{index:05d}",
            "namespace": ms.namespace,
            "labels": {"app.kubernetes.io/name": ms.service_name, "pod-template-hash": "7c9d5f"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"{owner}-7c9d5f", "controller": True}],
        },
        "spec": {"containers": [{"name": "app", "image": "ghcr.io/example/orders:1.0"}]},
        "status": {"phase": "Running"},
    }
    if state == "current":
        out["metadata"]["annotations"] = {
            INJECTED_ANNOTATION: plan_for(ms, out, owner_of_pod(out), ms.namespace).digest
        }
    elif state == "outdated":
        out["metadata"]["annotations"] = {INJECTED_ANNOTATION: "0123456789ab"}
    return out


def assessed(
    spec: Mapping[str, Any],
    states: Sequence[str] = ("current", "current"),
    *,
    probe: ProbeResult | None = REACHABLE,
    clock: ClockFacts | None = None,
    applying: bool = False,
    deployment: str | None = None,
) -> dict[str, Any]:
    """The resource with the status the assessor writes for it over pods in ``states``."""
    obj = resource(spec)
    ms = parse_monitored_service(obj)
    pods = [pod(ms, i, state, deployment) for i, state in enumerate(states)]
    obj["status"] = assess(ms, pods, probe=probe, clock=clock, previous=None, now=NOW, applying=applying).status
    return obj


def invalid(spec: Mapping[str, Any], *, observed: int = 2, generation: int = 2) -> dict[str, Any]:
    obj = resource(spec, generation=generation)
    try:
        parse_monitored_service(obj)
    except InvalidSpec as error:
        obj["status"] = assess_invalid(error, generation=observed, previous=None, now=NOW).status
        return obj
    raise AssertionError(f"spec {spec} is valid")


def with_meta(obj: dict[str, Any], **meta: Any) -> dict[str, Any]:
    obj["metadata"].update(meta)
    return obj


WEBHOOK: dict[str, Any] = {"tracing": {"otlp": {"endpoint": ENDPOINT}}}
PATCH: dict[str, Any] = {**WEBHOOK, "injection": {"mode": "patch"}}
CHRONY: dict[str, Any] = {**WEBHOOK, "clock": {"sync": "chrony", "maxSkew": "100ms"}}
LOOPBACK: dict[str, Any] = {"tracing": {"otlp": {"endpoint": "http://localhost:4318"}}}
JAEGER_AGENT: dict[str, Any] = {
    "tracing": {"exporter": "jaeger", "jaeger": {"agent": {"host": "jaeger-agent.observability.svc", "port": 6831}}},
    "metrics": {"exporter": "prometheus"},
}


def samples() -> list[Sample]:
    ready = assessed(WEBHOOK)
    fresh = resource(WEBHOOK, generation=1)
    agent = ProbeResult("jaeger-agent.observability.svc:6831 (UDP)", None, "UDP cannot be probed")
    only_observed = resource(WEBHOOK)
    only_observed["status"] = {"observedGeneration": 2}
    # What the API server returns before the first reconcile if the CRD's status schema has
    # `default: {}` (observedGeneration already defaults to 0): kstatus and Flux then wait.
    defaulted = resource(WEBHOOK, generation=1)
    defaulted["status"] = {"observedGeneration": 0, "serviceName": ""}
    return [
        Sample("ready", ready, "Healthy", "2 pod(s) report as 'orders'", "Current", "Current"),
        Sample("no-status-yet", fresh, "Progressing", "Waiting for otelwire to reconcile", "Current", "Error"),
        Sample(
            "no-status-yet-with-crd-status-default",
            defaulted,
            "Progressing",
            "observe generation 1",
            "InProgress",
            "InProgress",
        ),
        Sample(
            "spec-changed-not-yet-observed",
            with_meta(copy.deepcopy(ready), generation=3),
            "Progressing",
            "observe generation 3",
            "InProgress",
            "InProgress",
        ),
        Sample(
            "patch-mode-rollout",
            assessed(PATCH, ("current", "outdated")),
            "Progressing",
            "pods are being replaced",
            "InProgress",
            "InProgress",
        ),
        Sample(
            "patch-mode-applying",
            assessed(PATCH, applying=True),
            "Progressing",
            "pods are being replaced",
            "InProgress",
            "InProgress",
        ),
        Sample(
            "invalid-spec",
            invalid(LOOPBACK),
            "Degraded",
            "Invalid spec: spec.tracing.otlp.endpoint",
            "Failed",
            "Failed",
        ),
        Sample(
            "invalid-spec-fix-not-yet-observed",
            invalid(LOOPBACK, observed=2, generation=3),
            "Progressing",
            "observe generation 3",
            "InProgress",
            "InProgress",
        ),
        Sample(
            "collector-unreachable",
            assessed(WEBHOOK, probe=UNREACHABLE),
            "Degraded",
            "CollectorReachable: http://otel-collector.observability.svc:4318: connection refused",
            "InProgress",
            "InProgress",
        ),
        Sample(
            "no-matching-pods", assessed(WEBHOOK, ()), "Healthy", "No pods to instrument yet", "InProgress", "Current"
        ),
        Sample(
            "no-pods-and-collector-unreachable",
            assessed(WEBHOOK, (), probe=UNREACHABLE),
            "Degraded",
            "CollectorReachable:",
            "InProgress",
            "InProgress",
        ),
        Sample(
            "pods-not-injected",
            assessed(WEBHOOK, ("current", "missing")),
            "Degraded",
            "Injected: 1 of 2 pod(s) carry no otelwire configuration",
            "InProgress",
            "InProgress",
        ),
        Sample(
            "pods-outdated-webhook-mode",
            assessed(WEBHOOK, ("outdated", "current")),
            "Degraded",
            "Injected: 1 of 2 pod(s) carry an older plan",
            "InProgress",
            "InProgress",
        ),
        Sample(
            "names-disagree",
            assessed(WEBHOOK, deployment="checkout"),
            "Degraded",
            "ServiceNameConsistent: service name is 'orders' but",
            "InProgress",
            "InProgress",
        ),
        Sample(
            "chrony-daemonset-pending",
            assessed(CHRONY, clock=None),
            "Progressing",
            "ClockSynced: the chrony DaemonSet is not there yet",
            "InProgress",
            "InProgress",
        ),
        Sample(
            "clocks-not-synced",
            assessed(CHRONY, clock=ClockFacts(desired_nodes=("node-a", "node-b"), ready_nodes=("node-a",))),
            "Degraded",
            "ClockSynced: chrony is not within maxSkew 100ms",
            "InProgress",
            "InProgress",
        ),
        Sample(
            "jaeger-agent-not-probeable",
            assessed(JAEGER_AGENT, probe=agent),
            "Healthy",
            "report as 'orders'",
            "Current",
            "Current",
        ),
        Sample(
            "being-deleted",
            with_meta(copy.deepcopy(ready), deletionTimestamp="2026-01-01T12:05:00Z"),
            "Progressing",
            "Being deleted",
            "Terminating",
            "Current",
        ),
        Sample(
            "status-without-conditions",
            only_observed,
            "Progressing",
            "Waiting for the Ready condition",
            "Current",
            "InProgress",
        ),
    ]


def write_samples(path: Path, items: Sequence[Sample], health_check_exprs: Mapping[str, str]) -> Path:
    data = {
        "samples": [
            {"name": s.name, "object": s.object, "argo": s.argo, "kstatus": s.kstatus, "flux": s.flux} for s in items
        ],
        "healthCheckExprs": dict(health_check_exprs),
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    return path
