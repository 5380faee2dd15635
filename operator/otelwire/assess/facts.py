"""What the shell observed, reduced to what assessment needs.

A full Pod object is several kilobytes; the operator watches every pod of the
namespaces it serves, so it keeps only a *skeleton*: the metadata and
container fields the planner reads (names, the OTEL_* env, Istio and version
labels, the controller reference, otelwire's annotations) and the phase.
Planning a skeleton gives the same digest as planning the full pod, which
is what lets assessment tell current, outdated and missing pods apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otelwire.plan.plans import (
    INJECTED_ANNOTATION,
    ISTIO_PROXY_CONFIG,
    OWNER_ANNOTATION,
)

_KEPT_ANNOTATIONS = (
    INJECTED_ANNOTATION,
    OWNER_ANNOTATION,
    ISTIO_PROXY_CONFIG,
    "sidecar.istio.io/status",
    "prometheus.io/scrape",
    "prometheus.io/port",
    "prometheus.io/path",
)


def _container(container: Mapping[str, Any]) -> dict[str, Any]:
    env = [
        dict(e)
        for e in container.get("env") or []
        if isinstance(e, Mapping) and str(e.get("name", "")).startswith("OTEL_")
    ]
    out: dict[str, Any] = {"name": container.get("name", "")}
    if env:
        out["env"] = env
    return out


def pod_skeleton(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a pod that planning and assessment read; everything else is dropped."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    annotations = meta.get("annotations") or {}
    owners = [o for o in meta.get("ownerReferences") or [] if isinstance(o, Mapping) and o.get("controller")]
    skeleton_meta: dict[str, Any] = {
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "labels": dict(meta.get("labels") or {}),
        "annotations": {k: annotations[k] for k in _KEPT_ANNOTATIONS if k in annotations},
    }
    if owners:
        skeleton_meta["ownerReferences"] = [
            {"kind": o.get("kind"), "name": o.get("name"), "controller": True} for o in owners[:1]
        ]
    if meta.get("deletionTimestamp"):
        skeleton_meta["deletionTimestamp"] = meta["deletionTimestamp"]
    skeleton_spec: dict[str, Any] = {"containers": [_container(c) for c in spec.get("containers") or []]}
    if spec.get("initContainers"):
        skeleton_spec["initContainers"] = [_container(c) for c in spec["initContainers"]]
    if spec.get("nodeName"):
        skeleton_spec["nodeName"] = spec["nodeName"]
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
        if isinstance(c, Mapping)
    )
    return {
        "metadata": skeleton_meta,
        "spec": skeleton_spec,
        "status": {"phase": status.get("phase", ""), "ready": ready},
    }


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of checking one collector endpoint."""

    endpoint: str
    reachable: bool | None  # None: cannot be probed (a UDP agent)
    detail: str


@dataclass(frozen=True)
class ClockFacts:
    """The chrony DaemonSet as observed: which nodes it should run on and which are in sync."""

    desired_nodes: tuple[str, ...]
    ready_nodes: tuple[str, ...]
    daemonset_found: bool = True
