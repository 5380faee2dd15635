"""Which MonitoredService selects a pod, and which of its containers.

Selection never crosses namespaces: a MonitoredService in ``shop`` is only
ever compared with pods in ``shop``.  When two select the same pod the first
by name wins, deterministically, and the other is reported, so render, the
webhook and the assessor agree on the owner.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from otelwire.spec.model import KNOWN_SIDECARS, MonitoredService


def select_services(
    services: Iterable[MonitoredService], namespace: str, labels: Mapping[str, str]
) -> list[MonitoredService]:
    """All MonitoredServices of ``namespace`` whose selector matches ``labels``, first by name first."""
    found = [ms for ms in services if ms.namespace == namespace and ms.selector.matches(labels)]
    return sorted(found, key=lambda ms: ms.name)


class SelectorIndex:
    """The MonitoredServices of one namespace, bucketed for selector matching.

    ``matching`` answers exactly what :func:`select_services` answers over the same
    services, without comparing every selector with every pod: a service whose
    selector has ``matchLabels`` sits in the bucket of its first (key, value) pair,
    so a pod's labels pick the few candidates directly; services selecting by
    expressions only are candidates for every pod.  Services are known by name
    (unique in a namespace): ``put`` adds or replaces one, ``drop`` removes one,
    each in O(its bucket).  Thread-safe: the operator updates it from the event
    loop while reconciles read it from worker threads.
    """

    def __init__(self, namespace: str, services: Iterable[MonitoredService] = ()) -> None:
        self.namespace = namespace
        self._lock = threading.Lock()
        self._by_name: dict[str, MonitoredService] = {}
        self._buckets: dict[tuple[str, str], list[MonitoredService]] = {}
        self._rest: list[MonitoredService] = []
        self._keys: dict[str, int] = {}  # first matchLabels key -> services bucketed under it
        for ms in services:
            if ms.namespace == namespace:
                self.put(ms)

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def services(self) -> list[MonitoredService]:
        with self._lock:
            return sorted(self._by_name.values(), key=_name_of)

    def get(self, name: str) -> MonitoredService | None:
        return self._by_name.get(name)

    def put(self, ms: MonitoredService) -> None:
        """Add ``ms``, or replace the service of the same name."""
        with self._lock:
            if self._by_name.get(ms.name) is ms:
                return
            self._drop(ms.name)
            self._by_name[ms.name] = ms
            pairs = ms.selector.match_labels
            if pairs:
                pair = next(iter(pairs.items()))
                bisect.insort(self._buckets.setdefault(pair, []), ms, key=_name_of)
                self._keys[pair[0]] = self._keys.get(pair[0], 0) + 1
            else:
                bisect.insort(self._rest, ms, key=_name_of)

    def drop(self, name: str) -> None:
        with self._lock:
            self._drop(name)

    def _drop(self, name: str) -> None:
        old = self._by_name.pop(name, None)
        if old is None:
            return
        pairs = old.selector.match_labels
        if not pairs:
            self._rest.remove(old)
            return
        pair = next(iter(pairs.items()))
        bucket = self._buckets[pair]
        bucket.remove(old)
        if not bucket:
            del self._buckets[pair]
        self._keys[pair[0]] -= 1
        if not self._keys[pair[0]]:
            del self._keys[pair[0]]

    def matching(self, labels: Mapping[str, str]) -> list[MonitoredService]:
        """The services whose selector matches ``labels``, first by name first."""
        with self._lock:
            try:
                found = [ms for ms in self._rest if ms.selector.matches(labels)]
                for key in self._keys:
                    value = labels.get(key)
                    if value is not None:
                        found.extend(ms for ms in self._buckets.get((key, value), ()) if ms.selector.matches(labels))
            except TypeError:  # an unhashable label value: compare every selector
                return select_services(list(self._by_name.values()), self.namespace, labels)
        if len(found) > 1:
            found.sort(key=_name_of)
        return found


def _name_of(ms: MonitoredService) -> str:
    return ms.name


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
    """Whether the pod (template) carries Istio's sidecar, or asks Istio for one with its label."""
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    names = {c.get("name") for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]}
    annotations = meta.get("annotations") or {}
    labels = meta.get("labels") or {}
    return (
        "istio-proxy" in names
        or "sidecar.istio.io/status" in annotations
        or str(labels.get(ISTIO_INJECT, "")).lower() == "true"
    )


ISTIO_INJECT = "sidecar.istio.io/inject"


def istio_injects(template: Mapping[str, Any], namespace_labels: Mapping[str, str] | None) -> bool:
    """Whether Istio's injector gives pods of ``template`` a sidecar, as far as the pod and its namespace tell.

    Istio injects a pod that asks for it (``sidecar.istio.io/inject: "true"``), and every pod of
    a namespace labelled ``istio-injection=enabled`` or ``istio.io/rev=<revision>`` that does
    not opt out (``sidecar.istio.io/inject: "false"``, as label or annotation).  A pod already
    injected (its template ran through ``istioctl kube-inject``, or it is a pod the injector
    admitted) carries the sidecar itself.
    """
    if has_istio_sidecar(template):
        return True
    meta = template.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    opted = str(labels.get(ISTIO_INJECT, annotations.get(ISTIO_INJECT, ""))).lower()
    if opted == "false" or not namespace_labels:
        return False
    injection = namespace_labels.get("istio-injection")
    return injection == "enabled" or (injection != "disabled" and bool(namespace_labels.get("istio.io/rev")))
