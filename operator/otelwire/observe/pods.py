"""Pods as assessment reads them: an informer's listing kept as skeletons, filed for selectors.

Assessment needs, per MonitoredService, the skeletons (``assess.facts.pod_skeleton``)
of the pods its selector can pick, and a wake-up when one of them is created,
scheduled, started or deleted.  :class:`PodWatch` follows pods with an
``kube.informing.Informer`` per watched namespace (one for the whole cluster by
default) into a :class:`PodStore`, which keeps one skeleton per pod uid under the
keys ``pod_keys`` gives (its namespace and each label pair), so a service reads only
the bucket its first ``matchLabels`` pair names (``pod_bucket``).  Only a pod whose
skeleton changed is reported: its namespace and labels go, in batches, to ``notify``
on the event loop (``reconcile.waking``), which wakes the services selecting it.

Pods are followed here and not by kopf: kopf gives every object of a watched
resource a worker, a ``Body``, loggers and, until every resource is listed, its
whole body -- for 10,000 pods most of the operator's memory and event loop
(docs/decisions.md).  This watch is not paused on a peering standby: the standby's
store is current when it takes over, and its re-assessments are paused anyway.
With kopf namespace patterns the pods of the whole cluster are followed (kopf's
patterns are its own to resolve); only the buckets of served services are read.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

from otelwire.assess.facts import pod_skeleton, remembered
from otelwire.kube.client import Kube
from otelwire.kube.informing import PAGE, ScopedInformers
from otelwire.spec.model import MonitoredService

logger = logging.getLogger(__name__)

Key = str | tuple[str, str, str]
Changed = tuple[str, Mapping[str, Any]]  # a changed pod's namespace and labels


def pod_keys(namespace: str, labels: Mapping[str, str]) -> list[Key]:
    """Where a pod is kept: its namespace, and (namespace, key, value) per label."""
    # One tuple per (namespace, label, value), shared: the store keeps each pod's keys (to move
    # and remove it later), and the pods of a workload have the same labels.
    return [
        namespace,
        *(
            remembered(("pod_index", namespace, key, value), (namespace, key, value))
            for key, value in labels.items()
            if isinstance(value, str)
        ),
    ]


def pod_bucket(ms: MonitoredService) -> Key:
    """The store key holding every pod ``ms`` can select: its first matchLabels pair, or the namespace."""
    pairs = ms.selector.match_labels
    if pairs:
        key, value = next(iter(pairs.items()))
        return (ms.namespace, key, value)
    return ms.namespace


class PodStore:
    """Pod skeletons by uid, and filed under each of their keys; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pods: dict[str, tuple[tuple[Key, ...], dict[str, Any]]] = {}
        self._buckets: dict[Key, dict[str, dict[str, Any]]] = {}

    def __len__(self) -> int:
        return len(self._pods)

    def get(self, key: Key) -> list[dict[str, Any]]:
        """A copy of the skeletons filed under ``key``."""
        with self._lock:
            found = self._buckets.get(key)
            return list(found.values()) if found else []

    def put(self, pod: Mapping[str, Any]) -> Changed | None:
        """One pod as the API serves it; its namespace and labels if its skeleton changed."""
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        namespace = str(meta.get("namespace") or "")
        labels = meta.get("labels") or {}
        skeleton = pod_skeleton(pod)
        keys = tuple(pod_keys(namespace, labels))
        with self._lock:
            old = self._pods.get(uid)
            if old is not None:
                if old[0] == keys and old[1] == skeleton:
                    return None
                self._unfile(uid, old[0])
            self._pods[uid] = (keys, skeleton)
            for key in keys:
                self._buckets.setdefault(key, {})[uid] = skeleton
        # The skeleton's shared labels, not the pod's: a listing reports its changes once it is
        # complete, and the pod's own dict would keep a part of every page alive until then.
        return self._described(skeleton)

    def remove(self, pod: Mapping[str, Any]) -> Changed | None:
        """A deleted pod; its namespace and labels if it was known."""
        uid = str((pod.get("metadata") or {}).get("uid") or "")
        with self._lock:
            old = self._pods.pop(uid, None)
            if old is None:
                return None
            self._unfile(uid, old[0])
        return self._described(old[1])

    def replace(self, scope: str | None, pods: Iterable[Mapping[str, Any]]) -> list[Changed]:
        """A fresh listing of ``scope`` (None: every namespace): what changed, gone pods included."""
        changed: list[Changed] = []
        listed: set[str] = set()
        for pod in pods:
            listed.add(str((pod.get("metadata") or {}).get("uid") or ""))
            found = self.put(pod)
            if found is not None:
                changed.append(found)
        with self._lock:
            gone = [
                uid
                for uid, (keys, _) in self._pods.items()
                if uid not in listed and (scope is None or keys[0] == scope)
            ]
            for uid in gone:
                keys, skeleton = self._pods.pop(uid)
                self._unfile(uid, keys)
                changed.append(self._described(skeleton))
        return changed

    def _unfile(self, uid: str, keys: tuple[Key, ...]) -> None:
        for key in keys:
            bucket = self._buckets.get(key)
            if bucket is not None:
                bucket.pop(uid, None)
                if not bucket:
                    del self._buckets[key]

    @staticmethod
    def _described(skeleton: Mapping[str, Any]) -> Changed:
        meta = skeleton["metadata"]
        return str(meta["namespace"]), meta["labels"]


class PodWatch:
    """Pods of ``namespaces`` (all: empty) into a :class:`PodStore`; changed pods go to ``notify`` on ``loop``."""

    def __init__(
        self,
        kube: Kube,
        namespaces: Sequence[str] = (),
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        notify: Callable[[list[Changed]], object] | None = None,
        backoff: float = 1.0,
        page: int = PAGE,
    ) -> None:
        self.store = PodStore()
        self.scopes: tuple[str | None, ...] = tuple(namespaces) or (None,)  # None: cluster-wide
        self.loop = loop
        self.notify = notify
        self._lock = threading.Lock()
        self._pending: list[Changed] = []
        self._flushing = False
        self.informers = ScopedInformers(
            kube,
            self.scopes,
            lambda scope: "/api/v1/pods" if scope is None else f"/api/v1/namespaces/{scope}/pods",
            listed=self.listed,
            event=self.event,
            name="pods",
            page=page,
            backoff=backoff,
        )

    @property
    def synced(self) -> bool:
        return self.informers.synced

    def wait(self, timeout: float) -> bool:
        """Block until every scope was listed once (or ``timeout``); whether it was.

        After one wait ran out, later ones answer at once (``ScopedInformers.wait``): a
        listing that keeps failing must not hold every reconcile thread in turn.
        """
        return self.informers.wait(timeout)

    def get(self, key: Key) -> list[dict[str, Any]]:
        return self.store.get(key)

    def start(self) -> PodWatch:
        self.informers.start()
        return self

    def stop(self) -> None:
        self.informers.stop()

    # -- what the informers' threads hand in ---------------------------------------------------

    def listed(self, scope: str | None, pods: Iterable[Mapping[str, Any]]) -> None:
        """A complete listing of ``scope``."""
        self._report(self.store.replace(scope, pods))
        self.informers.mark_listed(scope)

    def event(self, kind: str, pod: Mapping[str, Any]) -> None:
        """One watch event: ADDED, MODIFIED or DELETED."""
        found = self.store.remove(pod) if kind == "DELETED" else self.store.put(pod)
        if found is not None:
            self._report([found])

    def _report(self, changed: list[Changed]) -> None:
        if not changed or self.notify is None:
            return
        with self._lock:
            self._pending.extend(changed)
            if self._flushing:  # a flush is already on its way: it takes these too
                return
            self._flushing = True
        if self.loop is None:
            self._flush()
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the operator is exiting
            self.loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
            self._flushing = False
        if pending and self.notify is not None:
            try:
                self.notify(pending)
            except Exception:
                logger.exception("pod changes not delivered")
