"""Pod events wake the MonitoredServices that select the pod.

A pod created, scheduled, started or deleted changes what its MonitoredService
reports (``Injected``, the workload counts, ``Ready``).  Rather than leaving
that to the periodic re-assessment, each pod event wakes the re-assessment
(``reassessing.Reassessor``) of every MonitoredService of the pod's
namespace whose selector matches the pod's labels; it lets a burst of
events settle for a moment and re-assesses once.  Nothing here calls the API.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf


@kopf.on.event("v1", "pods")
async def wake_selecting_services(body: kopf.Body, namespace: str | None, memo: kopf.Memo, **kwargs: Any) -> None:
    if not namespace:
        return
    selection = memo.selections.get(namespace)
    if len(selection):
        memo.reassessor.wake(ms.key for ms in selection.matching(body.metadata.labels))


class QuietPodEvents(logging.Filter):
    """Drops kopf's INFO "Handler 'wake_selecting_services' succeeded." -- one per pod event.

    At 1,000 services starting their pods that was thousands of lines saying
    nothing, and ~4 % of the operator's CPU (formatting and writing them).
    Failures are still logged; ``otelwire run -v`` keeps everything.
    """

    MESSAGE = "Handler 'wake_selecting_services' succeeded."  # kopf's words (execution.py)

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.levelno == logging.INFO and record.msg == self.MESSAGE)


def quiet_pod_events() -> None:
    """Install :class:`QuietPodEvents` on kopf's per-object logger (once)."""
    logger = logging.getLogger("kopf.objects")
    if not any(isinstance(f, QuietPodEvents) for f in logger.filters):
        logger.addFilter(QuietPodEvents())
