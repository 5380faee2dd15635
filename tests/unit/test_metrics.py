"""otelwire's gauges follow the MonitoredServices: renamed or deleted services leave no stale series,
and a client that sees a written status finds the gauges already updated."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import kopf
from otelwire import metrics
from otelwire.assess.assessing import Assessment
from otelwire.reconcile import reconciling
from otelwire.reconcile.books import ReadyBook


def _series() -> dict[tuple[str, str, str], float]:
    found = {}
    for family in metrics.REGISTRY.collect():
        if family.name == "otelwire_pods":
            for sample in family.samples:
                labels = sample.labels
                found[(labels["namespace"], labels["service"], labels["state"])] = sample.value
    return {key: value for key, value in found.items() if key[0].startswith("metrics-test")}


COUNTS = {"instrumented": 2, "outdated": 1, "missing": 0}


def test_a_deleted_service_s_series_go() -> None:
    metrics.set_pods("metrics-test-a/orders", "metrics-test-a", "orders", COUNTS)
    assert _series() == {
        ("metrics-test-a", "orders", "instrumented"): 2,
        ("metrics-test-a", "orders", "outdated"): 1,
        ("metrics-test-a", "orders", "missing"): 0,
    }
    metrics.forget_pods("metrics-test-a/orders")
    assert _series() == {}
    metrics.forget_pods("metrics-test-a/orders")  # a retried delete handler
    metrics.forget_pods("metrics-test-a/never-seen")


def test_a_renamed_service_s_old_series_go() -> None:
    metrics.set_pods("metrics-test-b/orders", "metrics-test-b", "orders", COUNTS)
    metrics.set_pods("metrics-test-b/orders", "metrics-test-b", "orders-v2", COUNTS)
    assert {key[1] for key in _series()} == {"orders-v2"}
    metrics.forget_pods("metrics-test-b/orders")
    assert _series() == {}


def test_series_shared_by_two_services_stay_until_the_last_one_goes() -> None:
    metrics.set_pods("metrics-test-c/a", "metrics-test-c", "shop", COUNTS)
    metrics.set_pods("metrics-test-c/b", "metrics-test-c", "shop", {"instrumented": 5, "outdated": 0, "missing": 0})
    metrics.forget_pods("metrics-test-c/a")
    assert _series()[("metrics-test-c", "shop", "instrumented")] == 5
    metrics.set_pods("metrics-test-c/b", "metrics-test-c", "shop-new", COUNTS)  # renamed: "shop" had no one left
    assert {key[1] for key in _series()} == {"shop-new"}
    metrics.forget_pods("metrics-test-c/b")
    assert _series() == {}


def test_the_ready_gauge_is_updated_before_the_status_is_written() -> None:
    at_write: list[float | None] = []

    class Kube:
        def merge_patch(self, path: str, patch: dict[str, Any]) -> None:
            at_write.append(metrics.REGISTRY.get_sample_value("otelwire_monitoredservices", {"ready": "true"}))

    runtime = SimpleNamespace(kube=Kube(), readiness=ReadyBook())
    body = kopf.Body({"metadata": {"name": "orders", "namespace": "metrics-test-d"}})
    assessment = Assessment(status={"conditions": []}, ready=True)
    reconciling.write(runtime, assessment, body, {}, announce=lambda *_: None, patch_status=None)  # type: ignore[arg-type]
    assert at_write == [1.0]
    reconciling.count_ready(runtime, "metrics-test-d/orders", None)  # type: ignore[arg-type]
    assert metrics.REGISTRY.get_sample_value("otelwire_monitoredservices", {"ready": "true"}) == 0.0


def test_a_service_reconciled_many_times_counts_once_for_its_series() -> None:
    for _ in range(3):
        metrics.set_pods("metrics-test-e/orders", "metrics-test-e", "orders", COUNTS)
    metrics.forget_pods("metrics-test-e/orders")
    assert _series() == {}
