"""The valid MonitoredServices of each namespace, indexed for selector lookups.

Kept by the index handler from every event of every MonitoredService, read by
pod wake-ups (on the event loop) and by reconciles (in worker threads).
"""

from __future__ import annotations

import threading

from otelwire.plan.selecting import SelectorIndex
from otelwire.spec.model import MonitoredService


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
