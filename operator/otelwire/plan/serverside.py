"""Patch mode's server-side-apply configuration, built from a plan.

Server-side apply with field manager ``otelwire`` lets the API server track
which env entries, ports, labels and annotations otelwire owns: re-applying
changes only those, user-owned fields are never touched, env lists merge by
name and ports by ``containerPort`` and ``protocol``, and applying an *empty*
configuration removes exactly what otelwire owned.  This module only builds
the bodies; the shell sends them.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from otelwire.plan.changing import port_changes
from otelwire.plan.parts import ISTIO_PROXY_CONFIG, ContainerPlan, ContainerPort, Plan

API_VERSIONS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1"}


def release_body(kind: str, name: str, namespace: str) -> dict[str, Any]:
    """Applying this with otelwire's field manager drops every field only otelwire owns."""
    return {"apiVersion": API_VERSIONS[kind], "kind": kind, "metadata": {"name": name, "namespace": namespace}}


def port_key(container: str, container_port: int | str, protocol: str) -> str:
    """The ``skip`` key of a declared port (a container name holds no ``:``, so no env key looks alike)."""
    return f"port:{container}:{container_port}/{protocol}"


def _declares(container: Mapping[str, Any], port: ContainerPort) -> bool:
    """Whether ``container`` declares exactly ``port`` (the API server defaults the protocol to TCP)."""
    return any(
        theirs.get("containerPort") == port.container_port
        and theirs.get("name") == port.name
        and (theirs.get("protocol") or "TCP") == port.protocol
        for theirs in container.get("ports") or []
    )


def _ports(template: Mapping[str, Any] | None, planned: ContainerPlan, skip: Collection[str]) -> list[dict[str, Any]]:
    """The ports to own in ``planned``'s container: those the template lacks, or declares exactly so there.

    A declaration of the same ``containerPort`` that is not exactly ours (another name, another
    container) serves, and is left alone; so is a port whose name another port holds.  Without
    the template nothing is declared: a user's port is never renamed unseen.
    """
    if template is None or not planned.ports:
        return []
    spec = template.get("spec") or {}
    missing, _ = port_changes(spec, planned.ports)
    items = spec.get("initContainers" if planned.init else "containers") or []
    own: Mapping[str, Any] = next((c for c in items if c.get("name") == planned.container), {})
    return [
        port.manifest()
        for port in planned.ports
        if (port in missing or _declares(own, port))
        and port_key(planned.container, port.container_port, port.protocol) not in skip
    ]


def apply_body(
    kind: str,
    name: str,
    namespace: str,
    plan: Plan,
    *,
    skip: Collection[str] = (),
    template: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The fields otelwire wants to own on a workload's pod template.

    ``template`` is the workload's current pod template: the ports it already declares
    decide which of the plan's otelwire declares (see :func:`_ports`), its annotations
    whether the Istio proxy config is otelwire's to write.  ``skip`` holds field keys the
    API server reported as owned by someone else with another value (``container/ENV``
    for env entries, :func:`port_key` for ports, ``label/KEY`` and ``annotation/KEY`` for
    metadata); they are left to their owner.
    """
    existing_annotations = ((template or {}).get("metadata") or {}).get("annotations") or {}
    containers: list[dict[str, Any]] = []
    init_containers: list[dict[str, Any]] = []
    for container in plan.containers:
        env = [v.manifest() for v in container.env if f"{container.container}/{v.name}" not in skip]
        entry: dict[str, Any] = {"name": container.container, "env": env}
        ports = _ports(template, container, skip)
        if ports:
            entry["ports"] = ports
        (init_containers if container.init else containers).append(entry)
    annotations = {k: v for k, v in plan.annotations.items() if f"annotation/{k}" not in skip}
    if plan.proxy_config and f"annotation/{ISTIO_PROXY_CONFIG}" not in skip:
        current = existing_annotations.get(ISTIO_PROXY_CONFIG)
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


_CONTAINER = r'(?:initContainers|containers)\[name="([^"]+)"\]'
_ENV = re.compile(_CONTAINER + r'\.env\[name="([^"]+)"\]')
# Keys of a list-map entry are printed sorted by name: containerPort before protocol.
_PORT = re.compile(_CONTAINER + r'\.ports\[containerPort=(\d+),protocol="([^"]+)"\]')


def conflict_key(field: str) -> str | None:
    """Map an SSA conflict's field path to a ``skip`` key, or None when it is not ours to skip.

    Paths look like ``.spec.template.spec.containers[name="app"].env[name="OTEL_SERVICE_NAME"].value``,
    ``.spec.template.spec.containers[name="app"].ports[containerPort=9464,protocol="TCP"].name``
    or ``.spec.template.metadata.labels.service.istio.io/canonical-name``.
    """
    env = _ENV.search(field)
    if env:
        return f"{env.group(1)}/{env.group(2)}"
    port = _PORT.search(field)
    if port:
        return port_key(*port.groups())
    meta = re.match(r"\.spec\.template\.metadata\.(labels|annotations)\.(.+)$", field)
    if meta:
        return f"{meta.group(1)[:-1]}/{meta.group(2)}"
    return None
