"""kopf's handlers for MonitoredServices: reconcile on change, release on delete, forget when gone.

Thin by design: each handler takes the runtime from kopf's memo, holds the
service's lock, and calls ``reconcile.reconciling`` -- which gathers the facts,
calls the pure core and writes what changed -- turning its ``Retry`` into
``kopf.TemporaryError`` and its announcements into kopf's Events.  The
re-assessments (``reconcile.reassessing``) run the same reconcile through
:func:`reassessment`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal, cast

import kopf

from otelwire.handlers.indexing import forget_parsed, runtime_of
from otelwire.reconcile import reconciling
from otelwire.reconcile.landings import DIFFBASE_FIELD, handled, service_key
from otelwire.reconcile.reassessing import Deferred, Retry
from otelwire.reconcile.runtime import Runtime
from otelwire.spec.model import API_GROUP, API_VERSION, PLURAL

logger = logging.getLogger(__name__)
RESOURCE = (API_GROUP, API_VERSION, PLURAL)


def announcer(body: Mapping[str, Any]) -> reconciling.Announce:
    """Events on ``body`` through kopf's poster (it reads its context, which re-assessments copy)."""

    target = body if isinstance(body, kopf.Body) else kopf.Body(cast(Any, body))

    def announce(type_: Literal["Normal", "Warning"], reason: str, message: str) -> None:
        post = kopf.info if type_ == "Normal" else kopf.warn
        post(target, reason=reason, message=message)

    return announce


def _runtime(memo: kopf.Memo) -> Runtime:
    runtime = runtime_of(memo)
    if runtime is None:
        raise kopf.TemporaryError("the operator is still starting", delay=2)
    return runtime


@kopf.on.resume(*RESOURCE)
@kopf.on.create(*RESOURCE)
@kopf.on.update(*RESOURCE)
def reconcile(*, body: kopf.Body, status: kopf.Status, memo: kopf.Memo, patch: kopf.Patch, **kwargs: Any) -> None:
    runtime = _runtime(memo)
    # Switching from patch to webhook mode gives back what patch mode applied. (Only on an update
    # that shows the switch: listing workloads on every reconcile of every webhook-mode service
    # would cost three API calls each.)
    old = kwargs.get("old") or {}
    was_patch = mode_of(old.get("spec") or {}) == "patch"
    with runtime.locks.lock(service_key(body)):
        try:
            reconciling.reconcile(
                runtime,
                body,
                status,
                announce=announcer(body),
                apply=True,
                previously_patched=was_patch,
                created=kwargs.get("reason") == "create",
                # Only a new generation's status rides on kopf's patch: re-assessments wait for
                # that one (``Landings``).  Any other (a resume, a change of labels) is written at
                # once, like a re-assessment's, which may run right after it.
                patch_status=None if handled(body) else patch.status,
            )
        except Retry as error:
            raise kopf.TemporaryError(str(error), delay=error.delay) from error


def reassessment(runtime: Runtime) -> Callable[[str, Mapping[str, Any]], None]:
    """The re-assessment ``reassessing.Reassessor`` runs for one service, given its slim body.

    Patch mode also re-applies (a workload changed by hand gets its env back); a failure
    raises ``Retry`` with the delay to retry after.
    """

    def reassess(key: str, _handed: Mapping[str, Any]) -> None:
        with runtime.locks.lock(key):
            # The latest body, read under the lock, not the one handed in when the job started:
            # a handler that held the lock meanwhile may have changed the spec or the status.
            assert runtime.reassessor is not None
            latest = runtime.reassessor.bodies.get(key)
            if latest is None:  # deleted since
                return
            if runtime.landings.awaited(key, latest):
                raise Deferred(key)
            try:
                reconciling.reconcile(
                    runtime,
                    latest,
                    latest.get("status") or {},
                    announce=announcer(latest),
                    apply=mode_of(latest.get("spec") or {}) == "patch",
                )
            except Retry:
                raise
            except Exception as error:
                logger.exception("%s: re-assessment failed", key)
                raise Retry(f"{type(error).__name__}: {error}", 10) from error

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
        mode_of(spec) == "patch"
        or (isinstance(clock, Mapping) and clock.get("sync") == "chrony")
        or bool(spec.get("aliases"))
    ):
        return True
    try:
        essence = _DIFFBASE.fetch(body=cast(kopf.Body, body))
    except ValueError:
        return True  # unreadable: keep it, to be safe
    handled_spec = essence.get("spec") if isinstance(essence, Mapping) else None
    return isinstance(handled_spec, Mapping) and mode_of(handled_spec) == "patch"


_DIFFBASE = kopf.StatusDiffBaseStorage(field=DIFFBASE_FIELD)  # read as kopf reads it


def mode_of(spec: Mapping[str, Any]) -> Any:
    injection = spec.get("injection") or {}
    return injection.get("mode") if isinstance(injection, Mapping) else None


@kopf.on.delete(*RESOURCE, when=needs_finalizer)
def release(*, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Remove exactly what patch mode applied for this MonitoredService, nothing else.

    Also re-syncs the cluster-wide objects without it: the chrony DaemonSet goes when the
    last MonitoredService wanting clock sync goes.  The gauges and books go with the
    deletion event (``forget_deleted``), as for every service.
    """
    try:
        released = reconciling.release(_runtime(memo), body)
    except Retry as error:
        raise kopf.TemporaryError(str(error), delay=error.delay) from error
    if released:
        logger.info("%s: released %s", service_key(body), ", ".join(released))


def _deleted(type: str | None = None, **_: Any) -> bool:
    return type == "DELETED"


# Filtered by kopf, not in the handler: every status write is an event, and each handler call
# costs kopf's invocation and a "succeeded" log line (14,000 of them for 1,000 new services).
@kopf.on.event(*RESOURCE, when=_deleted)
async def forget_deleted(body: kopf.Body, namespace: str | None, memo: kopf.Memo, **_: Any) -> None:
    """A deleted MonitoredService leaves the indexes, the gauges and the per-service books.

    Most have no finalizer (``needs_finalizer``): this deletion event is all the operator sees.
    """
    forget_parsed(str(body.metadata.get("uid") or ""))
    runtime = runtime_of(memo)
    if runtime is None:
        return
    namespace = namespace or "default"
    name = str(body.metadata.get("name") or "")
    reconciling.forget(runtime, namespace, name)
    runtime.index_ready.seen(f"{namespace}/{name}")
