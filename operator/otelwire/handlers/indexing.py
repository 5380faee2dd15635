"""kopf's index of MonitoredServices by namespace, and what follows every event of one.

The webhook looks a pod's namespace up in ``msvc_index`` (O(1), no API call per
admission).  Only valid MonitoredServices are indexed -- an invalid one selects
nothing, and its status says why.  Every event also reaches, through
:func:`observed`, the runtime's selector index (``reconcile.selections``), the
webhook's start-up readiness, and the re-assessments' slim copy of the object.

The index function is ``async`` although it never awaits: kopf runs a sync
handler in its worker threads, and every event would then wait for a thread
behind reconciles blocked on API calls -- the index (and so the webhook's view
of new MonitoredServices) would lag by as much.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, cast

import kopf

from otelwire.reconcile.runtime import Runtime
from otelwire.spec.model import API_GROUP, API_VERSION, PLURAL, MonitoredService, parse_monitored_service
from otelwire.spec.problems import InvalidSpec

# uid -> (generation, parsed): the same object for the same spec, so the per-namespace selector
# indexes built from it stay valid across status updates (each one is a watch event).  An entry
# goes when the object is marked for deletion, or with its deletion event.
_parsed: dict[str, tuple[int, MonitoredService]] = {}


def runtime_of(memo: Any) -> Runtime | None:
    """The operator's runtime, once the start-up handler made it."""
    return cast(Runtime | None, getattr(memo, "runtime", None))


@kopf.index(API_GROUP, API_VERSION, PLURAL)
async def msvc_index(
    body: kopf.Body, namespace: str | None, memo: kopf.Memo | None = None, **_: Any
) -> dict[str, MonitoredService] | None:
    """The parsed MonitoredService by namespace."""
    ms = parsed_service(body, namespace or "default")
    runtime = runtime_of(memo)
    if runtime is not None:
        observed(runtime, body, namespace or "default", ms)
    return None if ms is None else {ms.namespace: ms}


def observed(runtime: Runtime, body: Mapping[str, Any], namespace: str, ms: MonitoredService | None) -> None:
    """One event of a MonitoredService, for everything the runtime keeps of it."""
    meta = body.get("metadata") or {}
    name = str(meta.get("name") or "")
    key = f"{namespace}/{name}"
    runtime.selections.put(namespace, name, ms)
    runtime.index_ready.seen(key)
    reassessor = runtime.reassessor
    if reassessor is None:
        return
    if meta.get("deletionTimestamp"):
        reassessor.forget(key)
    else:  # invalid ones too: their status says why, and follows the spec's next change
        reassessor.put(key, body)
        if runtime.landings.landed(key, body):
            reassessor.wake([key])


def parsed_service(body: Mapping[str, Any], namespace: str) -> MonitoredService | None:
    meta = body.get("metadata") or {}
    uid = str(meta.get("uid") or "")
    if meta.get("deletionTimestamp"):
        # Going away: it selects nothing any more and wants no cluster-wide objects.
        _parsed.pop(uid, None)
        return None
    generation = meta.get("generation")
    cached = _parsed.get(uid) if uid else None
    if cached is not None and cached[0] == generation:
        return cached[1]
    try:
        ms = parse_monitored_service(body, namespace)
    except InvalidSpec:
        _parsed.pop(uid, None)
        return None
    if uid and isinstance(generation, int):
        _parsed[uid] = (generation, ms)
    return ms


def forget_parsed(uid: str) -> None:
    _parsed.pop(uid, None)


T = TypeVar("T")


def snapshot(items: Iterable[T]) -> list[T]:
    """A list copy of a kopf index (or one of its stores), safe against concurrent updates.

    kopf updates its indexes from the event loop while sync code runs in worker threads;
    iterating a live store can raise "dictionary changed size during iteration".  Copying is
    retried until it completes (a few tries at most; updates are rare and short).
    """
    for _ in range(10):
        try:
            return list(items)
        except RuntimeError:
            continue
    return list(items)
