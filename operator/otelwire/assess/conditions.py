"""kstatus-shaped conditions that only move ``lastTransitionTime`` when status flips.

``Ready`` is the summary; ``Reconciling`` and ``Stalled`` follow the kstatus
conventions that ``kubectl wait``, Flux and Argo CD rely on.  A condition is a
plain dict in the ``metav1.Condition`` shape so it can be written to status
as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

Status = Literal["True", "False", "Unknown"]
MESSAGE_LIMIT = 2048


def make(
    type_: str,
    status: Status,
    reason: str,
    message: str,
    *,
    generation: int,
    previous: Mapping[str, Mapping[str, Any]],
    now: str,
) -> dict[str, Any]:
    """A condition; its transition time is kept from ``previous`` when the status is unchanged."""
    before = previous.get(type_)
    if before is not None and before.get("status") == status and before.get("lastTransitionTime"):
        since = str(before["lastTransitionTime"])
    else:
        since = now
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 3] + "..."
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
        "observedGeneration": generation,
    }


def by_type(conditions: Iterable[Mapping[str, Any]] | None) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in conditions or [] if isinstance(c, Mapping)}


def names(items: Sequence[str], limit: int = 5) -> str:
    """``a, b, c`` or ``a, b, c, d, e and 3 more``."""
    shown = ", ".join(items[:limit])
    return f"{shown} and {len(items) - limit} more" if len(items) > limit else shown
