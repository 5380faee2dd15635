"""Pods as assessment reads them: otelwire's own list+watch, kept as skeletons.

Assessment needs, per MonitoredService, the skeletons (``assess.facts.pod_skeleton``)
of the pods its selector can pick, and a wake-up when one of them is created,
scheduled, started or deleted.  That used to be a kopf index and a kopf event
handler on pods.  kopf gives every pod event the machinery a resource with
handlers needs -- a worker task, a ``Body`` and a ``Patch``, three loggers, the
handler's keyword arguments twice (index and event handler), a log line -- and,
until every watched resource has been listed, it keeps each listed pod's whole
body in that pod's worker.  For pods that was most of the operator's event loop
in a burst, and at a restart with 10,000 pods the whole list at once
(docs/benchmarks-cluster.md).

``PodWatch`` lists pods in pages and watches them from the listed
resourceVersion (bookmarks on; a ``410 Gone`` or a broken stream lists again),
in one thread per watched namespace (one for the whole cluster by default), with
its own connections (``kube.connector``), through ``kube.Kube``.  ``PodStore`` keeps one skeleton per pod
uid under the keys ``pod_keys`` gives (its namespace and each label pair), so a
service reads only the bucket its first ``matchLabels`` pair names
(``pod_bucket``).  Only a pod whose skeleton changed is reported: its namespace
and labels go, in batches, to ``notify`` on the event loop (``pods.wake_selecting_services``).

Unlike kopf's, this watch is not paused on a peering standby: the standby's
store is current when it takes over, and its re-assessments are paused anyway
(``reassessing``).  With kopf namespace patterns the pods of the whole cluster are
watched (kopf's patterns are its own to resolve); only the buckets of served
services are ever read.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from kubernetes import client

from otelwire import decoding
from otelwire.assess.facts import pod_skeleton, remembered
from otelwire.handlers.kube import Expired, Kube, KubeError, Transport, watch_events, watch_query
from otelwire.spec.model import MonitoredService

logger = logging.getLogger(__name__)

Key = str | tuple[str, str, str]
Changed = tuple[str, Mapping[str, Any]]  # a changed pod's namespace and labels
WATCH_SECONDS = 240  # one watch request; then it is resumed from the last resourceVersion
PAGE = 100  # pods per LIST page (0: one response): the peak of one listing is one page of full pods


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
    """List+watch pods into a :class:`PodStore`; changed pods go to ``notify`` on ``loop``, in batches."""

    def __init__(
        self,
        transport: Transport | client.ApiClient,
        namespaces: Sequence[str] = (),
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        notify: Callable[[list[Changed]], object] | None = None,
        backoff: float = 1.0,
        page: int = PAGE,
    ) -> None:
        self.kube = Kube(transport)
        self.store = PodStore()
        self.scopes: tuple[str | None, ...] = tuple(namespaces) or (None,)  # None: cluster-wide
        self.loop = loop
        self.notify = notify
        self.backoff = backoff
        self.page = page
        self._unlisted = set(self.scopes)
        self._lock = threading.Lock()
        self._listed = threading.Event()
        self._waited_out = False
        self._stopping = threading.Event()
        self._pending: list[Changed] = []
        self._flushing = False
        self._responses: dict[str | None, Any] = {}

    @property
    def synced(self) -> bool:
        return self._listed.is_set()

    def wait(self, timeout: float) -> bool:
        """Block until every scope was listed once (or ``timeout``); whether it was.

        Once a wait has run out, later ones do not block: a listing that keeps failing
        (RBAC, say; the thread logs why) must not hold every reconcile thread for the
        whole ``timeout`` in turn.  They ask again until it succeeds.
        """
        if self._waited_out:
            return self._listed.is_set()
        listed = self._listed.wait(timeout)
        if not listed:
            self._waited_out = True
        return listed

    def get(self, key: Key) -> list[dict[str, Any]]:
        return self.store.get(key)

    def start(self) -> PodWatch:
        for scope in self.scopes:
            name = f"otelwire-pods-{scope or 'cluster'}"
            threading.Thread(target=self._run, args=(scope,), name=name, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for response in list(self._responses.values()):
            with contextlib.suppress(Exception):  # already closed
                response.shutdown()  # unblocks the thread's read

    # -- what the threads do ------------------------------------------------------------------

    def listed(self, scope: str | None, pods: Iterable[Mapping[str, Any]]) -> None:
        """A complete listing of ``scope``."""
        self._report(self.store.replace(scope, pods))
        with self._lock:
            self._unlisted.discard(scope)
            if not self._unlisted:
                self._listed.set()

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

    def _request(self, scope: str | None, query: Mapping[str, str], timeout: Any) -> Any:
        """GET the pods of ``scope``; the unread response (an error status raises ``KubeError``).

        Through ``Kube``, not the generated ``CoreV1Api``: importing that module alone
        costs 20 MB of RSS.
        """
        return self.kube.stream("/api/v1/pods" if scope is None else f"/api/v1/namespaces/{scope}/pods", query, timeout)

    def _run(self, scope: str | None) -> None:
        delay = self.backoff
        version: str | None = None
        while not self._stopping.is_set():
            try:
                if version is None:
                    version = self._list(scope)
                    delay = self.backoff
                version = self._watch(scope, version)
            except Exception as error:
                if self._stopping.is_set():
                    return
                version = None
                status = getattr(error, "status", None)
                if status == 410:  # the listed version is too old: list again at once
                    continue
                logger.warning("pod watch (%s): %s; listing again in %.0fs", scope or "all", _brief(error), delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, 30.0)

    def _list(self, scope: str | None) -> str:
        """List ``scope`` in pages into the store; the listing's resourceVersion."""
        last: dict[str, Any] = {}

        def pods() -> Iterator[Mapping[str, Any]]:
            # Page by page: the store keeps each pod's skeleton as it comes, so the full pods
            # of one page at most are held at a time.
            token: str | None = None
            while True:
                query = {"limit": str(self.page)} if self.page else {}  # no limit: in one response
                if token:
                    query["continue"] = token
                response = self._request(scope, query, 60)
                try:
                    page = decoding.loads(response.data)
                finally:
                    response.release_conn()
                del response  # its body, until the next page's request replaced it
                items: list[Mapping[str, Any]] = page.get("items") or []
                meta = page.get("metadata") or {}
                del page
                items.reverse()
                while items:  # each pod freed once the store took its skeleton, not with the page
                    yield items.pop()
                token = meta.get("continue") or None
                if not token:
                    last.update(meta)
                    return

        self.listed(scope, pods())
        return str(last.get("resourceVersion") or "")

    def _watch(self, scope: str | None, version: str) -> str | None:
        """Follow one watch from ``version``; the last resourceVersion seen, or None to list again."""
        response = self._request(scope, watch_query(version, WATCH_SECONDS), (10, WATCH_SECONDS + 30))
        self._responses[scope] = response
        try:
            for kind, pod in watch_events(response):
                if self._stopping.is_set():
                    return version
                version = str((pod.get("metadata") or {}).get("resourceVersion") or version)
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    self.event(kind, pod)
        except Expired:
            return None
        finally:
            self._responses.pop(scope, None)
            response.close()
            response.release_conn()
        return version


def _brief(error: BaseException) -> str:
    if isinstance(error, KubeError):
        return str(error)  # the API server's message: what RBAC or the server refused
    return f"{type(error).__name__}: {error}"[:300]
