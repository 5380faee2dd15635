"""Decide which conditions hold for one MonitoredService, from observed facts.

The rules (docs/design.md, "Status conditions"):

* ``ConfigValid`` -- the spec parsed; otherwise ``Stalled`` and not ``Ready``,
  with the same one-line messages ``otelwire render`` prints.
* ``Injected`` -- every live selected pod carries the *current* plan digest;
  pods with an older digest are outdated, pods with none are missing (created
  while the webhook was down) and are named, a few at a time.
* ``CollectorReachable`` -- the probe the shell ran against the endpoint.
* ``ServiceNameConsistent`` -- the service name agrees with the workloads'
  names, Istio's canonical name, the pods' ``resource.opentelemetry.io/service.name``
  annotation and the env the pods really run with.
* ``ClockSynced`` -- only with ``clock.sync: chrony``.
* ``Ready`` -- all of the above hold; ``Reconciling`` while a rollout or apply
  is converging.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from otelwire.assess import clocking, conditions
from otelwire.assess.facts import ClockFacts, ProbeResult
from otelwire.plan import changing, selecting
from otelwire.plan.parts import INJECTED_ANNOTATION, ISTIO_CANONICAL_NAME, OTEL_SERVICE_NAME_ANNOTATION, Workload
from otelwire.plan.planning import plan_for
from otelwire.plan.workloads import owner_of_pod
from otelwire.spec.model import DEFAULT_NAME_LABEL, MonitoredService
from otelwire.spec.problems import InvalidSpec
from otelwire.spec.status import KEPT_LIMIT

DETAIL_TYPES = ("ConfigValid", "Injected", "CollectorReachable", "ServiceNameConsistent", "ClockSynced")


@dataclass(frozen=True)
class Assessment:
    """The status to write, the condition transitions worth an Event, and the newly kept user values."""

    status: dict[str, Any]
    ready: bool
    transitions: tuple[tuple[str, str, str, str], ...] = field(default=())
    announcements: tuple[str, ...] = field(default=())  # one Event each: a kept value not in the last status
    # The workloads of pods without the current plan (outdated or missing), sorted by kind and name:
    # what ``restartOutdated`` rolls.
    stale_workloads: tuple[Workload, ...] = field(default=())

    @property
    def conditions(self) -> dict[str, Mapping[str, Any]]:
        return conditions.by_type(self.status["conditions"])


def live(pod: Mapping[str, Any]) -> bool:
    meta = pod.get("metadata") or {}
    phase = (pod.get("status") or {}).get("phase")
    return not meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed")


def owned_pods(
    ms: MonitoredService,
    services: Iterable[MonitoredService] | selecting.SelectorIndex,
    pods: Iterable[Mapping[str, Any]],
) -> list[Mapping[str, Any]]:
    """The live pods of ``ms``'s namespace for which ``ms`` is the selecting MonitoredService.

    ``services`` are ``ms``'s rivals (its namespace's MonitoredServices, with or
    without ``ms`` itself), or a :class:`~otelwire.plan.selecting.SelectorIndex`
    of them, which the operator keeps per namespace so a reconcile costs
    O(pods it selects), not O(pods x services).
    """
    index = (
        services
        if isinstance(services, selecting.SelectorIndex)
        else selecting.SelectorIndex(ms.namespace, list(services))
    )
    out: list[Mapping[str, Any]] = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        # The cheap test first: only pods this service selects are compared with its rivals.
        if meta.get("namespace", ms.namespace) != ms.namespace or not ms.selector.matches(labels) or not live(pod):
            continue
        # ``ms`` owns the pod unless a rival first by name selects it too (``ms`` itself may be
        # absent from the index, or there in an older generation: names decide either way).
        chosen = index.matching(labels)
        if not chosen or chosen[0].name >= ms.name:
            out.append(pod)
    return out


def _transitions(
    previous: Mapping[str, Mapping[str, Any]], current: Sequence[Mapping[str, Any]]
) -> tuple[tuple[str, str, str, str], ...]:
    out: list[tuple[str, str, str, str]] = []
    for cond in current:
        before = previous.get(str(cond["type"]))
        if before is None or before.get("status") != cond["status"]:
            out.append((str(cond["type"]), str(cond["status"]), str(cond["reason"]), str(cond["message"])))
    return tuple(out)


KEPT_VALUE_LIMIT = 256


def _clip(text: str) -> str:
    return text if len(text) <= KEPT_VALUE_LIMIT else text[: KEPT_VALUE_LIMIT - 3] + "..."


def kept_value(workload: str, conflict: changing.Conflict) -> dict[str, str]:
    """A kept user value as status lists it (``spec.status.KeptValue``)."""
    in_container = conflict.where.startswith("container ")
    return {
        "workload": workload,
        "container": conflict.where.removeprefix("container ") if in_container else "",
        "source": "env" if in_container else conflict.where,
        "name": conflict.name,
        "value": _clip(conflict.theirs),
        "wanted": _clip(conflict.ours),
    }


def _kept_key(item: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(item.get(k, "")) for k in ("workload", "container", "source", "name", "value", "wanted"))


def describe_kept(item: Mapping[str, Any]) -> str:
    """One kept value in a sentence, for its Event."""
    where = f"{item['workload']}, container {item['container']}" if item.get("container") else str(item["workload"])
    return (
        f"{where}: {item['source']} {item['name']}={item['value']!r} kept instead of {item['wanted']!r} "
        "(spec.injection.overrideExisting: true replaces it)"
    )


def conflicts_status(
    kept: Iterable[Mapping[str, Any]], previous: Iterable[Mapping[str, Any]] | None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """``status.conflicts`` (the first ``KEPT_LIMIT`` in a stable order, and the count) and the new ones' Events."""
    unique = {_kept_key(item): dict(item) for item in kept}
    ordered = [unique[key] for key in sorted(unique)]
    listed = ordered[:KEPT_LIMIT]
    before = {_kept_key(item) for item in previous or () if isinstance(item, Mapping)}
    announcements = tuple(describe_kept(item) for item in listed if _kept_key(item) not in before)
    return {"count": len(ordered), "items": listed}, announcements


def _summary(details: Sequence[Mapping[str, Any]], matched: int, service: str) -> tuple[str, str, str]:
    # Unknown blocks Ready, except for a collector nobody can probe (a UDP Jaeger agent).
    failing = [c for c in details if c["status"] != "True" and c["reason"] != "NotProbeable"]
    if not failing:
        return "True", "Ready", f"{matched} pod(s) report as {service!r}; every condition holds"
    first = failing[0]
    return "False", str(first["reason"]), f"{first['type']}: {first['message']}"


def assess(
    ms: MonitoredService,
    pods: Sequence[Mapping[str, Any]],
    *,
    probe: ProbeResult | None,
    clock: ClockFacts | None,
    previous: Iterable[Mapping[str, Any]] | None,
    now: str,
    applying: bool = False,
    alias_conflicts: Sequence[str] = (),
    podmonitors: bool = False,
    previous_conflicts: Iterable[Mapping[str, Any]] | None = None,
) -> Assessment:
    """Conditions for a valid MonitoredService over the pods it owns (see :func:`owned_pods`).

    ``podmonitors``: the cluster scrapes through PodMonitors (the plan has no scrape annotations).
    ``previous_conflicts``: ``status.conflicts.items`` as last written, so that only a kept
    user value not listed there is announced.
    """
    before = conditions.by_type(previous)
    gen = ms.generation

    def make(type_: str, status: conditions.Status, reason: str, message: str) -> dict[str, Any]:
        return conditions.make(type_, status, reason, message, generation=gen, previous=before, now=now)

    instrumented: list[str] = []
    outdated: list[str] = []
    missing: list[str] = []
    workload_names: set[str] = set()
    name_problems: list[str] = []
    kept: list[dict[str, str]] = []
    stale: set[Workload] = set()
    for pod in pods:
        meta = pod.get("metadata") or {}
        name = str(meta.get("name", ""))
        owner = owner_of_pod(pod)
        if owner is not None:
            workload_names.add(f"{owner.kind} {owner.name}")
            if owner.name != ms.service_name:
                name_problems.append(f"{owner.kind} {owner.name!r}")
        plan = plan_for(ms, pod, owner, ms.namespace, podmonitors=podmonitors)
        digest = (meta.get("annotations") or {}).get(INJECTED_ANNOTATION)
        if digest == plan.digest:
            instrumented.append(name)
        else:
            if owner is not None:
                stale.add(owner)
            if not digest:
                missing.append(name)
                continue
            outdated.append(name)
        labels = meta.get("labels") or {}
        canonical = labels.get(ISTIO_CANONICAL_NAME)
        if canonical and canonical != ms.service_name:
            name_problems.append(f"Istio canonical name {canonical!r} on pod {name}")
        resource_name = (meta.get("annotations") or {}).get(OTEL_SERVICE_NAME_ANNOTATION)
        if resource_name and resource_name != ms.service_name:
            name_problems.append(f"annotation {OTEL_SERVICE_NAME_ANNOTATION}={resource_name!r} on pod {name}")
        app_name = labels.get(DEFAULT_NAME_LABEL)
        if app_name and app_name != ms.service_name:
            name_problems.append(f"label {DEFAULT_NAME_LABEL}={app_name!r} on pod {name}")
        source = f"{owner.kind} {owner.name}" if owner is not None else f"Pod {name}"
        for conflict in changing.changes(pod, plan).conflicts:
            if conflict.overridden:
                continue
            kept.append(kept_value(source, conflict))
            if conflict.name == "OTEL_SERVICE_NAME":
                name_problems.append(
                    f"OTEL_SERVICE_NAME={conflict.theirs!r} set by the user in pod {name} ({conflict.where})"
                )
    matched = len(pods)
    mode = ms.spec.injection.mode
    details: list[dict[str, Any]] = [make("ConfigValid", "True", "Valid", "spec is valid")]

    if matched == 0:
        selector = ms.selector.describe()
        details.append(
            make(
                "Injected",
                "False",
                "NoMatchingPods",
                f"selector {selector} matches no running pod in namespace {ms.namespace}; "
                "check spec.selector against the pods' labels",
            )
        )
    elif missing:
        hint = (
            "patch mode updates the pod template; the rollout replaces them"
            if mode == "patch"
            else "they were created while the webhook was unreachable; restart their workload, or set "
            "spec.injection.restartOutdated: true"
        )
        details.append(
            make(
                "Injected",
                "False",
                "PodsNotInjected",
                f"{len(missing)} of {matched} pod(s) carry no otelwire configuration: "
                f"{conditions.names(sorted(missing))}; {hint}",
            )
        )
    elif outdated:
        details.append(
            make(
                "Injected",
                "False",
                "PodsOutdated",
                f"{len(outdated)} of {matched} pod(s) carry an older plan: "
                f"{conditions.names(sorted(outdated))}; a rollout restart applies the current one",
            )
        )
    else:
        details.append(
            make("Injected", "True", "AllPodsInjected", f"{matched} of {matched} pod(s) carry the current plan")
        )

    if probe is None:
        details.append(
            make(
                "CollectorReachable",
                "True",
                "ExportDisabled",
                "no exporter sends to a collector (tracing and metrics exporters are none/prometheus)",
            )
        )
    elif probe.reachable is None:
        details.append(make("CollectorReachable", "Unknown", "NotProbeable", f"{probe.endpoint}: {probe.detail}"))
    elif probe.reachable:
        details.append(make("CollectorReachable", "True", "Reachable", f"{probe.endpoint}: {probe.detail}"))
    else:
        details.append(
            make(
                "CollectorReachable",
                "False",
                "Unreachable",
                f"{probe.endpoint}: {probe.detail}; check the collector Service and spec.tracing.otlp.endpoint",
            )
        )

    problems = sorted(set(name_problems)) + list(alias_conflicts)
    if problems:
        details.append(
            make(
                "ServiceNameConsistent",
                "False",
                "NamesDisagree",
                f"service name is {ms.service_name!r} but: {conditions.names(problems)}",
            )
        )
    elif matched == 0:
        details.append(make("ServiceNameConsistent", "Unknown", "NoMatchingPods", "no pods to compare names with"))
    else:
        details.append(
            make(
                "ServiceNameConsistent",
                "True",
                "NamesAgree",
                f"{', '.join(sorted(workload_names)) or 'pods'}, the Prometheus job and Istio use {ms.service_name!r}",
            )
        )

    if ms.spec.clock.sync == "chrony":
        details.append(make("ClockSynced", *clocking.clock_synced(clock, ms.spec.clock.max_skew)))

    ready_status, ready_reason, ready_message = _summary(details, matched, ms.service_name)
    converging = applying or (bool(outdated or missing) and (mode == "patch" or ms.spec.injection.restart_outdated))
    result = [
        make("Ready", ready_status, ready_reason, ready_message),  # type: ignore[arg-type]
        make(
            "Reconciling",
            "True" if converging else "False",
            "RolloutInProgress" if converging else "Reconciled",
            "pods are being replaced to carry the current plan" if converging else "nothing in progress",
        ),
        make("Stalled", "False", "Valid", "spec can be satisfied"),
        *details,
    ]
    conflicts, announcements = conflicts_status(kept, previous_conflicts)
    status = {
        "observedGeneration": gen,
        "serviceName": ms.service_name,
        "workloads": {
            "matched": matched,
            "instrumented": len(instrumented),
            "outdated": len(outdated),
            "missing": len(missing),
        },
        "conflicts": conflicts,
        "conditions": result,
    }
    return Assessment(
        status=status,
        ready=ready_status == "True",
        transitions=_transitions(before, result),
        announcements=announcements,
        stale_workloads=tuple(sorted(stale, key=lambda w: (w.kind, w.name))),
    )


def assess_invalid(
    error: InvalidSpec, *, generation: int, previous: Iterable[Mapping[str, Any]] | None, now: str
) -> Assessment:
    """An invalid spec: ConfigValid=False, Stalled=True, Ready=False, with render's messages."""
    before = conditions.by_type(previous)
    message = "; ".join(str(p) for p in error.problems)

    def make(type_: str, status: conditions.Status, reason: str, text: str) -> dict[str, Any]:
        return conditions.make(type_, status, reason, text, generation=generation, previous=before, now=now)

    result = [
        make("Ready", "False", "InvalidSpec", f"ConfigValid: {message}"),
        make("Reconciling", "False", "InvalidSpec", "nothing will be done until the spec is fixed"),
        make("Stalled", "True", "InvalidSpec", message),
        make("ConfigValid", "False", "InvalidSpec", message),
    ]
    status = {
        "observedGeneration": generation,
        "serviceName": "",
        "workloads": {"matched": 0, "instrumented": 0, "outdated": 0, "missing": 0},
        "conflicts": {"count": 0, "items": []},
        "conditions": result,
    }
    return Assessment(status=status, ready=False, transitions=_transitions(before, result))
