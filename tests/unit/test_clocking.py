"""``ClockSynced``, as tables: from the DaemonSet, its pods and Events to facts, and from facts to the condition.

The Event messages are the ones the DaemonSet controller of the test plane's
kube-apiserver really wrote (tests/reconcile/test_clock_admission.py sees the
first one come back in status).
"""

from __future__ import annotations

from typing import Any

import pytest
from otelwire.assess.clocking import clock_synced, observe
from otelwire.assess.facts import ClockFacts, PodCreationFailure

NS = "otelwire-chrony"
UID = "0b8e5a9e-3c1d-4f3e-9d39-0f3b7c1f7e11"
POD_SECURITY = (
    'Error creating: pods "otelwire-chrony-5x7kq" is forbidden: violates PodSecurity "restricted:latest": '
    'unrestricted capabilities (container "chronyd" must not include "SYS_TIME" in '
    'securityContext.capabilities.add), runAsNonRoot != true (pod or container "chronyd" must set '
    'securityContext.runAsNonRoot=true), runAsUser=0 (container "chronyd" must not set runAsUser=0)'
)
STABLE = POD_SECURITY.replace('"otelwire-chrony-5x7kq"', '"otelwire-chrony-*"')
QUOTA = (
    'Error creating: pods "otelwire-chrony-8fj2d" is forbidden: insufficient quota to match these scopes: '
    "[{PriorityClass In [system-node-critical system-cluster-critical]}]"
)

QUOTA_STABLE = QUOTA.replace('"otelwire-chrony-8fj2d"', '"otelwire-chrony-*"')


def daemonset(desired: int, *, generation: int = 1, observed: int = 1, uid: str = UID) -> dict[str, Any]:
    return {
        "metadata": {"name": "otelwire-chrony", "namespace": NS, "uid": uid, "generation": generation},
        "status": {"desiredNumberScheduled": desired, "observedGeneration": observed},
    }


def pod(node: str, *, ready: bool = True, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"otelwire-chrony-{node}", "namespace": NS}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-06T20:00:00Z"
    return {
        "metadata": meta,
        "spec": {"nodeName": node},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def event(message: str, *, last: str, reason: str = "FailedCreate", uid: str = UID, **extra: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": f"otelwire-chrony.{abs(hash(message + last)):x}", "namespace": NS},
        "involvedObject": {"kind": "DaemonSet", "name": "otelwire-chrony", "namespace": NS, "uid": uid},
        "reason": reason,
        "message": message,
        "type": "Warning",
        "lastTimestamp": last,
        **extra,
    }


@pytest.mark.parametrize(
    ("ds", "pods", "events", "expected"),
    [
        pytest.param(None, [], [], ClockFacts((), (), daemonset_found=False), id="no-daemonset"),
        pytest.param(
            daemonset(3),
            [pod("node-a"), pod("node-b", ready=False), pod("node-c")],
            [],
            ClockFacts(("node-a", "node-b", "node-c"), ("node-a", "node-c"), namespace=NS),
            id="three-pods-one-not-ready",
        ),
        pytest.param(
            daemonset(2),
            [pod("node-a"), pod("node-b", deleting=True), {"metadata": {"name": "x"}, "spec": {}}],
            [],
            ClockFacts(("node-a",), ("node-a",), missing_pods=1, namespace=NS),
            id="deleting-and-unscheduled-pods-do-not-count",
        ),
        pytest.param(
            daemonset(3),
            [],
            [event(QUOTA, last="2026-12-06T20:00:00Z"), event(POD_SECURITY, last="2026-12-06T20:05:00Z")],
            ClockFacts((), (), missing_pods=3, namespace=NS, failure=PodCreationFailure("FailedCreate", STABLE)),
            id="the-newest-failed-create-is-the-reason",
        ),
        pytest.param(
            daemonset(1),
            [],
            [
                event(POD_SECURITY, last="2026-12-06T20:05:00Z"),
                # Events v1 series (events.k8s.io through core/v1): lastObservedTime, in microseconds.
                event(QUOTA, last="", series={"count": 4, "lastObservedTime": "2026-12-06T20:05:00.500000Z"}),
            ],
            ClockFacts((), (), missing_pods=1, namespace=NS, failure=PodCreationFailure("FailedCreate", QUOTA_STABLE)),
            id="a-series-counts-by-its-last-observation",
        ),
        pytest.param(
            daemonset(1),
            [],
            [event(POD_SECURITY, last="2026-12-06T20:05:00Z", uid="a-deleted-daemonset-of-the-same-name")],
            ClockFacts((), (), missing_pods=1, namespace=NS),
            id="events-of-an-earlier-daemonset-are-not-its-reason",
        ),
        pytest.param(
            daemonset(1),
            [pod("node-a")],
            [event(POD_SECURITY, last="2026-12-06T20:05:00Z")],
            ClockFacts(("node-a",), ("node-a",), namespace=NS),
            id="an-old-refusal-means-nothing-once-every-pod-exists",
        ),
        pytest.param(
            daemonset(0, generation=2, observed=1),
            [],
            [],
            ClockFacts((), (), rolling_out=True, namespace=NS),
            id="controller-has-not-seen-this-version",
        ),
    ],
)
def test_observe(
    ds: dict[str, Any] | None, pods: list[dict[str, Any]], events: list[dict[str, Any]], expected: ClockFacts
) -> None:
    assert observe(ds, pods, events) == expected


@pytest.mark.parametrize(
    ("message", "kept"),
    [
        pytest.param("Error creating:\n  pods  forbidden", "Error creating: pods forbidden", id="one-line"),
        pytest.param(
            # As the test plane's DaemonSet controller wrote it after a few retries.
            f"(combined from similar events): {POD_SECURITY}",
            POD_SECURITY.replace('"otelwire-chrony-5x7kq"', '"otelwire-chrony-*"'),
            id="aggregated-and-a-new-pod-name-each-retry",
        ),
        pytest.param('pods "otelwire-chrony" is forbidden', 'pods "otelwire-chrony" is forbidden', id="a-plain-name"),
    ],
)
def test_an_event_message_is_kept_stable(message: str, kept: str) -> None:
    facts = observe(daemonset(1), [], [event(message, last="2026-12-06T20:05:00Z")])
    assert facts.failure == PodCreationFailure("FailedCreate", kept)


@pytest.mark.parametrize(
    ("clock", "status", "reason", "says"),
    [
        pytest.param(None, "Unknown", "DaemonSetPending", ["not there yet", "100ms"], id="not-applied-yet"),
        pytest.param(
            ClockFacts(("node-a", "node-b"), ("node-a", "node-b"), namespace=NS),
            "True",
            "Synced",
            ["|offset| <= 100ms on all 2 node(s)"],
            id="synced",
        ),
        pytest.param(
            ClockFacts(("node-a", "node-b"), ("node-a",), namespace=NS),
            "False",
            "NodesNotSynced",
            ["not within maxSkew 100ms (or not ready) on 1 of 2 node(s): node-b"],
            id="one-node-off",
        ),
        pytest.param(
            ClockFacts((), (), missing_pods=3, namespace=NS, failure=PodCreationFailure("FailedCreate", POD_SECURITY)),
            "False",
            "PodsNotCreated",
            [
                "could not create 3 of 3 pod(s): FailedCreate: Error creating:",
                'violates PodSecurity "restricted:latest"',
                '"SYS_TIME"',
                f"label namespace {NS} pod-security.kubernetes.io/enforce=privileged",
            ],
            id="refused-by-pod-security",
        ),
        pytest.param(
            ClockFacts(
                ("node-a",),
                ("node-a",),
                missing_pods=1,
                namespace=NS,
                failure=PodCreationFailure("FailedCreate", QUOTA),
            ),
            "False",
            "PodsNotCreated",
            ["could not create 1 of 2 pod(s)", "insufficient quota", "--chrony-priority-class"],
            id="refused-by-a-quota",
        ),
        pytest.param(
            ClockFacts((), (), missing_pods=2, namespace=NS, failure=PodCreationFailure("FailedCreate", "Error: boom")),
            "False",
            "PodsNotCreated",
            ["could not create 2 of 2 pod(s): FailedCreate: Error: boom"],
            id="refused-for-another-reason-is-repeated-as-is",
        ),
        pytest.param(
            ClockFacts(("node-a",), (), missing_pods=1, namespace=NS),
            "False",
            "NodesNotSynced",
            ["on 1 of 2 node(s): node-a; 1 more pod(s) not created yet"],
            id="one-off-one-still-coming",
        ),
        pytest.param(
            ClockFacts(("node-a",), ("node-a",), missing_pods=2, namespace=NS),
            "False",
            "PodsPending",
            ["2 of 3 chrony pod(s) not created yet"],
            id="pods-still-coming",
        ),
        pytest.param(
            ClockFacts(("node-a",), ("node-a",), rolling_out=True, namespace=NS),
            "False",
            "PodsPending",
            ["has not rolled out the current chrony DaemonSet"],
            id="new-version-not-rolled-out",
        ),
        pytest.param(
            ClockFacts((), (), namespace=NS),
            "False",
            "NoNodes",
            ["runs on no node", "spec.clock.nodeSelector"],
            id="no-node-selected",
        ),
    ],
)
def test_clock_synced(clock: ClockFacts | None, status: str, reason: str, says: list[str]) -> None:
    got_status, got_reason, message = clock_synced(clock, "100ms")
    assert (got_status, got_reason) == (status, reason), message
    for part in says:
        assert part in message
    assert "<unscheduled" not in message
