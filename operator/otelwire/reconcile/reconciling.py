"""One reconcile of a MonitoredService: gather the facts, call the core, write what changed.

The same function serves kopf's create/update/resume handler and the
re-assessments (``reassessing``): it parses the spec (a bad one becomes
``ConfigValid=False``/``Stalled=True``, never an exception), waits for the pod
store's first listing, syncs the cluster-wide objects, applies patch mode,
reads the pods the service owns, a collector probe and the clock facts, calls
the pure assessor, rolls outdated workloads when asked, keeps the companions
(PodMonitor, dashboard), and writes the status -- only when it changed.  A new
generation's status goes out with kopf's own patch of its diff base (one
write, not two): the caller hands that patch's ``status`` in.  API errors
raise :class:`~otelwire.reconcile.reassessing.Retry`; the kopf handlers turn
it into ``kopf.TemporaryError``.  Nothing here imports kopf.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any, Literal

from otelwire import metrics
from otelwire.actuate import patching, statuses
from otelwire.assess import assess, assess_invalid
from otelwire.assess.assessing import Assessment, owned_pods
from otelwire.kube.client import KubeError
from otelwire.observe.pods import pod_bucket
from otelwire.reconcile.landings import service_key
from otelwire.reconcile.reassessing import Retry
from otelwire.reconcile.runtime import Runtime
from otelwire.spec.model import MonitoredService, parse_monitored_service
from otelwire.spec.problems import InvalidSpec

logger = logging.getLogger(__name__)
PODS_LISTED_WAIT = 30.0  # seconds a reconcile waits at start-up for the pod store's first listing

Announce = Callable[[Literal["Normal", "Warning"], str, str], None]  # (type, reason, message): one Event


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reconcile(
    runtime: Runtime,
    body: Mapping[str, Any],
    status: Mapping[str, Any],
    *,
    announce: Announce,
    apply: bool,
    previously_patched: bool = False,
    created: bool = False,
    patch_status: MutableMapping[str, Any] | None = None,
) -> None:
    """One reconcile; the caller holds the service's lock (``runtime.locks``): its handler and its
    re-assessment run in different threads.  ``patch_status``: kopf's patch to put a new
    generation's status in; None to write it at once."""
    started = time.perf_counter()
    previous = status.get("conditions") or []
    meta = body.get("metadata") or {}
    namespace = str(meta.get("namespace") or "default")
    try:
        ms = parse_monitored_service(body, namespace)
    except InvalidSpec as error:
        metrics.RECONCILIATIONS.labels("invalid").inc()
        generation = int(meta.get("generation") or 0)
        invalid = assess_invalid(error, generation=generation, previous=previous, now=now())
        write(runtime, invalid, body, status, announce=announce, patch_status=patch_status)
        return
    if not runtime.pods.wait(PODS_LISTED_WAIT):
        # No "0 pods" status from a store still being filled (a restart would flip Ready off
        # and on); before any write, so a retry repeats none.
        raise Retry(f"pods not listed yet (waited {PODS_LISTED_WAIT:.0f}s); see the pod informer's log", 10)
    selection = runtime.selections.get(namespace)
    podmonitors = discover_podmonitors(runtime)
    renamed = runtime.cluster.sync(runtime.selections.all, version=runtime.selections.version)
    alias_notes = renamed.conflicts.get(ms.key, [])
    applying_now = False
    try:
        if apply and ms.spec.injection.mode == "patch":
            outcome = patching.apply_patch_mode(runtime.kube, ms, selection.services, podmonitors=podmonitors)
            applying_now = bool(outcome.applied)
            patching.release(runtime.kube, ms, keep=[*outcome.applied, *outcome.unchanged])
            for line in outcome.conflicts:
                logger.warning("%s: %s", ms.key, line)
            if outcome.errors:
                raise Retry("; ".join(outcome.errors), 10)
        elif apply and previously_patched:
            patching.release(runtime.kube, ms)
    except KubeError as error:
        metrics.RECONCILIATIONS.labels("error").inc()
        raise Retry(str(error), 10) from error
    pods = owned_pods(ms, selection, runtime.pods.get(pod_bucket(ms)))
    clock = runtime.clock.facts() if ms.spec.clock.sync == "chrony" else None
    assessment = assess(
        ms,
        pods,
        probe=runtime.prober.check(ms),
        clock=clock,
        previous=previous,
        now=now(),
        applying=applying_now,
        alias_conflicts=alias_notes,
        podmonitors=podmonitors,
        previous_conflicts=(status.get("conflicts") or {}).get("items"),
    )
    restart_outdated(runtime, ms, assessment)
    try:
        runtime.companions.sync(ms, created=created)
    except KubeError as error:
        logger.warning("%s: PodMonitor or dashboard not applied: %s", ms.key, error)
    metrics.set_pods(ms.key, namespace, ms.service_name, assessment.status["workloads"])
    write(runtime, assessment, body, status, announce=announce, patch_status=patch_status)
    metrics.RECONCILIATIONS.labels("ready" if assessment.ready else "not_ready").inc()
    metrics.RECONCILE_SECONDS.observe(time.perf_counter() - started)


def write(
    runtime: Runtime,
    assessment: Assessment,
    body: Mapping[str, Any],
    status: Mapping[str, Any],
    *,
    announce: Announce,
    patch_status: MutableMapping[str, Any] | None,
) -> None:
    """Write ``assessment``'s status if it differs from ``status``; announce what is worth an Event."""
    key = service_key(body)
    count_ready(runtime, key, assessment.ready)  # first: a client that sees the status may scrape them at once
    wanted = assessment.status
    if any(status.get(field) != value for field, value in wanted.items()):
        if patch_status is not None:
            # With kopf's patch of its diff base: both land or neither does -- kopf retries its
            # patch, and runs the handler again if it never landed.
            patch_status.update(wanted)
            runtime.landings.expect(key)
        else:
            # Re-assessments, resumes and label changes write here, with the client's retries.
            try:
                statuses.write(runtime.kube, body, wanted)
            except KubeError as error:
                raise Retry(f"status not written: {error}", 5) from error
    for type_, new_status, reason, message in assessment.transitions:
        if type_ == "Ready" and (status.get("conditions") or new_status == "True"):
            announce("Normal" if new_status == "True" else "Warning", reason, message[:1000])
        if type_ == "ConfigValid" and new_status == "False":
            announce("Warning", reason, message[:1000])
    for message in assessment.announcements:
        announce("Warning", "UserValueKept", message[:1000])


def count_ready(runtime: Runtime, key: str, ready: bool | None) -> None:
    """``otelwire_monitoredservices`` after ``key`` became ``ready`` (None: deleted)."""
    ready_count, not_ready = runtime.readiness.set(key, ready)
    metrics.SERVICES.labels("true").set(ready_count)
    metrics.SERVICES.labels("false").set(not_ready)


def discover_podmonitors(runtime: Runtime) -> bool:
    """Whether the cluster serves PodMonitors; the webhook plans with the same answer (one scrape path)."""
    try:
        found = runtime.podmonitors.available()
    except KubeError as error:
        logger.warning("could not discover the Prometheus Operator's API: %s", error)
        found = runtime.podmonitors.known
    if runtime.reviewer is not None:
        runtime.reviewer.podmonitors = found
    return found


def restart_outdated(runtime: Runtime, ms: MonitoredService, assessment: Assessment) -> None:
    """``restartOutdated``: roll the workloads of pods without the current plan, rate-limited."""
    if ms.spec.injection.mode != "webhook" or not ms.spec.injection.restart_outdated or runtime.reviewer is None:
        return
    injected = assessment.conditions.get("Injected") or {}
    if injected.get("reason") not in ("PodsNotInjected", "PodsOutdated"):
        return
    for owner in assessment.stale_workloads:
        key = f"{ms.namespace}/{owner.kind}/{owner.name}"
        if runtime.restarts.allow(key, time.monotonic(), runtime.options.restart_min_interval):
            try:
                patching.restart(runtime.kube, ms.namespace, owner)
                logger.info("%s: restarted %s %s to apply the current plan", ms.key, owner.kind, owner.name)
            except KubeError as error:
                logger.warning("%s: restart of %s %s failed: %s", ms.key, owner.kind, owner.name, error)


def release(runtime: Runtime, body: Mapping[str, Any]) -> list[str]:
    """A deleted MonitoredService (with otelwire's finalizer): give back what patch mode applied, and
    re-sync the cluster-wide objects without it (the chrony DaemonSet goes with the last asker)."""
    meta = body.get("metadata") or {}
    namespace = str(meta.get("namespace") or "default")
    key = service_key(body)
    runtime.cluster.sync(lambda: [each for each in runtime.selections.all() if each.key != key], max_age=0)
    try:
        ms = parse_monitored_service(body, namespace)
    except InvalidSpec:
        return []
    try:
        return patching.release(runtime.kube, ms)
    except KubeError as error:
        raise Retry(str(error), 10) from error


def forget(runtime: Runtime, namespace: str, name: str) -> None:
    """A deleted MonitoredService leaves the gauges, the selections and the per-service books."""
    key = f"{namespace}/{name}"
    runtime.selections.put(namespace, name, None)
    if runtime.reassessor is not None:
        runtime.reassessor.forget(key)
    count_ready(runtime, key, None)
    metrics.forget_pods(key)
    runtime.locks.drop(key)
    runtime.landings.forget(key)
