"""What only a cluster shows: pods without the plan, outdated pods, unreachable collectors.

Pure: the shell (``otelwire doctor`` without ``-f``) lists MonitoredServices and
pods and probes collectors; this module reuses the assessor -- the same
judgement the operator writes to status -- and turns every detail condition
that does not hold into a finding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from otelwire.assess import ProbeResult, assess
from otelwire.assess.assessing import owned_pods
from otelwire.doctor.findings import Finding, Severity
from otelwire.plan.selecting import SelectorIndex
from otelwire.spec.model import KIND, MonitoredService

_CHECKS: dict[str, tuple[str, Severity, str]] = {
    "Injected": ("pods-not-instrumented", "error", "restart the workload so its pods are admitted through the webhook"),
    "CollectorReachable": (
        "collector-unreachable",
        "error",
        "check the collector Service and spec.tracing.otlp.endpoint",
    ),
    "ServiceNameConsistent": ("name-mismatch", "warning", "use one name everywhere (spec.serviceName)"),
    "ClockSynced": ("clock-not-synced", "warning", "check the chrony DaemonSet's pods on the named nodes"),
}


def diagnose_live(
    services: Sequence[MonitoredService],
    pods: Sequence[Mapping[str, Any]],
    probe: Callable[[MonitoredService], ProbeResult | None],
    now: str,
    *,
    podmonitors: bool = False,
) -> list[Finding]:
    """Findings from the assessor over live pods (``podmonitors``: the cluster has PodMonitors)."""
    findings: list[Finding] = []
    indexes = {namespace: SelectorIndex(namespace, services) for namespace in {ms.namespace for ms in services}}
    by_namespace: dict[str, list[Mapping[str, Any]]] = {}
    for pod in pods:
        by_namespace.setdefault(str((pod.get("metadata") or {}).get("namespace")), []).append(pod)
    for ms in services:
        mine = owned_pods(ms, indexes[ms.namespace], by_namespace.get(ms.namespace, []))
        result = assess(ms, mine, probe=probe(ms), clock=None, previous=(), now=now, podmonitors=podmonitors)
        for cond in result.status["conditions"]:
            spec = _CHECKS.get(str(cond["type"]))
            if spec is None or cond["status"] == "True":
                continue
            check, severity, fix = spec
            findings.append(Finding(f"{KIND} {ms.key}", None, check, severity, str(cond["message"]), fix))
    return findings
