"""Per-service bookkeeping of a running operator: locks, rate-limited restarts, the Ready gauge.

Plain thread-safe objects, shared by kopf's handler threads and the
re-assessment threads; nothing here calls the API.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


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
