"""Every place otelwire reaches past kopf's public API, in one module, each with a test that fails loudly.

kopf is pinned to one minor version (pyproject.toml); an upgrade that moves
what is used here fails ``tests/unit/test_kopfinternals.py`` by name, and the
peering test on the real plane (``tests/reconcile/test_replicas.py``) drives the
pause below end to end.

* **Pause detection.**  Under peering, kopf pauses every replica but the active
  one, and says so to nobody but its own daemons: there is no public pause
  signal (kopf 1.45: ``operator_paused`` is passed only to its reactor and its
  daemon killer).  While paused, kopf's daemon killer visits every daemon's
  memory once a second (``ResourceMemories.iter_all_daemon_memories``, a private
  class); :func:`pause_aware_memories` gives kopf a ``ResourceMemories`` that
  records those visits into a ``reassessing.PauseSignal``, so a standby's
  re-assessments (which kopf does not run as daemons) stop as kopf's daemons
  would.  A public alternative -- a kopf daemon whose stopping tells the pause --
  would need a daemon on some object that always exists, and a watch of its
  kind for it.
* **Lean diff-base and progress storages.**  Subclasses of kopf's public
  ``StatusDiffBaseStorage``/``StatusProgressStorage`` that skip deep copies kopf
  makes of every MonitoredService event; they rely on what kopf's ``build`` and
  ``clear`` keep, which ``tests/unit/test_kopfinternals.py`` compares with kopf's
  own results.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import kopf

from otelwire.reconcile.reassessing import PAUSE, PauseSignal


def pause_aware_memories(signal: PauseSignal = PAUSE) -> Any:
    """kopf's ``ResourceMemories`` for ``kopf.run(memories=...)``, telling ``signal`` when kopf is paused.

    kopf's daemon killer iterates all daemons' memories right when the operator
    pauses and then every second until it resumes (and once at exit); nothing
    else calls ``iter_all_daemon_memories``.
    """
    from kopf._core.reactor.inventory import ResourceMemories

    class PauseAwareMemories(ResourceMemories):
        def iter_all_daemon_memories(self) -> Any:
            signal.visit()
            return super().iter_all_daemon_memories()

    return PauseAwareMemories()


class LeanDiffBaseStorage(kopf.StatusDiffBaseStorage):
    """kopf's diff base in ``status.kopf.diffbase``, built without copying what it discards.

    kopf's ``build`` deep-copies the whole body -- managed fields and status, most of a
    MonitoredService -- and then deletes metadata and status, on every event of every
    MonitoredService.  Handed a body of only what it keeps (all but metadata and status,
    plus labels and annotations), the same code builds the same essence
    (``tests/unit/test_settings.py`` compares the two).
    """

    def build(
        self,
        *,
        body: kopf.Body,
        extra_fields: Iterable[Any] | None = None,
    ) -> Any:
        if extra_fields:  # fields picked from anywhere: kopf's own way
            return super().build(body=body, extra_fields=extra_fields)
        metadata = body.get("metadata") or {}
        lean: dict[str, Any] = {key: value for key, value in body.items() if key not in ("metadata", "status")}
        lean["metadata"] = {key: metadata[key] for key in ("labels", "annotations") if key in metadata}
        return super().build(body=cast(kopf.Body, lean), extra_fields=None)


class LeanProgressStorage(kopf.StatusProgressStorage):
    """kopf's handler progress in ``status.kopf.progress``; its ``clear`` without a copy where it is a no-op.

    kopf clears both diff-base essences of every MonitoredService event (the stored
    one and the one just built) of its progress field, deep-copying each first.  An
    essence with no ``status`` -- the lean diff base never has one -- holds nothing
    to clear: it is handed back as it is (both are fresh objects kopf made for this
    event).  Any other goes through kopf's own ``clear``.
    """

    def clear(self, *, essence: Any) -> Any:
        if isinstance(essence, dict) and "status" not in essence:
            return essence
        return super().clear(essence=essence)
