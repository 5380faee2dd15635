"""The one task that re-assesses every MonitoredService: its schedule, its pause, the task itself.

kopf's own daemon killer driving the pause signal is tests/unit/test_kopfinternals.py's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from otelwire.reconcile.reassessing import (
    Deferred,
    PauseSignal,
    Reassessor,
    Schedule,
    slim,
)

INTERVAL, SETTLE = 60.0, 1.0


@pytest.mark.parametrize(
    ("steps", "due_at", "expected"),
    [
        ([("add", "a", 0)], 59.9, []),
        ([("add", "a", 0)], 60.0, ["a"]),
        # A pod event brings it forward to SETTLE after the event.
        ([("add", "a", 0), ("wake", "a", 10)], 11.0, ["a"]),
        ([("add", "a", 0), ("wake", "a", 10)], 10.9, []),
        # More events of the same burst do not push it back.
        ([("add", "a", 0), ("wake", "a", 10), ("wake", "a", 10.8)], 11.0, ["a"]),
        # Nor forward: once woken, it waits for the rest of the burst only once.
        ([("add", "a", 0), ("wake", "a", 10), ("wake", "a", 10.5)], 11.0, ["a"]),
        # A service not (or no longer) scheduled is not woken.
        ([("wake", "a", 10)], 100.0, []),
        ([("add", "a", 0), ("remove", "a", 5), ("wake", "a", 10)], 100.0, []),
        # Adding twice keeps the first time.
        ([("add", "a", 0), ("add", "a", 30)], 60.0, ["a"]),
        # A retry is sooner, never later.
        ([("add", "a", 0), ("retry", "a", 5)], 5.0, ["a"]),
        ([("add", "a", 0), ("retry", "a", 500)], 60.0, ["a"]),
        # Order of due services: by their time.
        ([("add", "b", 0), ("add", "a", 1), ("wake", "a", 2)], 61.0, ["a", "b"]),
    ],
)
def test_schedule(steps: list[tuple[str, str, float]], due_at: float, expected: list[str]) -> None:
    schedule = Schedule(INTERVAL, SETTLE)
    for op, key, now in steps:
        if op == "add":
            schedule.add(key, now)
        elif op == "wake":
            schedule.wake(key, now)
        elif op == "remove":
            schedule.remove(key)
        else:
            schedule.retry(key, now)
    assert schedule.due(due_at) == expected


def test_a_due_service_is_scheduled_one_interval_ahead_and_stale_entries_are_skipped() -> None:
    schedule = Schedule(INTERVAL, SETTLE)
    schedule.add("a", 0)
    schedule.wake("a", 10)  # leaves the entry for 60 in the heap
    assert schedule.next_at() == 11.0
    assert schedule.due(11.0) == ["a"]
    assert schedule.next_at() == 71.0  # not the stale 60
    assert schedule.due(60.0) == []
    assert schedule.due(71.0) == ["a"]
    schedule.remove("a")
    assert schedule.next_at() is None
    assert len(schedule) == 0


def test_slim_keeps_identity_spec_and_status_and_drops_the_rest() -> None:
    spec = {"serviceName": "checkout"}
    status = {"conditions": []}
    body = {
        "apiVersion": "otelwire.io/v1alpha1",
        "kind": "MonitoredService",
        "metadata": {
            "name": "a",
            "namespace": "shop",
            "uid": "u",
            "generation": 3,
            "resourceVersion": "7",
            "managedFields": [{"manager": "kubectl"}],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
        },
        "spec": spec,
        "status": status,
    }
    got = slim(body)
    assert got["metadata"] == {"name": "a", "namespace": "shop", "uid": "u", "generation": 3, "resourceVersion": "7"}
    assert got["spec"] == spec and got["status"] == status
    assert got["kind"] == "MonitoredService"
    assert slim({"metadata": {"name": "b"}})["status"] == {}


def test_slim_copies_of_two_services_share_their_equal_strings() -> None:
    def decoded(name: str) -> dict[str, Any]:  # each service from its own watch event
        condition = {"type": "Ready", "status": "True", "reason": "Ready", "lastTransitionTime": "2026-11-26T12:24:40Z"}
        return json.loads(json.dumps({"metadata": {"name": name}, "spec": {}, "status": {"conditions": [condition]}}))

    first, second = decoded("a"), decoded("b")
    kept_a, kept_b = slim(first), slim(second)
    (a,), (b,) = kept_a["status"]["conditions"], kept_b["status"]["conditions"]
    assert a == b == first["status"]["conditions"][0]
    assert all(a[key] is b[key] for key in a)
    assert a is not first["status"]["conditions"][0]  # a copy: the event's own objects can go


def test_pause_signal_follows_the_visits() -> None:
    now = [100.0]
    signal = PauseSignal(clock=lambda: now[0], grace=2.5)
    assert not signal.paused
    signal.visit()
    assert signal.paused
    now[0] += 2.4
    assert signal.paused
    now[0] += 0.2
    assert not signal.paused


async def _until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.01)


class Calls:
    def __init__(self, fail: int = 0, hold: float = 0.0) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail
        self.hold = hold
        self.active: set[str] = set()
        self.overlapped = False
        self.lock = threading.Lock()

    def __call__(self, key: str, body: dict[str, Any]) -> None:
        with self.lock:
            if key in self.active:
                self.overlapped = True
            self.active.add(key)
            self.calls.append((key, body))
        try:
            time.sleep(self.hold)
            if self.fail:
                self.fail -= 1
                raise RuntimeError("API server unavailable")
        finally:
            with self.lock:
                self.active.discard(key)

    def keys(self) -> list[str]:
        return [key for key, _ in self.calls]


@pytest.fixture
def executor() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)
    yield pool
    pool.shutdown(wait=True)


@contextlib.asynccontextmanager
async def running(job: Callable[[str, Any], None], executor: Any, **kwargs: Any) -> AsyncIterator[Reassessor]:
    """A started ``Reassessor`` (not paused unless ``pause`` says so), stopped at the end."""
    kwargs.setdefault("pause", PauseSignal())
    reassessor = Reassessor(job, executor, **kwargs).start()
    try:
        yield reassessor
    finally:
        await reassessor.stop()


def _body(name: str, generation: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "otelwire.io/v1alpha1",
        "kind": "MonitoredService",
        "metadata": {"name": name, "namespace": "shop", "generation": generation, "managedFields": []},
        "spec": {},
        "status": {},
    }


async def test_a_woken_service_is_reassessed_after_settling_with_its_latest_body(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    calls = Calls()
    async with running(calls, executor, interval=3600, settle=0.2) as reassessor:
        reassessor.put("shop/a", _body("a"))
        reassessor.put("shop/b", _body("b"))
        await asyncio.sleep(0.3)
        assert calls.calls == []  # new services wait for the interval (their creation was reconciled)
        started = time.monotonic()
        assert reassessor.wake(["shop/a", "shop/unknown"]) == 1
        reassessor.put("shop/a", _body("a", generation=2))
        await _until(lambda: calls.calls, 2.0)
        assert time.monotonic() - started >= 0.15
        await asyncio.sleep(0.3)
        assert calls.keys() == ["shop/a"]
        assert calls.calls[0][1]["metadata"] == {"name": "a", "namespace": "shop", "generation": 2}


async def test_every_service_is_reassessed_each_interval(executor: concurrent.futures.ThreadPoolExecutor) -> None:
    calls = Calls()
    async with running(calls, executor, interval=0.3, settle=0.05) as reassessor:
        for name in ("a", "b", "c"):
            reassessor.put(f"shop/{name}", _body(name))
        await asyncio.sleep(1.0)
        for key in ("shop/a", "shop/b", "shop/c"):
            assert 2 <= calls.keys().count(key) <= 4
        reassessor.forget("shop/b")
        count = calls.keys().count("shop/b")
        await asyncio.sleep(0.7)
        assert calls.keys().count("shop/b") == count


async def test_a_service_is_never_reassessed_twice_at_once_and_a_wake_during_one_is_not_lost(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    calls = Calls(hold=0.3)
    async with running(calls, executor, interval=3600, settle=0.05) as reassessor:
        reassessor.put("shop/a", _body("a"))
        reassessor.wake(["shop/a"])
        await _until(lambda: calls.active, 2.0)
        reassessor.wake(["shop/a"])  # while it runs
        await _until(lambda: len(calls.calls) == 2, 2.0)
        assert not calls.overlapped


async def test_a_failed_reassessment_is_retried_after_its_delay(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    calls = Calls(fail=1)
    async with running(calls, executor, interval=3600, settle=0.05, retry_delay=lambda error: 0.2) as reassessor:
        reassessor.put("shop/a", _body("a"))
        reassessor.wake(["shop/a"])
        await _until(lambda: len(calls.calls) == 2, 2.0)
        assert calls.fail == 0


async def test_nothing_is_reassessed_while_kopf_has_the_operator_paused(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    calls = Calls()
    pause = PauseSignal(grace=0.5)
    async with running(calls, executor, interval=0.2, settle=0.05, pause=pause) as reassessor:
        pause.visit()
        reassessor.put("shop/a", _body("a"))
        reassessor.wake(["shop/a"])
        await asyncio.sleep(0.35)
        assert calls.calls == []
        await _until(lambda: calls.calls, 2.0)  # resumed: kopf stopped visiting


async def test_a_body_not_ready_waits_without_a_thread_and_runs_once_its_next_state_is(
    executor: concurrent.futures.ThreadPoolExecutor,
) -> None:
    calls = Calls()

    def ready(body: Any) -> bool:
        return bool(body["status"].get("done"))

    async with running(calls, executor, interval=3600, settle=0.05, ready=ready) as reassessor:
        reassessor.put("shop/a", _body("a"))
        reassessor.wake(["shop/a"])
        await asyncio.sleep(0.3)  # looked at about five times, run never
        assert calls.calls == []
        reassessor.put("shop/a", {**_body("a"), "status": {"done": True}})  # no wake: the retry finds it
        await _until(lambda: calls.calls, 2.0)
        await asyncio.sleep(0.2)
        assert calls.keys() == ["shop/a"]


async def test_a_deferring_job_is_retried_after_settling_and_not_logged_as_a_failure(
    executor: concurrent.futures.ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[str] = []

    def job(key: str, body: Any) -> None:
        runs.append(key)
        if len(runs) < 3:
            raise Deferred(key)

    async with running(job, executor, interval=3600, settle=0.05, retry_delay=lambda error: 60.0) as reassessor:
        reassessor.put("shop/a", _body("a"))
        reassessor.wake(["shop/a"])
        await _until(lambda: len(runs) == 3, 2.0)  # not after retry_delay's 60 s
        await asyncio.sleep(0.2)
        assert runs == ["shop/a"] * 3
    assert "re-assessment failed" not in caplog.text
