"""When the webhook may answer after a start: once the index has seen every MonitoredService.

A pod created just after an operator restart must get what its
MonitoredService says, not an "unmatched" answer from an index still being
filled; ``serving`` waits for :attr:`IndexReadiness.ready` (a few seconds at
most).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


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
