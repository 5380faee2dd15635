"""Pod events wake the MonitoredServices that select the pod.

A pod created, scheduled, started or deleted changes what its MonitoredService
reports (``Injected``, the workload counts, ``Ready``).  Rather than leaving
that to the periodic re-assessment, each pod event wakes the re-assessment
daemon (``services.reassess``) of every MonitoredService of the pod's
namespace whose selector matches the pod's labels; the daemon lets a burst of
events settle for a moment and re-assesses once.  Nothing here calls the API.
"""

from __future__ import annotations

from typing import Any

import kopf


@kopf.on.event("v1", "pods")
async def wake_selecting_services(body: kopf.Body, namespace: str | None, memo: kopf.Memo, **kwargs: Any) -> None:
    if not namespace:
        return
    selection = memo.selections.get(namespace)
    if len(selection):
        memo.wakeups.wake(ms.key for ms in selection.matching(body.metadata.labels))
