"""The MonitoredService handlers: reconcile on change, re-assess when pods change, release on delete.

Thin by design: each handler gathers facts (indexes, a probe, for patch mode a
list of workloads), calls the pure planner and assessor, and writes the
result to status -- only when it changed; a new generation's status goes out
with kopf's own patch of its diff base (one write, not two).  Re-assessment -- when a pod a
service selects changes (``pods``), and every interval at the latest -- is
``reassessing.Reassessor``'s, one task for all services, running
``reassessment`` here; the status follows the pods within about a second
instead of one timer period.  A bad spec never raises: it
becomes ``ConfigValid=False``/``Stalled=True``.  API errors raise
``kopf.TemporaryError`` so kopf retries with backoff.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import kopf

from otelwire import metrics
from otelwire.assess import assess, assess_invalid
from otelwire.assess.assessing import Assessment, owned_pods
from otelwire.handlers import applying
from otelwire.handlers.indexing import forget
from otelwire.handlers.kube import KubeError
from otelwire.handlers.podwatching import pod_bucket
from otelwire.handlers.reassessing import Deferred
from otelwire.handlers.runtime import DIFFBASE_FIELD, handled, service_key, snapshot
from otelwire.options import Options
from otelwire.plan.workloads import owner_of_pod
from otelwire.spec.model import API_GROUP, API_VERSION, PLURAL, MonitoredService, parse_monitored_service
from otelwire.spec.problems import InvalidSpec

logger = logging.getLogger(__name__)
RESOURCE = (API_GROUP, API_VERSION, PLURAL)
PODS_LISTED_WAIT = 30.0  # seconds a reconcile waits at start-up for the pod watch's first listing


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _comparable(status: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in status.items() if k != "kopf"}


def _write(
    assessment: Assessment,
    body: kopf.Body,
    status: Mapping[str, Any],
    memo: kopf.Memo,
    patch: kopf.Patch | None = None,
) -> None:
    # The gauges first: a client that sees the written status may scrape them at once.
    key = service_key(body)
    _count_ready(memo, key, assessment.ready)
    current = _comparable(status)
    wanted = assessment.status
    if any(current.get(field) != value for field, value in wanted.items()):
        if patch is not None:
            # A new generation's status goes out with kopf's patch of its diff base: one write
            # instead of two (status writes are the API server's largest cost in a burst of
            # new services, docs/benchmarks-cluster.md), and both land or neither does --
            # kopf retries its patch, and runs the handler again if it never landed.
            for field, value in wanted.items():
                patch.status[field] = value
            memo.landings.expect(key)
        else:
            # Re-assessments, resumes and label changes write here, with kube.py's retries: kopf does not retry
            # a 409 on its own patch, and the re-assessment task has no kopf patch to ride on.
            meta = body.metadata
            path = f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{meta.namespace}/{PLURAL}/{meta.name}/status"
            try:
                memo.kube.merge_patch(path, {"status": wanted})
            except KubeError as error:
                raise kopf.TemporaryError(f"status not written: {error}", delay=5) from error
    for type_, new_status, reason, message in assessment.transitions:
        if type_ == "Ready" and (status.get("conditions") or new_status == "True"):
            (kopf.info if new_status == "True" else kopf.warn)(body, reason=reason, message=message[:1000])
        if type_ == "ConfigValid" and new_status == "False":
            kopf.warn(body, reason=reason, message=message[:1000])
    for message in assessment.announcements:
        kopf.warn(body, reason="UserValueKept", message=message[:1000])


def _count_ready(memo: kopf.Memo, key: str, ready: bool | None) -> None:
    """``otelwire_monitoredservices`` after ``key`` became ``ready`` (None: deleted)."""
    ready_count, not_ready = memo.readiness.set(key, ready)
    metrics.SERVICES.labels("true").set(ready_count)
    metrics.SERVICES.labels("false").set(not_ready)


def _reconcile(
    *,
    body: kopf.Body,
    status: Mapping[str, Any],
    memo: kopf.Memo,
    indexes: Mapping[str, Any],
    apply: bool,
    previously_patched: bool = False,
    created: bool = False,
    patch: kopf.Patch | None = None,
) -> None:
    """One reconcile; the caller holds the service's lock (``memo.locks``): its handler and its
    re-assessment run in different threads."""
    msvc_index: kopf.Index[str, Any] = indexes["msvc_index"]
    started = time.perf_counter()
    previous = status.get("conditions") or []
    namespace = str(body.metadata.namespace)
    try:
        ms = parse_monitored_service(body, namespace)
    except InvalidSpec as error:
        metrics.RECONCILIATIONS.labels("invalid").inc()
        generation = int(body.metadata.get("generation") or 0)
        _write(assess_invalid(error, generation=generation, previous=previous, now=_now()), body, status, memo, patch)
        return
    if not memo.pods.wait(PODS_LISTED_WAIT):
        # What kopf's pod index did by holding every handler back: no "0 pods" status from a
        # store still being filled (a restart would flip Ready off and on); before any
        # write, so a retry repeats none.
        raise kopf.TemporaryError(
            f"pods not listed yet (waited {PODS_LISTED_WAIT:.0f}s); see the pod watch's log", delay=10
        )
    selection = memo.selections.get(namespace)
    podmonitors = _podmonitors(memo)
    renamed = memo.clusterwide.sync(memo.selections.all, version=memo.selections.version)
    alias_notes = renamed.conflicts.get(ms.key, [])
    applying_now = False
    try:
        if apply and ms.spec.injection.mode == "patch":
            services: list[MonitoredService] = snapshot(msvc_index.get(namespace, ()))
            outcome = applying.apply_patch_mode(memo.kube, ms, services, podmonitors=podmonitors)
            applying_now = bool(outcome.applied)
            kept = [*outcome.applied, *outcome.unchanged]
            applying.release(memo.kube, ms, keep=kept)
            for line in outcome.conflicts:
                logger.warning("%s: %s", ms.key, line)
            if outcome.errors:
                raise kopf.TemporaryError("; ".join(outcome.errors), delay=10)
        elif apply and previously_patched:
            applying.release(memo.kube, ms)
    except KubeError as error:
        metrics.RECONCILIATIONS.labels("error").inc()
        raise kopf.TemporaryError(str(error), delay=10) from error
    pods = owned_pods(ms, selection, memo.pods.get(pod_bucket(ms)))
    probe = memo.prober.check(ms)
    clock = memo.clusterwide.clock_facts() if ms.spec.clock.sync == "chrony" else None
    assessment = assess(
        ms,
        pods,
        probe=probe,
        clock=clock,
        previous=previous,
        now=_now(),
        applying=applying_now,
        alias_conflicts=alias_notes,
        podmonitors=podmonitors,
        previous_conflicts=(status.get("conflicts") or {}).get("items"),
    )
    _restart_outdated(ms, pods, assessment, memo, podmonitors)
    try:
        memo.companions.sync(ms, created=created)
    except KubeError as error:
        logger.warning("%s: PodMonitor or dashboard not applied: %s", ms.key, error)
    metrics.set_pods(ms.key, namespace, ms.service_name, assessment.status["workloads"])
    _write(assessment, body, status, memo, patch)
    metrics.RECONCILIATIONS.labels("ready" if assessment.ready else "not_ready").inc()
    metrics.RECONCILE_SECONDS.observe(time.perf_counter() - started)


def _podmonitors(memo: kopf.Memo) -> bool:
    """Whether the cluster has the Prometheus Operator's PodMonitors (rediscovered every few minutes).

    The webhook plans with the same answer: pods are scraped through PodMonitors or through
    annotations, never both.
    """
    try:
        found = bool(memo.companions.podmonitors_available())
    except KubeError as error:
        logger.warning("could not discover the Prometheus Operator's API: %s", error)
        found = bool(memo.companions.podmonitors_known)
    reviewer = getattr(memo, "reviewer", None)
    if reviewer is not None:
        reviewer.podmonitors = found
    return found


def _restart_outdated(
    ms: MonitoredService, pods: list[Mapping[str, Any]], assessment: Assessment, memo: kopf.Memo, podmonitors: bool
) -> None:
    if ms.spec.injection.mode != "webhook" or not ms.spec.injection.restart_outdated or memo.webhook is None:
        return
    injected = assessment.conditions.get("Injected") or {}
    if injected.get("reason") not in ("PodsNotInjected", "PodsOutdated"):
        return
    options: Options = memo.options
    from otelwire.plan.planning import plan_for
    from otelwire.plan.plans import INJECTED_ANNOTATION

    owners = set()
    for pod in pods:
        owner = owner_of_pod(pod)
        if owner is None:
            continue
        digest = ((pod.get("metadata") or {}).get("annotations") or {}).get(INJECTED_ANNOTATION)
        if digest != plan_for(ms, pod, owner, ms.namespace, podmonitors=podmonitors).digest:
            owners.add(owner)
    for owner in sorted(owners, key=lambda w: (w.kind, w.name)):
        key = f"{ms.namespace}/{owner.kind}/{owner.name}"
        if memo.restarts.allow(key, time.monotonic(), options.restart_min_interval):
            try:
                applying.restart(memo.kube, ms.namespace, owner)
                logger.info("%s: restarted %s %s to apply the current plan", ms.key, owner.kind, owner.name)
            except KubeError as error:
                logger.warning("%s: restart of %s %s failed: %s", ms.key, owner.kind, owner.name, error)


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
def reconcile(
    *,
    body: kopf.Body,
    status: kopf.Status,
    memo: kopf.Memo,
    **kwargs: Any,
) -> None:
    # Switching from patch to webhook mode gives back what patch mode applied. (Only on an update
    # that shows the switch: listing workloads on every reconcile of every webhook-mode service
    # would cost three API calls each.)
    old = kwargs.get("old") or {}
    was_patch = _mode(old.get("spec") or {}) == "patch"
    with memo.locks.lock(service_key(body)):
        _reconcile(
            body=body,
            status=status,
            memo=memo,
            indexes=kwargs,
            apply=True,
            previously_patched=was_patch,
            created=kwargs.get("reason") == "create",
            # Only a new generation's status rides on kopf's patch: re-assessments wait for that
            # one (``Landings``).  Any other (a resume, a change of labels) is written at once,
            # like a re-assessment's, which may run right after it.
            patch=None if handled(body) else kwargs.get("patch"),
        )


def reassessment(memo: kopf.Memo, indexes: Mapping[str, Any]) -> Callable[[str, Mapping[str, Any]], None]:
    """The re-assessment ``reassessing.Reassessor`` runs for one service, given its slim body.

    Patch mode also re-applies (a workload changed by hand gets its env back); errors come
    back as ``kopf.TemporaryError`` with the delay to retry after.
    """

    def reassess(key: str, _handed: Mapping[str, Any]) -> None:
        with memo.locks.lock(key):
            # The latest body, read under the lock, not the one handed in when the job started:
            # a handler that held the lock meanwhile may have changed the spec or the status.
            latest = memo.reassessor.bodies.get(key)
            if latest is None:  # deleted since
                return
            if memo.landings.awaited(key, latest):
                raise Deferred(key)
            body = kopf.Body(cast(Any, latest))  # a plain dict, read-only here
            try:
                _reconcile(body=body, status=body.status, memo=memo, indexes=indexes, apply=_mode(body.spec) == "patch")
            except kopf.TemporaryError:
                raise
            except Exception as error:
                logger.exception("%s: re-assessment failed", key)
                raise kopf.TemporaryError(f"{type(error).__name__}: {error}", delay=10) from error

    return reassess


def needs_finalizer(body: Mapping[str, Any], **_: Any) -> bool:
    """Whether deleting this MonitoredService leaves the operator work, so it carries otelwire's finalizer.

    Patch mode does -- in the spec, or in the last spec kopf handled (``status.kopf.diffbase``:
    switching to webhook mode gives back what patch mode applied, and the finalizer stays
    until that succeeded) -- and so do clock sync (the chrony DaemonSet goes with the last
    service wanting it) and aliases (the collector rules ConfigMap).  Nothing else needs one:
    PodMonitors and dashboards are owned through ownerReferences, and the operator forgets a
    deleted service on its deletion event (``forget_deleted``).  A finalizer costs one write
    per new service and blocks deleting its namespace while the operator is away.
    """
    spec = body.get("spec") or {}
    if not isinstance(spec, Mapping):
        return False
    clock = spec.get("clock") or {}
    if (
        _mode(spec) == "patch"
        or (isinstance(clock, Mapping) and clock.get("sync") == "chrony")
        or bool(spec.get("aliases"))
    ):
        return True
    try:
        essence = _DIFFBASE.fetch(body=cast(kopf.Body, body))
    except ValueError:
        return True  # unreadable: keep it, to be safe
    handled_spec = essence.get("spec") if isinstance(essence, Mapping) else None
    return isinstance(handled_spec, Mapping) and _mode(handled_spec) == "patch"


_DIFFBASE = kopf.StatusDiffBaseStorage(field=DIFFBASE_FIELD)  # read as kopf reads it


def _mode(spec: Mapping[str, Any]) -> Any:
    injection = spec.get("injection") or {}
    return injection.get("mode") if isinstance(injection, Mapping) else None


@kopf.on.delete(*RESOURCE, when=needs_finalizer)
def release(*, body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    """Remove exactly what patch mode applied for this MonitoredService, nothing else.

    Also re-syncs the cluster-wide objects without it: the chrony DaemonSet goes when the
    last MonitoredService wanting clock sync goes.
    """
    namespace = str(body.metadata.namespace)
    key = service_key(body)
    memo.clusterwide.sync(
        lambda: [each for each in memo.selections.all() if each.key != key],
        max_age=0,
    )
    # The gauges and books go with the deletion event (``forget_deleted``), as for every service.
    try:
        ms = parse_monitored_service(body, namespace)
    except InvalidSpec:
        return
    try:
        released = applying.release(memo.kube, ms)
    except KubeError as error:
        raise kopf.TemporaryError(str(error), delay=10) from error
    if released:
        logger.info("%s: released %s", ms.key, ", ".join(released))


def _deleted(type: str | None = None, **_: Any) -> bool:
    return type == "DELETED"


# Filtered by kopf, not in the handler: every status write is an event, and each handler call
# costs kopf's invocation and a "succeeded" log line (14,000 of them for 1,000 new services).
@kopf.on.event(*RESOURCE, when=_deleted)
async def forget_deleted(body: kopf.Body, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
    """A deleted MonitoredService leaves the indexes, the gauges and the per-service books.

    Most have no finalizer (``needs_finalizer``): this deletion event is all the operator sees.
    """
    namespace = namespace or "default"
    name = str(body.metadata.get("name") or "")
    key = f"{namespace}/{name}"
    forget(memo, namespace, name, str(body.metadata.get("uid") or ""))
    _count_ready(memo, key, None)
    metrics.forget_pods(key)
    memo.locks.drop(key)
    memo.landings.forget(key)
