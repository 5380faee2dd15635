"""The fault proxy itself: its schedule (pure), and on the plane that it forwards, streams and injects."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from plane import Plane

from reconcile.faultproxy import FaultProxy, Schedule, is_watch


def test_the_schedule_faults_every_nth_request_of_a_class_cycling_through_its_kinds() -> None:
    schedule = Schedule(mutate_every=3, mutate_faults=("conflict", "internal"), read_every=2, read_faults=("stall",))
    mutating = [schedule.decide(method) for method in ["PATCH", "POST", "PUT"] * 4]
    assert mutating == [None, None, "conflict", None, None, "internal", None, None, "conflict", None, None, "internal"]
    reads = [schedule.decide("GET") for _ in range(6)]
    assert reads == [None, "stall", None, "stall", None, "stall"]
    assert schedule.injected == {"conflict": 2, "internal": 2, "stall": 3}
    assert schedule.counts == {"mutating": 12, "read": 6}


def test_watches_and_other_methods_are_never_faulted() -> None:
    schedule = Schedule(mutate_every=1, read_every=1)
    assert [schedule.decide("GET", watch=True) for _ in range(5)] == [None] * 5
    assert [schedule.decide("DELETE") for _ in range(5)] == [None] * 5
    assert schedule.decide("GET") == "unavailable"
    assert schedule.counts == {"watch": 5, "other": 5, "read": 1}


def test_limits_bound_the_faults() -> None:
    schedule = Schedule(read_every=1, read_faults=("stall", "unavailable"), limits={"stall": 1}, total=3)
    assert [schedule.decide("GET") for _ in range(6)] == ["stall", "unavailable", None, "unavailable", None, None]
    assert sum(schedule.injected.values()) == 3


def test_a_fault_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        Schedule(mutate_faults=("teapot",))


@pytest.mark.parametrize(
    ("query", "expected"),
    [("watch=true", True), ("watch=1&timeoutSeconds=3", True), ("watch=false", False), ("", False), ("x=watch", False)],
)
def test_is_watch(query: str, expected: bool) -> None:
    assert is_watch(query) is expected


def _call(proxy: FaultProxy, method: str, path: str, body: Any = None, timeout: float = 20) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/merge-patch+json" if method == "PATCH" else "application/json"}
    request = urllib.request.Request(f"{proxy.url}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_the_proxy_forwards_streams_watches_and_injects_on_the_plane(plane: Plane, tmp_path: Path) -> None:
    ns = plane.create_namespace("faultproxy")
    schedule = Schedule(mutate_every=2, mutate_faults=("conflict",), read_every=3, read_faults=("unavailable",))
    with FaultProxy(plane.kubeconfig, schedule) as proxy:
        # Reads 1 and 2 pass; read 3 is a 503 Status.
        assert _call(proxy, "GET", "/version")[0] == 200
        assert _call(proxy, "GET", f"/api/v1/namespaces/{ns}")[0] == 200
        code, body = _call(proxy, "GET", f"/api/v1/namespaces/{ns}")
        assert (code, body["reason"], body["kind"]) == (503, "ServiceUnavailable", "Status")

        # A watch streams: the event of a ConfigMap created after the watch began arrives
        # while the watch is still open (timeoutSeconds=20), chunk by chunk.
        events: list[tuple[float, dict[str, Any]]] = []

        def watch() -> None:
            url = f"{proxy.url}/api/v1/namespaces/{ns}/configmaps?watch=true&timeoutSeconds=20"
            with urllib.request.urlopen(url, timeout=30) as response:
                for line in response:
                    events.append((time.monotonic(), json.loads(line)))
                    if events[-1][1]["object"]["metadata"]["name"] == "streamed":
                        return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        time.sleep(1)
        configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "streamed"}, "data": {"a": "1"}}
        created_at = time.monotonic()
        # Mutating 1 passes, mutating 2 is a 409; a retry (mutating 3) passes.
        assert _call(proxy, "POST", f"/api/v1/namespaces/{ns}/configmaps", configmap)[0] == 201
        path = f"/api/v1/namespaces/{ns}/configmaps/streamed"
        code, body = _call(proxy, "PATCH", path, {"data": {"a": "2"}})
        assert (code, body["reason"], body["code"]) == (409, "Conflict", 409)
        assert _call(proxy, "PATCH", path, {"data": {"a": "2"}})[0] == 200
        watcher.join(25)
        assert events, "the watch delivered nothing"
        arrived, last = events[-1]
        assert last["type"] == "ADDED" and arrived - created_at < 10, "the watch event must arrive while streaming"
        assert plane.kubectl_json("get", "configmap", "streamed", "-n", ns)["data"] == {"a": "2"}
        assert proxy.injected == {"conflict": 1, "unavailable": 1}
        assert proxy.seen["watch"] == 1
        assert not proxy.errors


def test_a_stall_drops_the_request_unanswered(plane: Plane) -> None:
    schedule = Schedule(read_every=1, read_faults=("stall",), limits={"stall": 1}, stall_seconds=2)
    with FaultProxy(plane.kubeconfig, schedule) as proxy:
        started = time.monotonic()
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"{proxy.url}/version", timeout=10)
        assert 1.5 < time.monotonic() - started < 9
        assert _call(proxy, "GET", "/version")[0] == 200  # the limit is reached: forwarded
        assert proxy.injected == {"stall": 1}
