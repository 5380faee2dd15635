"""How a reconcile writes status: with kopf's patch for a new generation, else at once; and the kopf handlers' part."""

from __future__ import annotations

import asyncio
import json
import threading
from types import SimpleNamespace
from typing import Any

import kopf
import pytest
from otelwire.assess.assessing import Assessment
from otelwire.handlers import services
from otelwire.reconcile import reconciling
from otelwire.reconcile.books import ReadyBook, ReconcileLocks
from otelwire.reconcile.landings import Landings, handled
from otelwire.reconcile.reassessing import Deferred


@pytest.mark.parametrize(
    ("metadata", "status", "expected"),
    [
        ({"generation": 1}, {}, False),  # created, its handler's patch not seen yet
        ({"generation": 1}, {"observedGeneration": 1}, True),
        ({"generation": 2}, {"observedGeneration": 1}, False),  # spec changed, handler pending
        ({"generation": 2}, {"observedGeneration": 2, "conditions": []}, True),
        ({}, {}, True),  # no generation to wait for
        ({"generation": 3}, {"observedGeneration": "3"}, False),
    ],
)
def test_handled(metadata: dict[str, Any], status: dict[str, Any], expected: bool) -> None:
    assert handled({"metadata": metadata, "status": status}) is expected


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _state(generation: int, observed: int | None) -> dict[str, Any]:
    status = {} if observed is None else {"observedGeneration": observed}
    return {"metadata": {"name": "a", "namespace": "shop", "generation": generation}, "status": status}


def test_a_reassessment_waits_for_an_expected_status_only_within_the_window() -> None:
    clock = Clock()
    landings = Landings(window=10.0, clock=clock)
    assert not landings.awaited("shop/a", _state(1, None))  # no handler has returned a status
    landings.expect("shop/a")
    assert landings.awaited("shop/a", _state(1, None))
    assert not landings.awaited("shop/a", _state(1, 1))  # it landed
    clock.now += 10.0
    assert not landings.awaited("shop/a", _state(1, None))  # kopf dropped or still retries its patch


def test_a_status_landing_late_asks_for_one_more_reassessment() -> None:
    clock = Clock()
    landings = Landings(window=10.0, clock=clock)
    landings.expect("shop/a")
    assert not landings.landed("shop/a", _state(1, None))  # an event without it
    assert not landings.landed("shop/a", _state(1, 1))  # in time: a re-assessment waited for it
    landings.expect("shop/a")
    clock.now += 11.0
    assert landings.landed("shop/a", _state(1, 1))  # late: a re-assessment may have gone before it
    assert not landings.landed("shop/a", _state(1, 1))  # once
    landings.expect("shop/b")
    landings.forget("shop/b")
    assert not landings.awaited("shop/b", _state(1, None))


class Kube:
    def __init__(self) -> None:
        self.patches: list[tuple[str, dict[str, Any]]] = []

    def merge_patch(self, path: str, patch: dict[str, Any]) -> None:
        self.patches.append((path, patch))


def _runtime() -> Any:
    """The parts of ``reconcile.runtime.Runtime`` that writing a status and the handlers use."""
    return SimpleNamespace(kube=Kube(), readiness=ReadyBook(), locks=ReconcileLocks(), landings=Landings())


def _announce(type_: str, reason: str, message: str) -> None:
    pass


BODY = kopf.Body({"metadata": {"name": "orders", "namespace": "services-test", "generation": 2}})
WANTED = {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "False"}]}


def _write(runtime: Any, status: dict[str, Any], patch: kopf.Patch | None = None) -> None:
    reconciling.write(
        runtime,
        Assessment(status=dict(WANTED), ready=False),
        BODY,
        status,
        announce=_announce,
        patch_status=None if patch is None else patch.status,
    )


def test_a_new_generation_s_status_rides_on_kopf_s_patch_and_makes_no_call() -> None:
    runtime = _runtime()
    patch = kopf.Patch()
    patch.status["kopf"] = {"diffbase": "{}"}  # kopf's own, kept
    _write(runtime, {}, patch)
    assert runtime.kube.patches == []
    assert patch == {"status": {"kopf": {"diffbase": "{}"}, **WANTED}}
    assert runtime.landings.awaited("services-test/orders", {"metadata": {"generation": 2}, "status": {}})


def test_without_kopf_s_patch_the_status_is_merge_patched_at_once() -> None:
    runtime = _runtime()
    _write(runtime, {})
    assert runtime.kube.patches == [
        ("/apis/otelwire.io/v1alpha1/namespaces/services-test/monitoredservices/orders/status", {"status": WANTED})
    ]


@pytest.mark.parametrize("patch", [None, kopf.Patch()])
def test_an_unchanged_status_is_not_written_either_way(patch: kopf.Patch | None) -> None:
    runtime = _runtime()
    _write(runtime, {**WANTED, "kopf": {}}, patch)
    assert runtime.kube.patches == []
    assert not patch


def _reassessment(runtime: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []

    def reconcile(runtime: Any, body: Any, status: Any, **_: Any) -> None:
        assert runtime.locks.lock("shop/a").locked()  # under the service's lock
        seen.append(dict(body))

    monkeypatch.setattr(reconciling, "reconcile", reconcile)
    return services.reassessment(runtime), seen


def _slim(generation: int, observed: int | None) -> dict[str, Any]:
    status = {} if observed is None else {"observedGeneration": observed}
    meta = {"name": "a", "namespace": "shop", "generation": generation}
    return {"metadata": meta, "spec": {"injection": {"mode": "webhook"}}, "status": status}


def test_a_reassessment_reads_the_latest_body_under_the_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = _runtime()
    memo.reassessor = SimpleNamespace(bodies={"shop/a": _slim(2, 2)})
    reassess, seen = _reassessment(memo, monkeypatch)
    reassess("shop/a", _slim(1, 1))  # what it was handed: older
    assert [body["metadata"]["generation"] for body in seen] == [2]


def test_a_reassessment_waits_for_the_status_a_handler_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = _runtime()
    memo.reassessor = SimpleNamespace(bodies={"shop/a": _slim(2, 1)})
    reassess, seen = _reassessment(memo, monkeypatch)
    reassess("shop/a", _slim(1, 1))  # its handler has not run: nothing to wait for
    memo.landings.expect("shop/a")  # now it has
    with pytest.raises(Deferred):
        reassess("shop/a", _slim(1, 1))
    assert [body["metadata"]["generation"] for body in seen] == [2]


def test_a_reassessment_of_a_service_deleted_meanwhile_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = _runtime()
    memo.reassessor = SimpleNamespace(bodies={})
    reassess, seen = _reassessment(memo, monkeypatch)
    reassess("shop/a", _slim(1, 1))
    assert seen == []


def test_a_reassessment_waits_for_a_running_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    memo = _runtime()
    memo.reassessor = SimpleNamespace(bodies={"shop/a": _slim(1, 1)})
    reassess, seen = _reassessment(memo, monkeypatch)
    lock = memo.locks.lock("shop/a")
    lock.acquire()  # the handler, running
    thread = threading.Thread(target=reassess, args=("shop/a", _slim(1, 1)))
    thread.start()
    thread.join(0.2)
    assert thread.is_alive() and seen == []
    memo.reassessor.bodies["shop/a"] = _slim(2, 2)  # what the handler's patch brought
    lock.release()
    thread.join(2.0)
    assert [body["metadata"]["generation"] for body in seen] == [2]


def _diffbase(mode: str) -> dict[str, Any]:
    return {"kopf": {"diffbase": json.dumps({"spec": {"injection": {"mode": mode}}})}}


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        ({"injection": {"mode": "webhook"}}, {}, False),
        ({}, {}, False),  # webhook mode by default
        ({"injection": {"mode": "patch"}}, {}, True),  # gives back what it applied
        ({"clock": {"sync": "chrony"}}, {}, True),  # the DaemonSet goes with the last one
        ({"clock": {"sync": "none"}}, {}, False),
        ({"aliases": ["orders-legacy"]}, {}, True),  # the collector rules ConfigMap
        ({"aliases": []}, {}, False),
        ({"dashboard": True}, {}, False),  # owned: garbage-collected
        ({"injection": {"mode": "webhook"}}, _diffbase("patch"), True),  # switched, not yet released
        ({"injection": {"mode": "webhook"}}, _diffbase("webhook"), False),  # released
        ({"injection": {"mode": "webhook"}}, {"kopf": {"diffbase": "{not json"}}, True),
        ({"injection": "patch"}, {}, False),  # invalid: nothing was applied for it
        ("garbage", {}, False),
    ],
)
def test_needs_finalizer(spec: Any, status: dict[str, Any], expected: bool) -> None:
    assert services.needs_finalizer({"spec": spec, "status": status}) is expected


def test_a_deleted_service_leaves_the_gauges_and_books() -> None:
    from otelwire import metrics
    from otelwire.reconcile.selections import Selections
    from otelwire.webhook.readiness import IndexReadiness

    runtime = _runtime()
    runtime.selections, runtime.index_ready, runtime.reassessor = Selections(), IndexReadiness(), None
    reconciling.count_ready(runtime, "services-test/gone", True)
    metrics.set_pods("services-test/gone", "services-test", "gone", {"instrumented": 1, "outdated": 0, "missing": 0})
    runtime.landings.expect("services-test/gone")
    body = kopf.Body({"metadata": {"name": "gone", "namespace": "services-test", "uid": "u-gone"}})
    memo = SimpleNamespace(runtime=runtime)
    asyncio.run(services.forget_deleted(body=body, namespace="services-test", memo=memo, type="DELETED"))
    assert metrics.REGISTRY.get_sample_value("otelwire_monitoredservices", {"ready": "true"}) == 0.0
    assert (
        metrics.REGISTRY.get_sample_value(
            "otelwire_pods", {"namespace": "services-test", "service": "gone", "state": "instrumented"}
        )
        is None
    )
    assert not runtime.landings.awaited("services-test/gone", {"metadata": {"generation": 1}, "status": {}})


@pytest.mark.parametrize(
    ("reason", "generation", "observed", "with_kopf_patch"),
    [
        ("create", 1, None, True),  # a new generation: with kopf's patch of its diff base
        ("update", 2, 1, True),
        ("update", 2, 2, False),  # labels changed, not the spec: written at once
        ("resume", 2, 2, False),  # the operator restarted: written at once
        ("resume", 3, 2, True),  # changed while the operator was away
    ],
)
def test_the_handler_hands_kopf_only_a_new_generation_s_status(
    monkeypatch: pytest.MonkeyPatch, reason: str, generation: int, observed: int | None, with_kopf_patch: bool
) -> None:
    given: list[Any] = []
    monkeypatch.setattr(reconciling, "reconcile", lambda *args, **kwargs: given.append(kwargs["patch_status"]))
    state = _slim(generation, observed)
    patch = kopf.Patch()
    services.reconcile(
        body=kopf.Body(state),
        status=kopf.Status(state["status"]),
        memo=SimpleNamespace(runtime=_runtime()),
        patch=patch,
        reason=reason,
    )
    assert given == [patch.status if with_kopf_patch else None]
