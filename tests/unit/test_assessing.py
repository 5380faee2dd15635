"""The assessor: which conditions hold, and which of the user's values the pods keep.

Pods here are what the webhook admits (the plan applied to a Deployment's pod),
with whatever the user set in the template; the assessor is pure, so each case
is plain data in, status out.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from cel_cases import monitored_service
from otelwire.assess import ProbeResult, assess
from otelwire.assess.assessing import conflicts_status, kept_value
from otelwire.plan import Conflict, apply, plan_for
from otelwire.plan.workloads import owner_of_pod
from otelwire.spec import MonitoredService, parse_monitored_service
from otelwire.spec.status import KEPT_LIMIT

NS = "shop"
NOW = "2026-12-06T20:00:00Z"
REACHABLE = ProbeResult("http://collector:4318", True, "OTLP/HTTP export request answered 200")


def make_ms(spec: dict[str, Any] | None = None, name: str = "orders") -> MonitoredService:
    body = monitored_service({"selector": {"matchLabels": {"app": name}}, **(spec or {})}, name=name)
    body["metadata"].update(namespace=NS, uid=f"uid-{name}", generation=2)
    return parse_monitored_service(body)


def pod(
    ms: MonitoredService,
    name: str = "orders-7d9f8c6b5-a",
    *,
    deployment: str = "orders",
    env: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
    containers: tuple[str, ...] = ("app",),
) -> dict[str, Any]:
    """A running pod of ``deployment`` as the webhook admitted it, with the user's own env and labels."""
    rs_hash = name.rsplit("-", 2)[-2] if name.count("-") >= 2 else "7d9f8c6b5"
    raw = {
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {"app": ms.name, "pod-template-hash": rs_hash, **(labels or {})},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"{deployment}-{rs_hash}", "controller": True}
            ],
        },
        "spec": {"containers": [{"name": c, "image": "x", "env": copy.deepcopy(env or [])} for c in containers]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    injected, _ = apply(raw, plan_for(ms, raw, owner_of_pod(raw), NS))
    return injected


def run(ms: MonitoredService, pods: list[dict[str, Any]], previous_conflicts: Any = None) -> Any:
    return assess(ms, pods, probe=REACHABLE, clock=None, previous=(), now=NOW, previous_conflicts=previous_conflicts)


# ---------------------------------------------------------------- kept user values


KEPT: list[Any] = [
    pytest.param({}, [], [], id="nothing-kept"),
    pytest.param(
        {"env": [{"name": "OTEL_TRACES_SAMPLER", "value": "always_on"}]},
        [],
        [("Deployment orders", "app", "env", "OTEL_TRACES_SAMPLER", "always_on", "parentbased_always_on")],
        id="env-var",
    ),
    pytest.param(
        {"env": [{"name": "OTEL_PROPAGATORS", "value": "b3"}], "containers": ("app", "worker")},
        [],
        [
            ("Deployment orders", "app", "env", "OTEL_PROPAGATORS", "b3", "tracecontext,baggage"),
            ("Deployment orders", "worker", "env", "OTEL_PROPAGATORS", "b3", "tracecontext,baggage"),
        ],
        id="per-container",
    ),
    pytest.param(
        {"labels": {"otelwire.io/service": "legacy"}},
        [],
        [("Deployment orders", "", "label", "otelwire.io/service", "legacy", "orders")],
        id="label",
    ),
    pytest.param(
        {"env": [{"name": "OTEL_TRACES_SAMPLER", "value": "always_on"}]},
        [("injection", {"overrideExisting": True})],
        [],
        id="overridden-is-not-kept",
    ),
]


@pytest.mark.parametrize(("pod_parts", "spec_parts", "expected"), KEPT)
def test_every_kept_user_value_is_in_status(
    pod_parts: dict[str, Any], spec_parts: list[tuple[str, Any]], expected: list[tuple[str, ...]]
) -> None:
    ms = make_ms(dict(spec_parts))
    pods = [pod(ms, f"orders-7d9f8c6b5-{i}", **pod_parts) for i in "ab"]  # two pods, one entry each
    status = run(ms, pods).status
    items = status["conflicts"]["items"]
    keys = ("workload", "container", "source", "name", "value", "wanted")
    assert [tuple(item[k] for k in keys) for item in items] == expected
    assert status["conflicts"]["count"] == len(expected)


def test_kept_values_are_bounded_counted_and_ordered() -> None:
    ms = make_ms()
    user_env = [{"name": "OTEL_TRACES_SAMPLER", "value": "always_on"}]
    pods = [pod(ms, f"d{i:02d}-7d9f8c6b5-a", deployment=f"d{i:02d}", env=user_env) for i in range(30)]
    conflicts = run(ms, pods).status["conflicts"]
    assert conflicts["count"] == 30
    assert len(conflicts["items"]) == KEPT_LIMIT
    assert [item["workload"] for item in conflicts["items"]] == [f"Deployment d{i:02d}" for i in range(KEPT_LIMIT)]
    # Stable: the same pods in another order give the same status.
    assert run(ms, list(reversed(pods))).status["conflicts"] == conflicts


def test_a_kept_value_is_announced_once() -> None:
    ms = make_ms()
    pods = [pod(ms, env=[{"name": "OTEL_TRACES_SAMPLER", "value": "always_on"}])]
    first = run(ms, pods)
    (message,) = first.announcements
    assert message == (
        "Deployment orders, container app: env OTEL_TRACES_SAMPLER='always_on' kept instead of "
        "'parentbased_always_on' (spec.injection.overrideExisting: true replaces it)"
    )
    again = run(ms, pods, previous_conflicts=first.status["conflicts"]["items"])
    assert again.announcements == ()
    assert again.status == first.status


def test_a_long_value_is_clipped_to_what_the_crd_allows() -> None:
    item = kept_value("Pod p", Conflict("label", "x", "v" * 300, "w"))
    listed, _ = conflicts_status([item], None)
    assert len(listed["items"][0]["value"]) == 256 and listed["items"][0]["value"].endswith("...")


# ---------------------------------------------------------------- the names other systems read


def _otel_named(ms: MonitoredService) -> dict[str, Any]:
    """A pod whose own resource.opentelemetry.io/service.name was kept instead of the service name."""
    found = pod(ms)
    found["metadata"]["annotations"]["resource.opentelemetry.io/service.name"] = "legacy-orders"
    return found


def test_a_kept_opentelemetry_service_name_annotation_makes_the_names_disagree() -> None:
    """Istio, the collector's k8sattributes and the OpenTelemetry Operator would name the pod after it."""
    ms = make_ms()
    condition = run(ms, [_otel_named(ms)]).conditions["ServiceNameConsistent"]
    assert (condition["status"], condition["reason"]) == ("False", "NamesDisagree")
    expected = "annotation resource.opentelemetry.io/service.name='legacy-orders' on pod orders-7d9f8c6b5-a"
    assert expected in condition["message"]
    assert run(ms, [pod(ms)]).conditions["ServiceNameConsistent"]["status"] == "True"
