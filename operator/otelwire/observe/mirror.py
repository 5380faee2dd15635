"""The webhook's MonitoredServices when replicas peer: an informer that kopf never pauses.

Under kopf peering every replica but the active one is paused, and a paused
kopf watches nothing -- its indexes included.  A standby's ``msvc_index`` is
therefore empty (or stale, when it was active before), so right after the
active replica dies its webhook, the only one still answering, would admit
pods without otelwire's env.  :class:`Mirror` follows MonitoredServices with an
``kube.informing.Informer`` per scope and parses them as ``msvc_index`` does; the
webhook reads it once it has listed, and kopf's index until then (or when the
mirror cannot list, e.g. for lack of RBAC).  A standalone operator is never
paused and does not start one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from otelwire.kube.client import Kube
from otelwire.kube.informing import ScopedInformers
from otelwire.spec.model import API_GROUP, API_VERSION, PLURAL, MonitoredService, parse_monitored_service
from otelwire.spec.problems import InvalidSpec

Lookup = Callable[[str], Iterable[MonitoredService]]


class Mirror:
    """MonitoredServices by namespace, kept current by one informer per scope."""

    def __init__(self, kube: Kube, fallback: Lookup, namespaces: Sequence[str] = (), backoff: float = 1.0) -> None:
        self.fallback = fallback
        self.scopes: tuple[str | None, ...] = tuple(namespaces) or (None,)  # None: cluster-wide
        self._objects: dict[str, dict[str, MonitoredService]] = {}  # namespace -> uid -> service
        self._views: dict[str, tuple[MonitoredService, ...]] = {}  # what lookups hand out
        self._lock = threading.Lock()
        base = f"/apis/{API_GROUP}/{API_VERSION}"
        self.informers = ScopedInformers(
            kube,
            self.scopes,
            lambda scope: f"{base}/{PLURAL}" if scope is None else f"{base}/namespaces/{scope}/{PLURAL}",
            listed=self.replace,
            event=self.update,
            name="monitoredservice-mirror",
            backoff=backoff,
        )

    @property
    def synced(self) -> bool:
        return self.informers.synced

    def get(self, namespace: str) -> Iterable[MonitoredService]:
        if not self.informers.synced:
            return self.fallback(namespace)
        return self._views.get(namespace, ())

    def wait(self, timeout: float) -> bool:
        """Block until every scope was listed once (or ``timeout``); whether it was."""
        return self.informers.wait(timeout)

    def start(self) -> Mirror:
        self.informers.start()
        return self

    def stop(self) -> None:
        self.informers.stop()

    def replace(self, scope: str | None, items: Iterable[Mapping[str, Any]]) -> None:
        """A fresh listing of ``scope`` (None: every namespace) replaces what was known there."""
        with self._lock:
            touched = set(self._objects) if scope is None else {scope}
            for namespace in touched:
                self._objects.pop(namespace, None)
            for body in items:
                parsed = _parse(body)
                if parsed is not None:
                    uid, ms = parsed
                    self._objects.setdefault(ms.namespace, {})[uid] = ms
                    touched.add(ms.namespace)
            self._refresh(touched)
        self.informers.mark_listed(scope)

    def update(self, kind: str, body: Mapping[str, Any]) -> None:
        """One watch event: ADDED, MODIFIED or DELETED."""
        meta = body.get("metadata") or {}
        namespace, uid = str(meta.get("namespace") or ""), str(meta.get("uid") or "")
        with self._lock:
            known = self._objects.setdefault(namespace, {})
            known.pop(uid, None)
            parsed = _parse(body) if kind != "DELETED" else None
            if parsed is not None:
                known[uid] = parsed[1]
            self._refresh({namespace})

    def _refresh(self, namespaces: Iterable[str]) -> None:
        for namespace in namespaces:
            found = self._objects.get(namespace)
            if found:
                self._views[namespace] = tuple(found.values())
            else:
                self._objects.pop(namespace, None)
                self._views.pop(namespace, None)


def _parse(body: Mapping[str, Any]) -> tuple[str, MonitoredService] | None:
    """(uid, service) as ``msvc_index`` keeps it; None for an invalid one (it selects nothing)."""
    meta = body.get("metadata") or {}
    try:
        ms = parse_monitored_service(body, str(meta.get("namespace") or "default"))
    except InvalidSpec:
        return None
    return str(meta.get("uid") or ""), ms
