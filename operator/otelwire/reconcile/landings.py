"""When a new generation's status rides on kopf's patch: re-assessments wait for it to land.

A create/update handler's status goes out with kopf's own patch of its diff
base (one write, not two), after the handler returns and releases the
service's lock.  A re-assessment written in between would be overwritten by
that older status, so it waits (:class:`Landings`) for the event that carries
the new generation's status.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

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
