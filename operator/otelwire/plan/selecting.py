"""Which MonitoredService selects a pod, and which of its containers.

Selection never crosses namespaces: a MonitoredService in ``shop`` is only
ever compared with pods in ``shop``.  When two select the same pod the first
by name wins, deterministically, and the other is reported, so render, the
webhook and the assessor agree on the owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from otelwire.spec.model import KNOWN_SIDECARS, MonitoredService


def select_services(
    services: Iterable[MonitoredService], namespace: str, labels: Mapping[str, str]
) -> list[MonitoredService]:
    """All MonitoredServices of ``namespace`` whose selector matches ``labels``, first by name first."""
    found = [ms for ms in services if ms.namespace == namespace and ms.selector.matches(labels)]
    return sorted(found, key=lambda ms: ms.name)


def target_containers(
    pod_spec: Mapping[str, Any], wanted: Sequence[str]
) -> tuple[list[tuple[int, str, bool]], list[str]]:
    """Return (index, name, is_init) of containers to instrument, and notes about names not found.

    With no explicit list every regular container but known sidecars is chosen;
    init containers only when named; known sidecars never, even when named.
    """
    regular = [c for c in pod_spec.get("containers") or [] if isinstance(c, Mapping)]
    init = [c for c in pod_spec.get("initContainers") or [] if isinstance(c, Mapping)]
    chosen: list[tuple[int, str, bool]] = []
    notes: list[str] = []
    if not wanted:
        for index, container in enumerate(regular):
            name = str(container.get("name", ""))
            if name and name not in KNOWN_SIDECARS:
                chosen.append((index, name, False))
        return chosen, notes
    for name in wanted:
        if name in KNOWN_SIDECARS:
            notes.append(f"container {name!r} is a known sidecar and is never injected (its proxy names itself)")
            continue
        hit = next(((i, False) for i, c in enumerate(regular) if c.get("name") == name), None)
        if hit is None:
            hit = next(((i, True) for i, c in enumerate(init) if c.get("name") == name), None)
        if hit is None:
            notes.append(f"container {name!r} named in spec.injection.containers is not in the pod")
        else:
            chosen.append((hit[0], name, hit[1]))
    return chosen, notes


def has_istio_sidecar(template: Mapping[str, Any]) -> bool:
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    names = {c.get("name") for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]}
    annotations = meta.get("annotations") or {}
    labels = meta.get("labels") or {}
    return (
        "istio-proxy" in names
        or "sidecar.istio.io/status" in annotations
        or str(labels.get("sidecar.istio.io/inject", "")).lower() == "true"
    )
