"""The webhook's MonitoredServices when replicas peer: a list+watch that kopf never pauses.

Under kopf peering every replica but the active one is paused, and a paused
kopf watches nothing -- its indexes included.  A standby's ``msvc_index`` is
therefore empty (or stale, when it was active before), so right after the
active replica dies its webhook, the only one still answering, would admit
pods without otelwire's env.  ``Mirror`` lists and watches MonitoredServices
with its own client, in a thread, and parses them as ``msvc_index`` does; the
webhook reads it once it has listed, and kopf's index until then (or when the
mirror cannot list, e.g. for lack of RBAC).  A standalone operator is never
paused and does not start one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubernetes import client

from otelwire.handlers.kube import Expired, Kube, KubeError, Transport, watch_events, watch_query
from otelwire.spec.model import API_GROUP, API_VERSION, PLURAL, MonitoredService, parse_monitored_service
from otelwire.spec.problems import InvalidSpec

logger = logging.getLogger(__name__)
Lookup = Callable[[str], Iterable[MonitoredService]]
WATCH_SECONDS = 240  # one watch request; then it is resumed from the last resourceVersion


class Mirror:
    """MonitoredServices by namespace, kept current by list+watch in one thread per scope."""

    def __init__(
        self,
        transport: Transport | client.ApiClient,
        fallback: Lookup,
        namespaces: Sequence[str] = (),
        backoff: float = 1.0,
    ) -> None:
        self.kube = Kube(transport, attempts=1)  # the loop lists again after a pause
        self.fallback = fallback
        self.scopes: tuple[str | None, ...] = tuple(namespaces) or (None,)  # None: cluster-wide
        self.backoff = backoff
        self._objects: dict[str, dict[str, MonitoredService]] = {}  # namespace -> uid -> service
        self._views: dict[str, tuple[MonitoredService, ...]] = {}  # what lookups hand out
        self._unlisted = set(self.scopes)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._listed = threading.Event()

    @property
    def synced(self) -> bool:
        return not self._unlisted

    def get(self, namespace: str) -> Iterable[MonitoredService]:
        if self._unlisted:
            return self.fallback(namespace)
        return self._views.get(namespace, ())

    def wait(self, timeout: float) -> bool:
        """Block until every scope was listed once (or ``timeout``); whether it was."""
        return self._listed.wait(timeout)

    def start(self) -> Mirror:
        for scope in self.scopes:
            name = f"otelwire-mirror-{scope or 'cluster'}"
            threading.Thread(target=self._run, args=(scope,), name=name, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()

    def _path(self, scope: str | None) -> str:
        base = f"/apis/{API_GROUP}/{API_VERSION}"
        return f"{base}/{PLURAL}" if scope is None else f"{base}/namespaces/{scope}/{PLURAL}"

    def _run(self, scope: str | None) -> None:
        path = self._path(scope)
        delay = self.backoff
        while not self._stopping.is_set():
            try:
                found = self.kube.request("GET", path, timeout=30)
                self.replace(scope, found.get("items") or [])
                version = str((found.get("metadata") or {}).get("resourceVersion") or "")
                delay = self.backoff
                while not self._stopping.is_set():
                    version = self._watch(path, version)
            except Expired:  # the listed version is too old: list again at once
                continue
            except KubeError as error:
                if error.status == 410:
                    continue
                logger.warning("MonitoredService mirror (%s): HTTP %s, listing again", scope or "all", error.status)
                self._stopping.wait(delay)
                delay = min(delay * 2, 30.0)
            except Exception as error:  # connection refused or reset, timeouts
                logger.info("MonitoredService mirror (%s): %s, listing again", scope or "all", error)
                self._stopping.wait(delay)
                delay = min(delay * 2, 30.0)

    def _watch(self, path: str, version: str) -> str:
        """Follow one watch from ``version``; the last resourceVersion seen."""
        response = self.kube.stream(path, watch_query(version, WATCH_SECONDS), (10, WATCH_SECONDS + 30))
        try:
            for kind, body in watch_events(response):
                version = str((body.get("metadata") or {}).get("resourceVersion") or version)
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    self.update(kind, body)
                if self._stopping.is_set():
                    break
        finally:
            response.close()
            response.release_conn()
        return version

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
            self._unlisted.discard(scope)
            if not self._unlisted:
                self._listed.set()

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
