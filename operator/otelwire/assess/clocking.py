"""``ClockSynced``: whether every node's chrony pod reports its clock within maxSkew, and why not.

Two pure steps.  :func:`observe` reduces what the shell read from the API --
the chrony DaemonSet, its pods and its ``FailedCreate`` Events -- to
:class:`~otelwire.assess.facts.ClockFacts`; :func:`clock_synced` turns those
facts into the condition the assessor writes.

Each chrony pod is Ready only while ``chronyc tracking`` reports
|offset| <= maxSkew (``clusterwide.chrony``), so "every pod Ready" means
"every node within maxSkew".  When pods do not exist at all, counting nodes
says nothing a person can act on: the DaemonSet controller reports why it
could not create them as ``FailedCreate`` Events on the DaemonSet (Pod
Security refusing ``CAP_SYS_TIME``, a ResourceQuota refusing the priority
class), and the condition repeats that reason and message, with what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from otelwire.assess import conditions
from otelwire.assess.facts import ClockFacts, PodCreationFailure

FAILED_CREATE = "FailedCreate"
# client-go's event aggregator prefixes a message it has seen in several forms.
_COMBINED = "(combined from similar events): "
# A pod the DaemonSet controller tries to create: its name plus 5 random characters (generateName).
_GENERATED = re.compile(r'(pods "[a-z0-9.-]+-)[bcdfghjklmnpqrstvwxz2456789]{5}"')


def _ready(pod: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
        if isinstance(c, Mapping)
    )


def _when(event: Mapping[str, Any]) -> datetime:
    """When an Event (core/v1, possibly a series) was last seen; the epoch when it says nothing."""
    series = event.get("series") or {}
    for stamp in (
        series.get("lastObservedTime"),
        event.get("lastTimestamp"),
        event.get("eventTime"),
        (event.get("metadata") or {}).get("creationTimestamp"),
    ):
        if isinstance(stamp, str) and stamp:
            try:
                return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            except ValueError:
                continue
    return datetime.fromisoformat("1970-01-01T00:00:00+00:00")


def _failure(daemonset: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> PodCreationFailure | None:
    """The newest ``FailedCreate`` Event about this DaemonSet (this one: same uid when both say)."""
    uid = (daemonset.get("metadata") or {}).get("uid")
    found = [
        e
        for e in events
        if e.get("reason") == FAILED_CREATE
        and (not uid or not (e.get("involvedObject") or {}).get("uid") or e["involvedObject"]["uid"] == uid)
    ]
    if not found:
        return None
    newest = max(found, key=_when)
    message = " ".join(str(newest.get("message") or "").split()).removeprefix(_COMBINED)
    # Every retry names another pod; the condition keeps one message while the reason stays.
    return PodCreationFailure(str(newest.get("reason")), _GENERATED.sub(r'\1*"', message))


def observe(
    daemonset: Mapping[str, Any] | None,
    pods: Iterable[Mapping[str, Any]],
    events: Iterable[Mapping[str, Any]] = (),
) -> ClockFacts:
    """The facts ``ClockSynced`` needs from the DaemonSet, its pods and its Events.

    ``events`` are read only when pods are missing (a ``FailedCreate`` from before the pods
    were created says nothing about now).
    """
    if daemonset is None:
        return ClockFacts((), (), daemonset_found=False)
    nodes: list[str] = []
    ready: list[str] = []
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if not node or (pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        nodes.append(node)
        if _ready(pod):
            ready.append(node)
    meta = daemonset.get("metadata") or {}
    status = daemonset.get("status") or {}
    missing = max(0, int(status.get("desiredNumberScheduled") or 0) - len(nodes))
    rolling_out = int(status.get("observedGeneration") or 0) < int(meta.get("generation") or 0)
    return ClockFacts(
        tuple(sorted(nodes)),
        tuple(sorted(ready)),
        missing_pods=missing,
        rolling_out=rolling_out,
        namespace=str(meta.get("namespace") or ""),
        failure=_failure(daemonset, events) if missing else None,
    )


def _what_to_do(failure: PodCreationFailure, namespace: str) -> str:
    """The fix for the refusals clock sync is known to meet, or nothing."""
    where = f"namespace {namespace}" if namespace else "the chrony namespace"
    if "PodSecurity" in failure.message:
        return (
            f"; chrony adds CAP_SYS_TIME, which only Pod Security level privileged admits: label {where} "
            "pod-security.kubernetes.io/enforce=privileged (docs/clock.md)"
        )
    if "quota" in failure.message.lower():
        return (
            f"; a ResourceQuota in {where} must admit the chrony pods' PriorityClass, or run the operator "
            "without --chrony-priority-class (docs/clock.md, Priority)"
        )
    return ""


def clock_synced(clock: ClockFacts | None, max_skew: str) -> tuple[conditions.Status, str, str]:
    """``ClockSynced``'s status, reason and message for ``clock``, the strictest ``max_skew`` shown as given."""
    if clock is None or not clock.daemonset_found:
        return "Unknown", "DaemonSetPending", f"the chrony DaemonSet is not there yet; maxSkew {max_skew}"
    lagging = sorted(set(clock.desired_nodes) - set(clock.ready_nodes))
    nodes = len(clock.desired_nodes) + clock.missing_pods
    if clock.missing_pods and clock.failure is not None:
        return (
            "False",
            "PodsNotCreated",
            f"the chrony DaemonSet could not create {clock.missing_pods} of {nodes} pod(s): "
            f"{clock.failure.reason}: {clock.failure.message}{_what_to_do(clock.failure, clock.namespace)}",
        )
    if lagging:
        pending = f"; {clock.missing_pods} more pod(s) not created yet" if clock.missing_pods else ""
        return (
            "False",
            "NodesNotSynced",
            f"chrony is not within maxSkew {max_skew} (or not ready) on {len(lagging)} of {nodes} node(s): "
            f"{conditions.names(lagging)}{pending}",
        )
    if clock.missing_pods or clock.rolling_out:
        what = (
            f"{clock.missing_pods} of {nodes} chrony pod(s) not created yet"
            if clock.missing_pods
            else "the DaemonSet controller has not rolled out the current chrony DaemonSet yet"
        )
        return "False", "PodsPending", f"{what}; no Event says why so far"
    if not clock.desired_nodes:
        return (
            "False",
            "NoNodes",
            "the chrony DaemonSet runs on no node: no node matches spec.clock.nodeSelector, "
            "or the cluster has no schedulable node",
        )
    return "True", "Synced", f"chrony reports |offset| <= {max_skew} on all {nodes} node(s)"
