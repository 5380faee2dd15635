"""Patch mode's server-side-apply configuration, built from a plan.

Server-side apply with field manager ``otelwire`` lets the API server track
which env entries, labels and annotations otelwire owns: re-applying changes
only those, user-owned fields are never touched, env lists merge by name, and
applying an *empty* configuration removes exactly what otelwire owned.  This
module only builds the bodies; ``otelwire.handlers.applying`` sends them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from otelwire.plan.plans import ISTIO_PROXY_CONFIG, Plan

API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1"}


def release_body(kind: str, name: str, namespace: str) -> dict[str, Any]:
    """Applying this with otelwire's field manager drops every field only otelwire owns."""
    return {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": {"name": name, "namespace": namespace}}


def apply_body(
    kind: str,
    name: str,
    namespace: str,
    plan: Plan,
    *,
    skip: Collection[str] = (),
    existing_annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The fields otelwire wants to own on a workload's pod template.

    ``skip`` holds field keys the API server reported as owned by someone else
    with another value (``container/ENV`` for env entries, ``label/KEY`` and
    ``annotation/KEY`` for metadata); they are left to their owner.
    """
    containers: list[dict[str, Any]] = []
    init_containers: list[dict[str, Any]] = []
    for container in plan.containers:
        env = [v.manifest() for v in container.env if f"{container.container}/{v.name}" not in skip]
        (init_containers if container.init else containers).append({"name": container.container, "env": env})
    annotations = {k: v for k, v in plan.annotations.items() if f"annotation/{k}" not in skip}
    if plan.proxy_config and f"annotation/{ISTIO_PROXY_CONFIG}" not in skip:
        current = (existing_annotations or {}).get(ISTIO_PROXY_CONFIG)
        if current is None:
            annotations[ISTIO_PROXY_CONFIG] = "\n".join(f"{k}: {v}" for k, v in plan.proxy_config.items())
    template_spec: dict[str, Any] = {"containers": containers}
    if init_containers:
        template_spec["initContainers"] = init_containers
    return {
        "apiVersion": API_VERSIONS[kind],
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "template": {
                "metadata": {
                    "labels": {k: v for k, v in plan.labels.items() if f"label/{k}" not in skip},
                    "annotations": annotations,
                },
                "spec": template_spec,
            }
        },
    }


def conflict_key(field: str) -> str | None:
    """Map an SSA conflict's field path to a ``skip`` key, or None when it is not ours to skip.

    Paths look like ``.spec.template.spec.containers[name="app"].env[name="OTEL_SERVICE_NAME"].value``
    or ``.spec.template.metadata.labels.service.istio.io/canonical-name``.
    """
    import re

    env = re.search(r'(?:initContainers|containers)\[name="([^"]+)"\]\.env\[name="([^"]+)"\]', field)
    if env:
        return f"{env.group(1)}/{env.group(2)}"
    meta = re.match(r"\.spec\.template\.metadata\.(labels|annotations)\.(.+)$", field)
    if meta:
        return f"{meta.group(1)[:-1]}/{meta.group(2)}"
    return None
