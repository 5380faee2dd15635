"""One informer for every kind otelwire follows outside kopf: list in pages, watch, relist on 410.

kopf follows the MonitoredServices for their handlers.  Two other followers
run beside it: the pod store assessment reads (``observe.pods``) and a
standby replica's mirror of MonitoredServices for its webhook
(``observe.mirror``).  Both are an :class:`Informer` -- what client-go's
reflector does, written once:

* list the collection in pages of ``page`` objects (the peak of a listing is one
  page of decoded objects: each object is handed to ``listed`` as it comes, and
  freed once taken), then
* watch from the listed ``resourceVersion``, with bookmarks, one request of
  ``watch_seconds`` after another, handing each ADDED, MODIFIED or DELETED
  object to ``event``;
* a ``410 Gone`` (as a status or as a watch event) lists again at once; any
  other failure (refused, reset, 5xx, a 403 while RBAC is being fixed) lists
  again after a backoff that doubles up to 30 s;
* one daemon thread per informer; :meth:`stop` ends it and unblocks its read.

Each follows one informer per scope (a watched namespace, or the whole cluster)
through :class:`ScopedInformers`, which also says when every scope has listed once.

The objects are decoded with ``otelwire.decoding`` (orjson where it agrees with
``json``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from otelwire import decoding
from otelwire.kube.client import Kube, KubeError

logger = logging.getLogger(__name__)

WATCH_SECONDS = 240  # one watch request; then it is resumed from the last resourceVersion
PAGE = 100  # objects per LIST page (0: one response)
MAX_BACKOFF = 30.0

Listed = Callable[[Iterator[Mapping[str, Any]]], None]  # consumes every object of one complete listing
Event = Callable[[str, Mapping[str, Any]], None]  # (ADDED | MODIFIED | DELETED, object)


class Expired(Exception):
    """The watched resourceVersion is too old (``410 Gone``): list again."""


def watch_query(version: str, seconds: int) -> dict[str, str]:
    """The query of one watch request from ``version``, with bookmarks, ended by the server after ``seconds``."""
    return {"watch": "true", "resourceVersion": version, "allowWatchBookmarks": "true", "timeoutSeconds": str(seconds)}


def watch_events(response: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(type, object) of each event of a streaming watch response; ``Expired`` on ``410 Gone``."""
    for line in _lines(response):
        event = decoding.loads(line)
        kind, found = str(event.get("type") or ""), event.get("object") or {}
        if kind == "ERROR":
            if found.get("code") == 410:
                raise Expired(found.get("message") or "resource version too old")
            raise RuntimeError(f"{found.get('reason')}: {found.get('message')}")
        yield kind, found


def _lines(response: Any) -> Iterator[bytes]:
    """The non-empty newline-separated lines of a streaming response."""
    parts: list[bytes] = []
    for chunk in response.stream(amt=None, decode_content=False):
        while chunk:
            end = chunk.find(b"\n")
            if end < 0:
                parts.append(chunk)
                break
            parts.append(chunk[:end])
            line = b"".join(parts)
            parts.clear()
            if line.strip():
                yield line
            chunk = chunk[end + 1 :]
    tail = b"".join(parts)
    if tail.strip():
        yield tail


class Informer:
    """List+watch of one collection (``path``, e.g. ``/api/v1/pods``) into ``listed`` and ``event``."""

    def __init__(
        self,
        kube: Kube,
        path: str,
        *,
        listed: Listed,
        event: Event,
        name: str,
        page: int = PAGE,
        watch_seconds: int = WATCH_SECONDS,
        backoff: float = 1.0,
    ) -> None:
        self.kube = kube
        self.path = path
        self.listed = listed
        self.event = event
        self.name = name
        self.page = page
        self.watch_seconds = watch_seconds
        self.backoff = backoff
        self._stopping = threading.Event()
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, name=f"otelwire-{name}", daemon=True)

    def start(self) -> Informer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):  # already closed
                response.shutdown()  # unblocks the thread's read

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _run(self) -> None:
        delay = self.backoff
        version: str | None = None
        while not self._stopping.is_set():
            try:
                if version is None:
                    version = self._list()
                    delay = self.backoff
                version = self._watch(version)
            except Exception as error:
                if self._stopping.is_set():
                    return
                version = None
                if isinstance(error, Expired) or getattr(error, "status", None) == 410:
                    continue  # the listed version is too old: list again at once
                logger.warning("%s: %s; listing again in %.0fs", self.name, _brief(error), delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF)

    def _list(self) -> str:
        """One complete listing, page by page, into ``listed``; its resourceVersion."""
        last: dict[str, Any] = {}

        def objects() -> Iterator[Mapping[str, Any]]:
            token: str | None = None
            while True:
                query = {"limit": str(self.page)} if self.page else {}
                if token:
                    query["continue"] = token
                response = self.kube.stream(self.path, query, 60)
                try:
                    page = decoding.loads(response.data)
                finally:
                    response.release_conn()
                del response  # its body, until the next page's request replaced it
                items: list[Mapping[str, Any]] = page.get("items") or []
                meta = page.get("metadata") or {}
                del page
                items.reverse()
                while items:  # each object freed once taken, not with its page
                    yield items.pop()
                token = meta.get("continue") or None
                if not token:
                    last.update(meta)
                    return

        self.listed(objects())
        return str(last.get("resourceVersion") or "")

    def _watch(self, version: str) -> str:
        """Follow one watch request from ``version``; the last resourceVersion seen."""
        response = self.kube.stream(self.path, watch_query(version, self.watch_seconds), (10, self.watch_seconds + 30))
        self._response = response
        try:
            for kind, obj in watch_events(response):
                if self._stopping.is_set():
                    return version
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if kind in ("ADDED", "MODIFIED", "DELETED"):
                    self.event(kind, obj)
        finally:
            self._response = None
            response.close()
            response.release_conn()
        return version


class ScopedInformers:
    """One :class:`Informer` per scope of a collection -- a namespace, or None for the whole cluster --
    and whether every scope has been listed once.

    ``path(scope)`` is the collection's path in that scope; ``listed(scope, objects)`` takes each
    complete listing, and its owner calls :meth:`mark_listed` once what it listed is in place (so
    a reader that sees :attr:`synced` also sees the objects).
    """

    def __init__(
        self,
        kube: Kube,
        scopes: tuple[str | None, ...],
        path: Callable[[str | None], str],
        *,
        listed: Callable[[str | None, Iterator[Mapping[str, Any]]], None],
        event: Event,
        name: str,
        page: int = PAGE,
        backoff: float = 1.0,
    ) -> None:
        self.scopes = scopes
        self._unlisted = set(scopes)
        self._lock = threading.Lock()
        self._listed = threading.Event()
        self._waited_out = False
        self.informers = [
            Informer(
                kube,
                path(scope),
                listed=lambda objects, scope=scope: listed(scope, objects),  # type: ignore[misc]
                event=event,
                name=f"{name}-{scope or 'cluster'}",
                page=page,
                backoff=backoff,
            )
            for scope in scopes
        ]

    @property
    def synced(self) -> bool:
        """Every scope was listed once."""
        return self._listed.is_set()

    def mark_listed(self, scope: str | None) -> None:
        with self._lock:
            self._unlisted.discard(scope)
            if not self._unlisted:
                self._listed.set()

    def wait(self, timeout: float) -> bool:
        """Block until every scope was listed once (or ``timeout``); whether it was.

        Once a wait has run out, later ones do not block: a listing that keeps failing
        (RBAC, say; the informer logs why) must not hold every caller for the whole
        ``timeout`` in turn.  They ask again until it succeeds.
        """
        if self._waited_out:
            return self._listed.is_set()
        listed = self._listed.wait(timeout)
        if not listed:
            self._waited_out = True
        return listed

    def start(self) -> None:
        for informer in self.informers:
            informer.start()

    def stop(self) -> None:
        for informer in self.informers:
            informer.stop()


def _brief(error: BaseException) -> str:
    if isinstance(error, KubeError):
        return str(error)  # the API server's message: what RBAC or the server refused
    return f"{type(error).__name__}: {error}"[:300]
