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
from otelwire.assess import ClockFacts, ProbeResult, assess
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


# ---------------------------------------------------------------- every condition reason, one row each


def _outdated(ms: MonitoredService) -> dict[str, Any]:
    """A pod admitted under an older plan (its digest is another one's)."""
    found = pod(ms)
    found["metadata"]["annotations"]["otelwire.io/injected"] = "0123456789abcdef"
    return found


def _missing(ms: MonitoredService) -> dict[str, Any]:
    """A pod created while the webhook was unreachable: no otelwire configuration at all."""
    found = pod(ms)
    found["metadata"]["annotations"] = {}
    found["spec"]["containers"][0]["env"] = []
    return found


def _renamed(ms: MonitoredService) -> dict[str, Any]:
    """A pod of a Deployment that is not named after the service."""
    return pod(ms, "billing-7d9f8c6b5-a", deployment="billing")


UNREACHABLE = ProbeResult("http://collector:4318", False, "TCP connect to collector:4318 failed: refused")
UDP = ProbeResult("udp://jaeger-agent:6831", None, "a Jaeger agent listens on UDP, which cannot be probed")
SYNCED = ClockFacts(("node-1",), ("node-1",))
LAGGING = ClockFacts(("node-1", "node-2"), ("node-1",))

# (id, spec, pods, probe, clock, condition type, status, reason)
REASONS: list[Any] = [
    ("valid", {}, [pod], REACHABLE, None, "ConfigValid", "True", "Valid"),
    ("no-pods", {}, [], REACHABLE, None, "Injected", "False", "NoMatchingPods"),
    ("missing", {}, [_missing], REACHABLE, None, "Injected", "False", "PodsNotInjected"),
    ("outdated", {}, [_outdated], REACHABLE, None, "Injected", "False", "PodsOutdated"),
    ("all-injected", {}, [pod], REACHABLE, None, "Injected", "True", "AllPodsInjected"),
    (
        "export-off",
        {"metrics": {"exporter": "none"}, "tracing": {"exporter": "none"}},
        [pod],
        None,
        None,
        "CollectorReachable",
        "True",
        "ExportDisabled",
    ),
    ("udp-agent", {}, [pod], UDP, None, "CollectorReachable", "Unknown", "NotProbeable"),
    ("reachable", {}, [pod], REACHABLE, None, "CollectorReachable", "True", "Reachable"),
    ("unreachable", {}, [pod], UNREACHABLE, None, "CollectorReachable", "False", "Unreachable"),
    ("names-agree", {}, [pod], REACHABLE, None, "ServiceNameConsistent", "True", "NamesAgree"),
    ("names-disagree", {}, [_renamed], REACHABLE, None, "ServiceNameConsistent", "False", "NamesDisagree"),
    ("names-no-pods", {}, [], REACHABLE, None, "ServiceNameConsistent", "Unknown", "NoMatchingPods"),
    ("clock-synced", {"clock": {"sync": "chrony"}}, [pod], REACHABLE, SYNCED, "ClockSynced", "True", "Synced"),
    (
        "clock-lagging",
        {"clock": {"sync": "chrony"}},
        [pod],
        REACHABLE,
        LAGGING,
        "ClockSynced",
        "False",
        "NodesNotSynced",
    ),
    (
        "clock-no-daemonset",
        {"clock": {"sync": "chrony"}},
        [pod],
        REACHABLE,
        None,
        "ClockSynced",
        "Unknown",
        "DaemonSetPending",
    ),
    ("ready", {}, [pod], REACHABLE, None, "Ready", "True", "Ready"),
    ("ready-despite-udp", {}, [pod], UDP, None, "Ready", "True", "Ready"),  # nobody can probe UDP
    ("not-ready-first-failing", {}, [_missing], UNREACHABLE, None, "Ready", "False", "PodsNotInjected"),
    ("not-ready-collector", {}, [pod], UNREACHABLE, None, "Ready", "False", "Unreachable"),
    ("reconciled", {}, [pod], REACHABLE, None, "Reconciling", "False", "Reconciled"),
    (
        "rolling-out",
        {"injection": {"restartOutdated": True}},
        [_outdated],
        REACHABLE,
        None,
        "Reconciling",
        "True",
        "RolloutInProgress",
    ),
    (
        "patch-mode-rolling",
        {"injection": {"mode": "patch"}},
        [_missing],
        REACHABLE,
        None,
        "Reconciling",
        "True",
        "RolloutInProgress",
    ),
    ("not-stalled", {}, [pod], REACHABLE, None, "Stalled", "False", "Valid"),
]


@pytest.mark.parametrize(
    ("spec", "pods", "probe", "clock", "type_", "status", "reason"),
    [pytest.param(*row[1:], id=row[0]) for row in REASONS],
)
def test_each_condition_reason(
    spec: dict[str, Any],
    pods: list[Any],
    probe: ProbeResult | None,
    clock: ClockFacts | None,
    type_: str,
    status: str,
    reason: str,
) -> None:
    ms = make_ms(spec)
    found = assess(ms, [make(ms) for make in pods], probe=probe, clock=clock, previous=(), now=NOW)
    condition = found.conditions[type_]
    assert (condition["status"], condition["reason"]) == (status, reason), condition["message"]
    assert condition["message"] and condition["observedGeneration"] == ms.generation
    assert found.ready is (found.conditions["Ready"]["status"] == "True")


def test_an_invalid_spec_is_stalled_not_ready_and_says_why() -> None:
    from otelwire.assess import assess_invalid
    from otelwire.spec import InvalidSpec, SpecProblem

    error = InvalidSpec([SpecProblem("spec.serviceName", "must not be empty")], "MonitoredService shop/x")
    found = assess_invalid(error, generation=4, previous=(), now=NOW)
    summary = {t: (c["status"], c["reason"]) for t, c in found.conditions.items()}
    assert summary == {
        "Ready": ("False", "InvalidSpec"),
        "Reconciling": ("False", "InvalidSpec"),
        "Stalled": ("True", "InvalidSpec"),
        "ConfigValid": ("False", "InvalidSpec"),
    }
    assert "spec.serviceName: must not be empty" in found.conditions["ConfigValid"]["message"]
    assert not found.ready and found.status["observedGeneration"] == 4


def test_a_condition_keeps_its_transition_time_until_its_status_flips() -> None:
    ms = make_ms()
    first = assess(ms, [pod(ms)], probe=REACHABLE, clock=None, previous=(), now="2026-12-06T20:00:00Z")
    same = assess(
        ms, [pod(ms)], probe=REACHABLE, clock=None, previous=first.status["conditions"], now="2026-12-06T21:00:00Z"
    )
    flipped = assess(
        ms, [pod(ms)], probe=UNREACHABLE, clock=None, previous=same.status["conditions"], now="2026-12-06T22:00:00Z"
    )
    assert same.conditions["Ready"]["lastTransitionTime"] == "2026-12-06T20:00:00Z"
    assert same.transitions == ()
    assert flipped.conditions["Ready"]["lastTransitionTime"] == "2026-12-06T22:00:00Z"
    assert flipped.conditions["Injected"]["lastTransitionTime"] == "2026-12-06T20:00:00Z"
    assert [t[0] for t in flipped.transitions] == ["Ready", "CollectorReachable"]


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


# ---------------------------------------------------------------- what restartOutdated rolls


def _bare(ms: MonitoredService) -> dict[str, Any]:
    """A pod of no workload (no owner reference), created before the webhook: nothing to roll."""
    found = _missing(ms)
    found["metadata"]["name"] = "standalone"
    del found["metadata"]["ownerReferences"]
    return found


def _renamed_outdated(ms: MonitoredService) -> dict[str, Any]:
    found = _renamed(ms)
    found["metadata"]["annotations"]["otelwire.io/injected"] = "0123456789abcdef"
    return found


@pytest.mark.parametrize(
    ("pods", "stale"),
    [
        pytest.param([pod], [], id="current-plan"),
        pytest.param([_outdated], [("Deployment", "orders")], id="outdated"),
        pytest.param([_missing], [("Deployment", "orders")], id="missing"),
        pytest.param([_outdated, _missing], [("Deployment", "orders")], id="one-workload-once"),
        pytest.param([_bare], [], id="no-workload"),
        pytest.param(
            [_renamed_outdated, _outdated, pod],
            [("Deployment", "billing"), ("Deployment", "orders")],
            id="sorted",
        ),
    ],
)
def test_stale_workloads_are_the_owners_of_pods_without_the_current_plan(pods: list[Any], stale: list[Any]) -> None:
    ms = make_ms()
    found = run(ms, [make(ms) for make in pods])
    assert [(w.kind, w.name) for w in found.stale_workloads] == stale
