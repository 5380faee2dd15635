"""Where the pod template lives in each workload kind, and who owns a pod.

Render and patch mode start from workloads; the webhook starts from a bare pod
whose owner is only known through ``ownerReferences``.  Both need the same
answer ("this is Deployment shop/orders") for the same resource attributes and
the same plan digest, so the mapping lives here, once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otelwire.plan.parts import Workload

TEMPLATE_PATHS: dict[str, tuple[str, ...]] = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
    "Pod": (),
}
WORKLOAD_KINDS = frozenset(TEMPLATE_PATHS)
PATCHABLE_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def template_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod template (metadata + spec) of a workload, or the pod itself."""
    path = TEMPLATE_PATHS.get(str(obj.get("kind")))
    if path is None:
        return None
    node: Any = obj
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else None


def workload_of(obj: Mapping[str, Any]) -> Workload | None:
    """The workload a manifest describes (a Pod is described by its owner)."""
    kind = str(obj.get("kind"))
    if kind == "Pod":
        return owner_of_pod(obj)
    name = (obj.get("metadata") or {}).get("name")
    if kind in WORKLOAD_KINDS and name:
        return Workload(kind, str(name))
    return None


def owner_of_pod(pod: Mapping[str, Any]) -> Workload | None:
    """Derive the owning workload from a pod's controller reference.

    A Deployment's pods are owned by a ReplicaSet named ``<deployment>-<pod-template-hash>``;
    the hash is also the pod's ``pod-template-hash`` label, which gives the Deployment's name
    without an API call.
    """
    meta = pod.get("metadata") or {}
    owners = [o for o in meta.get("ownerReferences") or [] if isinstance(o, Mapping)]
    owner = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
    if owner is None:
        return None
    kind, name = str(owner.get("kind", "")), str(owner.get("name", ""))
    if not name:
        return None
    if kind == "ReplicaSet":
        template_hash = (meta.get("labels") or {}).get("pod-template-hash")
        if template_hash and name.endswith(f"-{template_hash}"):
            return Workload("Deployment", name[: -len(template_hash) - 1], replicaset=name)
        return Workload("ReplicaSet", name)
    if kind in WORKLOAD_KINDS:
        return Workload(kind, name)
    return None
