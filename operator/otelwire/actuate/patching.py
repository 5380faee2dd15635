"""Patch mode and rollout restarts: the only writes otelwire makes to workloads.

Patch mode server-side-applies the plan onto the pod templates of the
Deployments, StatefulSets and DaemonSets a MonitoredService selects, with field
manager ``otelwire``.  An env entry, label or annotation the user owns with
another value is reported by the API server as a conflict; unless
``overrideExisting`` it is left alone (reported as a conflict) and the rest
applied.  Releasing applies an empty configuration, which removes exactly the
fields otelwire owned.  Restarts (``restartOutdated``) bump the template's
``kubectl.kubernetes.io/restartedAt`` as ``kubectl rollout restart`` does,
at most once per workload per interval.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from otelwire.kube.client import MANAGER, Kube, KubeError, workload_path
from otelwire.plan import selecting, serverside
from otelwire.plan.parts import INJECTED_ANNOTATION, OWNER_ANNOTATION, Workload
from otelwire.plan.planning import plan_for
from otelwire.plan.workloads import PATCHABLE_KINDS
from otelwire.spec.model import MonitoredService

logger = logging.getLogger(__name__)


@dataclass
class ApplyOutcome:
    applied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _workloads(kube: Kube, namespace: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for kind in PATCHABLE_KINDS:
        listing = kube.get(workload_path(kind, namespace))
        for item in listing.get("items") or []:
            yield kind, item


def _template(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return ((obj.get("spec") or {}).get("template")) or {}


def _owned_by_otelwire(obj: Mapping[str, Any]) -> bool:
    return any(m.get("manager") == MANAGER for m in (obj.get("metadata") or {}).get("managedFields") or [])


def namespace_labels(kube: Kube, namespace: str) -> Mapping[str, str] | None:
    """The labels of ``namespace`` (Istio's namespace-level injection), or None when they cannot be read."""
    try:
        found = kube.get(f"/api/v1/namespaces/{namespace}")
    except KubeError as error:
        logger.info("namespace %s not read (%s): Istio's namespace-level injection is not foreseen", namespace, error)
        return None
    labels = (found.get("metadata") or {}).get("labels") or {}
    return labels if isinstance(labels, Mapping) else None


def apply_patch_mode(
    kube: Kube, ms: MonitoredService, services: Sequence[MonitoredService], *, podmonitors: bool = False
) -> ApplyOutcome:
    """Server-side-apply ``ms``'s plan to every workload it selects in its namespace.

    The namespace's labels are read first: where Istio injects every pod of the namespace,
    the template already carries the canonical labels Istio would otherwise take from ``app``.
    """
    outcome = ApplyOutcome()
    rivals = [s for s in services if s.namespace == ms.namespace] or [ms]
    labels_of_namespace = namespace_labels(kube, ms.namespace)
    for kind, obj in _workloads(kube, ms.namespace):
        meta = obj.get("metadata") or {}
        name = str(meta.get("name"))
        template = _template(obj)
        labels = (template.get("metadata") or {}).get("labels") or {}
        chosen = selecting.select_services(rivals, ms.namespace, labels)
        if not chosen or chosen[0].key != ms.key:
            continue
        plan = plan_for(
            ms,
            template,
            Workload(kind, name),
            ms.namespace,
            podmonitors=podmonitors,
            namespace_labels=labels_of_namespace,
        )
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        if annotations.get(INJECTED_ANNOTATION) == plan.digest:
            outcome.unchanged.append(f"{kind} {name}")
            continue
        path = workload_path(kind, ms.namespace, name)
        skip: set[str] = set()
        for _attempt in range(3):
            body = serverside.apply_body(kind, name, ms.namespace, plan, skip=skip, template=template)
            try:
                kube.apply(path, body, manager=MANAGER, force=ms.spec.injection.override_existing)
                outcome.applied.append(f"{kind} {name}")
                break
            except KubeError as error:
                if error.status != 409:
                    outcome.errors.append(f"{kind} {name}: {error}")
                    break
                causes = (
                    ((error.body or {}).get("details") or {}).get("causes") or []
                    if isinstance(error.body, Mapping)
                    else []
                )
                new = {key for c in causes if (key := serverside.conflict_key(str(c.get("field", ""))))}
                if not new - skip:
                    outcome.errors.append(f"{kind} {name}: {error}")
                    break
                for key in sorted(new - skip):
                    outcome.conflicts.append(f"{kind} {name}: {key} is owned by another field manager; kept theirs")
                skip |= new
    return outcome


def release(kube: Kube, ms: MonitoredService, keep: Iterable[str] = ()) -> list[str]:
    """Remove every field otelwire applied for ``ms`` (templates marked with its name), except ``keep``."""
    released: list[str] = []
    kept = set(keep)
    for kind, obj in _workloads(kube, ms.namespace):
        name = str((obj.get("metadata") or {}).get("name"))
        annotations = (_template(obj).get("metadata") or {}).get("annotations") or {}
        if annotations.get(OWNER_ANNOTATION) != ms.name or not _owned_by_otelwire(obj):
            continue
        if f"{kind} {name}" in kept:
            continue
        kube.apply(
            workload_path(kind, ms.namespace, name), serverside.release_body(kind, name, ms.namespace), manager=MANAGER
        )
        released.append(f"{kind} {name}")
    return released


def restart(kube: Kube, namespace: str, workload: Workload) -> None:
    """What ``kubectl rollout restart`` does: a new template annotation, hence new pods."""
    if workload.kind not in PATCHABLE_KINDS:
        return
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
    kube.merge_patch(workload_path(workload.kind, namespace, workload.name), body)
