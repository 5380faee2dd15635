"""Shared state of a running operator.

The shared state (API client, prober, webhook server) lives in kopf's ``memo``
and is created by the startup handler; the options are ``otelwire.options``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from otelwire.plan.selecting import SelectorIndex
from otelwire.spec.model import MonitoredService


@dataclass
class RestartBook:
    """When each workload was last restarted by otelwire, to rate-limit rollouts."""

    last: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, key: str, now: float, min_interval: float) -> bool:
        with self.lock:
            if now - self.last.get(key, float("-inf")) < min_interval:
                return False
            self.last[key] = now
            return True


@dataclass
class ReadyBook:
    """Ready status per MonitoredService, for the operator's gauge."""

    ready: dict[str, bool] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, key: str, value: bool | None) -> tuple[int, int]:
        with self.lock:
            if value is None:
                self.ready.pop(key, None)
            else:
                self.ready[key] = value
            yes = sum(1 for v in self.ready.values() if v)
            return yes, len(self.ready) - yes


class ReconcileLocks:
    """One lock per MonitoredService (``namespace/name``).

    They serialise reconciles of one service across its handler and its re-assessment
    (different worker threads), so an older assessment never lands after a newer one.
    """

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: str) -> threading.Lock:
        with self._guard:
            found = self._locks.get(key)
            if found is None:
                found = self._locks[key] = threading.Lock()
            return found

    def drop(self, key: str) -> None:
        with self._guard:
            self._locks.pop(key, None)


DIFFBASE_FIELD = "status.kopf.diffbase"  # where kopf keeps the last spec it handled


def handled(body: Mapping[str, object]) -> bool:
    """Whether a MonitoredService's status is of its spec's current generation.

    ``status.observedGeneration`` is written by the create/update handler (or, once it
    is known to be late, by a re-assessment); until then the handler's status is due.
    """
    metadata = body.get("metadata")
    status = body.get("status")
    generation = metadata.get("generation") if isinstance(metadata, Mapping) else None
    observed = status.get("observedGeneration") if isinstance(status, Mapping) else None
    return not isinstance(generation, int) or observed == generation


class Landings:
    """Handlers' statuses on their way with kopf's patch, by MonitoredService (``namespace/name``).

    A create/update handler's status goes out with kopf's own patch, after the handler
    returns and releases the service's lock.  A re-assessment written in between would be
    overwritten by that older status, so it waits (``awaited``) until the event with the
    new generation's status arrives -- for at most ``window`` seconds: kopf drops its patch
    on a 409 and may retry a failing one for a minute.  A status that lands after the wait
    ran out (``landed`` says so) may be older than a re-assessment's: re-assess once more.
    """

    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._until: dict[str, float] = {}

    def expect(self, key: str) -> None:
        self._until[key] = self.clock() + self.window

    def awaited(self, key: str, body: Mapping[str, object]) -> bool:
        """Whether a re-assessment of ``key`` (whose latest state is ``body``) waits for its handler."""
        if handled(body):
            return False
        until = self._until.get(key)
        return until is not None and self.clock() < until

    def landed(self, key: str, body: Mapping[str, object]) -> bool:
        """For every event of ``key``: whether a handler's status just landed after the wait ran out."""
        until = self._until.pop(key, None) if handled(body) else None
        return until is not None and self.clock() >= until

    def forget(self, key: str) -> None:
        self._until.pop(key, None)


def service_key(body: Mapping[str, object]) -> str:
    """``namespace/name`` of a MonitoredService body."""
    metadata = body.get("metadata")
    meta = metadata if isinstance(metadata, Mapping) else {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name') or ''}"


class IndexReadiness:
    """Set once kopf's index has seen every MonitoredService that existed when the operator started.

    ``expect`` gets the keys of one LIST made at start-up; ``seen`` is called by the index
    function for every object it is given (before or after that list arrives).  Event-loop
    only.  The start-up code also sets ``ready`` after a bound, so that an object deleted
    before kopf listed it cannot hold the webhook back.
    """

    def __init__(self) -> None:
        self.ready = asyncio.Event()
        self._waiting: set[str] | None = None  # None: the start-up list has not arrived yet
        self._seen: set[str] = set()

    def expect(self, keys: Iterable[str]) -> None:
        if self.ready.is_set():
            return
        self._waiting = set(keys) - self._seen
        self._seen.clear()
        if not self._waiting:
            self.ready.set()

    def seen(self, key: str) -> None:
        if self.ready.is_set():
            return
        if self._waiting is None:
            self._seen.add(key)
            return
        self._waiting.discard(key)
        if not self._waiting:
            self.ready.set()


class Selections:
    """The valid MonitoredServices per namespace, as a :class:`SelectorIndex` each.

    Kept by ``msvc_index`` itself (and the deletion event): it sees every change
    to what kopf's index holds, so readers -- pod events on the event loop,
    reconciles in worker threads -- get the current selection without copying
    the namespace's services.  ``version`` changes with every change anywhere.
    """

    def __init__(self) -> None:
        self._by_namespace: dict[str, SelectorIndex] = {}
        self._lock = threading.Lock()
        self.version = 0

    def get(self, namespace: str) -> SelectorIndex:
        with self._lock:
            found = self._by_namespace.get(namespace)
        return found if found is not None else SelectorIndex(namespace)

    def put(self, namespace: str, name: str, ms: MonitoredService | None) -> None:
        """``ms`` is now what the index holds for ``namespace/name`` (None: nothing)."""
        with self._lock:
            index = self._by_namespace.get(namespace)
            if ms is None:
                if index is None or index.get(name) is None:
                    return
                index.drop(name)
                if not len(index):
                    del self._by_namespace[namespace]
            else:
                if index is None:
                    index = self._by_namespace[namespace] = SelectorIndex(namespace)
                elif index.get(name) is ms:
                    return
                index.put(ms)
            self.version += 1

    def all(self) -> list[MonitoredService]:
        with self._lock:
            indexes = list(self._by_namespace.values())
        return [ms for index in indexes for ms in index.services]


def watched_namespaces(environ: Mapping[str, str] | None = None) -> tuple[list[str], bool]:
    """``otelwire run``'s namespaces (empty: the whole cluster), and whether any is a kopf pattern."""
    env = os.environ if environ is None else environ
    namespaces = [ns for ns in env.get("OTELWIRE_WATCH_NAMESPACES", "").split(",") if ns]
    return namespaces, any(any(c in ns for c in "*?[!") for ns in namespaces)


T = TypeVar("T")


def snapshot(items: Iterable[T]) -> list[T]:
    """A list copy of a kopf index (or one of its stores), safe against concurrent updates.

    kopf updates its indexes from the event loop while sync handlers run in worker threads;
    iterating a live store can raise "dictionary changed size during iteration".  Copying is
    retried until it completes (a few tries at most; updates are rare and short).
    """
    for _ in range(10):
        try:
            return list(items)
        except RuntimeError:
            continue
    return list(items)
