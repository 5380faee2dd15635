"""The in-memory kopf index of MonitoredServices, by namespace.

The webhook looks a pod's namespace up in ``msvc_index`` (O(1), no API call
per admission).  Only valid MonitoredServices are indexed -- an invalid one
selects nothing, and its status says why.  Pods are not a kopf index: see
``podwatching``.

The index function is ``async`` although it never awaits: kopf runs a sync
handler in its worker threads, and every event would then wait for a thread
behind reconciles blocked on API calls -- the index (and so the webhook's view
of new MonitoredServices) would lag by as much.
"""

from __future__ import annotations

from typing import Any

import kopf

from otelwire.spec.model import API_GROUP, API_VERSION, PLURAL, MonitoredService, parse_monitored_service
from otelwire.spec.problems import InvalidSpec

# uid -> (generation, parsed): the same object for the same spec, so the per-namespace selector
# indexes built from it stay valid across status updates (each one is a watch event).  An entry
# goes when the object is marked for deletion (otelwire's finalizer guarantees that event).
_parsed: dict[str, tuple[int, MonitoredService]] = {}


@kopf.index(API_GROUP, API_VERSION, PLURAL)
async def msvc_index(
    body: kopf.Body, namespace: str | None, memo: kopf.Memo | None = None, **_: Any
) -> dict[str, MonitoredService] | None:
    """The parsed MonitoredService by namespace; also kept in ``memo.selections`` for selector lookups."""
    ms = _parsed_service(body, namespace or "default")
    name = str(body.metadata.get("name") or "")
    selections = getattr(memo, "selections", None)
    if selections is not None:
        selections.put(namespace or "default", name, ms)
    key = f"{namespace or 'default'}/{name}"
    readiness = getattr(memo, "index_ready", None)
    if readiness is not None:
        readiness.seen(key)
    reassessor = getattr(memo, "reassessor", None)
    if reassessor is not None:
        if body.metadata.get("deletionTimestamp"):
            reassessor.forget(key)
        else:  # invalid ones too: their status says why, and follows the spec's next change
            reassessor.put(key, body)
            landings = getattr(memo, "landings", None)
            if landings is not None and landings.landed(key, body):
                reassessor.wake([key])
    return None if ms is None else {ms.namespace: ms}


def _parsed_service(body: kopf.Body, namespace: str) -> MonitoredService | None:
    uid = str(body.metadata.get("uid") or "")
    if body.metadata.get("deletionTimestamp"):
        # Going away: it selects nothing any more and wants no cluster-wide objects.
        _parsed.pop(uid, None)
        return None
    generation = body.metadata.get("generation")
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


def forget(memo: kopf.Memo, namespace: str, name: str, uid: str) -> None:
    """Drop a MonitoredService that is gone from what the index keeps beside kopf's index.

    For the deletion event (``services.forget_deleted``): one deleted without a deletion
    mark the index saw -- it had no finalizer -- goes too.
    """
    _parsed.pop(uid, None)
    memo.selections.put(namespace, name, None)
    memo.index_ready.seen(f"{namespace}/{name}")
    reassessor = getattr(memo, "reassessor", None)
    if reassessor is not None:
        reassessor.forget(f"{namespace}/{name}")
