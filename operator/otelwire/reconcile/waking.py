"""Changed pods wake the MonitoredServices that select them.

A pod created, scheduled, started or deleted changes what its MonitoredService
reports (``Injected``, the workload counts, ``Ready``).  ``observe.pods`` hands each
batch of pods whose skeleton changed to :func:`wake_selecting_services` on the event
loop, which wakes the re-assessment (``reassessing.Reassessor``) of every
MonitoredService of the pod's namespace whose selector matches the pod's labels;
the re-assessment lets a burst settle for a moment and runs once.  No API call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from otelwire.reconcile.reassessing import Reassessor
from otelwire.reconcile.selections import Selections


def wake_selecting_services(
    selections: Selections, reassessor: Reassessor | None, changed: Iterable[tuple[str, Mapping[str, Any]]]
) -> int:
    """Wake the services selecting each (namespace, labels) of a changed pod; how many were woken."""
    if reassessor is None:
        return 0
    keys: set[str] = set()
    for namespace, labels in changed:
        if not namespace:
            continue
        selection = selections.get(namespace)
        if len(selection):
            keys.update(ms.key for ms in selection.matching(labels))
    return int(reassessor.wake(keys)) if keys else 0
