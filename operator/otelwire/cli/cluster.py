"""Reading what doctor needs from a live cluster (the shell around ``doctor.live``)."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from otelwire.companions import podmonitor
from otelwire.doctor import Finding, diagnose
from otelwire.doctor.live import diagnose_live
from otelwire.kube.client import Kube, KubeError, connect
from otelwire.kube.config import ConfigError
from otelwire.observe.probing import Prober
from otelwire.plan.rendering import parse_services
from otelwire.spec.model import API_GROUP, API_VERSION, KIND, PLURAL

_LISTS: tuple[tuple[str, str, str], ...] = (
    (f"/apis/{API_GROUP}/{API_VERSION}", PLURAL, KIND),
    ("/apis/apps/v1", "deployments", "Deployment"),
    ("/apis/apps/v1", "statefulsets", "StatefulSet"),
    ("/apis/apps/v1", "daemonsets", "DaemonSet"),
    ("/apis/batch/v1", "cronjobs", "CronJob"),
    ("/api/v1", "pods", "Pod"),
)


def _list(kube: Kube, base: str, plural: str, kind: str, namespaces: Sequence[str]) -> list[dict[str, Any]]:
    paths = [f"{base}/namespaces/{ns}/{plural}" for ns in namespaces] or [f"{base}/{plural}"]
    items: list[dict[str, Any]] = []
    for path in paths:
        for item in kube.get(path).get("items") or []:
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", base.removeprefix("/apis/").removeprefix("/api/"))
            items.append(item)
    return items


def _podmonitors(kube: Kube) -> bool:
    """Whether the cluster serves the Prometheus Operator's PodMonitors (the operator then plans no annotations)."""
    try:
        found = kube.get(f"/apis/{podmonitor.API_VERSION}")
    except KubeError:
        return False
    return any(r.get("name") == "podmonitors" for r in found.get("resources") or [])


class ClusterUnavailable(Exception):
    """No credentials, no server, or not allowed to list what doctor reads."""


def diagnose_cluster(kubeconfig: str | None, namespaces: Sequence[str]) -> list[Finding]:
    try:
        kube = connect(kubeconfig, attempts=2)
        listed = {kind: _list(kube, base, plural, kind, namespaces) for base, plural, kind in _LISTS}
    except (ConfigError, OSError, KubeError) as error:
        raise ClusterUnavailable(str(error)) from None
    pods = listed.pop("Pod")
    podmonitors = _podmonitors(kube)
    # Bare pods are workloads of their own; owned pods are judged through their workload.
    bare = [p for p in pods if not (p.get("metadata") or {}).get("ownerReferences")]
    bodies = [*listed[KIND], *(obj for kind, objs in listed.items() if kind != KIND for obj in objs), *bare]
    findings = diagnose(bodies)
    services, _ = parse_services(listed[KIND], "default")
    prober = Prober()
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    findings.extend(diagnose_live(services, pods, prober.check, now, podmonitors=podmonitors))
    return findings
