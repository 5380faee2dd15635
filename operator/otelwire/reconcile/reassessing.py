"""Re-assessment of every MonitoredService by one task: when a pod it selects changes, and periodically.

A MonitoredService's status follows its pods (``Injected``, the workload
counts, ``Ready``) and facts that change without an event (the collector's
reachability, the node clocks).  Each service is re-assessed ``settle``
seconds after a pod it selects changed -- a burst of pod events gives one
re-assessment -- and every ``interval`` at the latest.

One task serves every service, not a kopf daemon per service: a daemon makes
kopf keep the object's whole latest body and a task, a stopper, a logger and a
cause per object (~20 KB per service).  This task keeps, per service, its time
of next re-assessment and a slim copy of the object (metadata names, spec,
status; ``slim``) that the index handler keeps current from every event.

Like kopf's daemons, re-assessment stops while a peering replica is paused:
its indexes are not updated then, and a standby writing statuses from them
would undo the active replica's.  :class:`PauseSignal` says whether kopf has
the operator paused; ``handlers.kopfinternals`` is what keeps it informed.

``Schedule`` is the pure part (plain data, an explicit clock); ``Reassessor``
the event-loop shell around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from otelwire import metrics
from otelwire.assess.facts import shared_strings

logger = logging.getLogger(__name__)

PAUSE_GRACE = 2.5  # seconds after kopf's last visit while paused (it visits every 1 s)
SETTLE = 1.0  # seconds a woken service waits for the rest of a burst of pod events


def slim(body: Mapping[str, Any]) -> dict[str, Any]:
    """What a re-assessment reads of a MonitoredService: its identity, spec and status.

    Spec and status are copied with their strings shared across services
    (``facts.shared_strings``): 1,000 services' conditions kept as decoded
    take 3.3 MB more.
    """
    meta = body.get("metadata") or {}
    kept = ("name", "namespace", "uid", "generation", "resourceVersion")
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {key: meta[key] for key in kept if key in meta},
        "spec": shared_strings(body.get("spec") or {}),
        "status": shared_strings(body.get("status") or {}),
    }


class Schedule:
    """When each MonitoredService (``namespace/name``) is next re-assessed.

    ``add`` schedules a new service one interval ahead (its creation was just
    reconciled); ``wake`` brings it to ``settle`` seconds from now unless it is
    due sooner; ``due`` hands out the services whose time came and schedules
    each one interval ahead again.  A heap of (time, key) with stale entries
    skipped keeps every operation O(log n).
    """

    def __init__(self, interval: float, settle: float) -> None:
        self.interval = interval
        self.settle = settle
        self._at: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._at)

    def _set(self, key: str, when: float) -> None:
        self._at[key] = when
        heapq.heappush(self._heap, (when, key))

    def add(self, key: str, now: float) -> bool:
        """Schedule ``key`` if it is not yet; whether it was new."""
        if key in self._at:
            return False
        self._set(key, now + self.interval)
        return True

    def remove(self, key: str) -> None:
        self._at.pop(key, None)

    def wake(self, key: str, now: float) -> bool:
        """Re-assess ``key`` after ``settle``, unless it is due sooner; whether it was brought forward."""
        when = self._at.get(key)
        if when is None or when <= now + self.settle:
            return False
        self._set(key, now + self.settle)
        return True

    def retry(self, key: str, when: float) -> None:
        """Re-assess ``key`` at ``when`` (or sooner, if it is due sooner)."""
        current = self._at.get(key)
        if current is not None and when < current:
            self._set(key, when)

    def next_at(self) -> float | None:
        while self._heap:
            when, key = self._heap[0]
            if self._at.get(key) == when:
                return when
            heapq.heappop(self._heap)  # removed, or rescheduled since
        return None

    def due(self, now: float) -> list[str]:
        keys: list[str] = []
        while self._heap and self._heap[0][0] <= now:
            when, key = heapq.heappop(self._heap)
            if self._at.get(key) != when:
                continue
            keys.append(key)
            self._set(key, now + self.interval)
        return keys


class PauseSignal:
    """Whether kopf has the operator paused (peering): ``visit`` is called while it is, every second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, grace: float = PAUSE_GRACE) -> None:
        self.clock = clock
        self.grace = grace
        self.visited: float | None = None

    def visit(self) -> None:
        self.visited = self.clock()

    @property
    def paused(self) -> bool:
        return self.visited is not None and self.clock() - self.visited < self.grace


PAUSE = PauseSignal()


Job = Callable[[str, Mapping[str, Any]], None]  # (key, slim body) -> None; raises to be retried


class Deferred(Exception):
    """Raised by a job whose service is not ready for it yet: retried after ``settle``, not logged."""


class Retry(Exception):
    """A reconcile or re-assessment that failed for now (an API error): retried after ``delay`` seconds."""

    def __init__(self, message: str, delay: float = 10.0) -> None:
        super().__init__(message)
        self.delay = delay


class Reassessor:
    """The one task re-assessing MonitoredServices by ``Schedule``, ``workers`` at a time, in ``executor``.

    Event-loop only, except ``job``, which runs in the executor's threads.  ``put`` and
    ``forget`` come from the index function (every event of every MonitoredService),
    ``wake`` from pod events.  A service is never re-assessed twice at once; one woken
    while it is being re-assessed is re-assessed again ``settle`` after.  One whose body
    is not ``ready`` (or whose job raises ``Deferred``) is looked at again ``settle`` after.
    """

    def __init__(
        self,
        job: Job,
        executor: Any,
        *,
        interval: float,
        settle: float,
        workers: int = 4,
        pause: PauseSignal = PAUSE,
        retry_delay: Callable[[BaseException], float] = lambda error: 10.0,
        ready: Callable[[Mapping[str, Any]], bool] = lambda body: True,
    ) -> None:
        self.job = job
        self.ready = ready
        self.executor = executor
        self.schedule = Schedule(interval, settle)
        self.bodies: dict[str, dict[str, Any]] = {}
        self.pause = pause
        self.retry_delay = retry_delay
        self._slots = asyncio.Semaphore(workers)
        self._running: set[str] = set()
        self._changed = asyncio.Event()
        self._context: contextvars.Context | None = None
        self._task: asyncio.Task[None] | None = None
        self._jobs: set[asyncio.Task[None]] = set()

    def put(self, key: str, body: Mapping[str, Any]) -> None:
        """The latest state of ``key`` (from a kopf event: its context carries kopf's event posting)."""
        self.bodies[key] = slim(body)
        if self._context is None:
            self._context = contextvars.copy_context()
        if self.schedule.add(key, self._now()):
            self._changed.set()

    def forget(self, key: str) -> None:
        self.bodies.pop(key, None)
        self.schedule.remove(key)

    def wake(self, keys: Iterable[str]) -> int:
        now = self._now()
        woken = sum(1 for key in keys if self.schedule.wake(key, now))
        if woken:
            self._changed.set()
        return woken

    def start(self) -> Reassessor:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="otelwire re-assessments")
        return self

    async def stop(self) -> None:
        for task in [self._task, *self._jobs]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in [self._task, *self._jobs] if t is not None), return_exceptions=True)

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()

    async def _run(self) -> None:
        while True:
            if self.pause.paused:  # a paused replica's indexes are stale: re-assess nothing
                await asyncio.sleep(0.5)
                continue
            self._changed.clear()  # before looking: a change while the due ones start is seen next round
            now = self._now()
            for key in self.schedule.due(now):
                if key in self._running:
                    self.schedule.retry(key, now + self.schedule.settle)
                    continue
                await self._slots.acquire()
                self._running.add(key)
                task = asyncio.get_running_loop().create_task(self._one(key), name=f"re-assessment of {key}")
                self._jobs.add(task)
                task.add_done_callback(self._jobs.discard)
            wait = None
            next_at = self.schedule.next_at()
            if next_at is not None:
                wait = max(0.0, next_at - self._now())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=wait)

    async def _one(self, key: str) -> None:
        try:
            body = self.bodies.get(key)
            if body is None or self.pause.paused:
                return
            if not self.ready(body):  # checked here too: no thread waits on it
                self._defer(key)
                return
            context = (self._context or contextvars.copy_context()).copy()  # kopf.info/warn read it
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(self.executor, context.run, self.job, key, body)
                metrics.REASSESSMENTS.labels("done").inc()
            except asyncio.CancelledError:
                raise
            except Deferred:
                metrics.REASSESSMENTS.labels("deferred").inc()
                self._defer(key)
            except Exception as error:
                metrics.REASSESSMENTS.labels("failed").inc()
                delay = self.retry_delay(error)
                logger.warning("%s: re-assessment failed, retrying in %ss: %s", key, delay, error)
                self.schedule.retry(key, self._now() + delay)
                self._changed.set()
        finally:
            self._running.discard(key)
            self._slots.release()

    def _defer(self, key: str) -> None:
        self.schedule.retry(key, self._now() + self.schedule.settle)
        self._changed.set()
