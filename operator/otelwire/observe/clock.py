"""The chrony DaemonSet as ``ClockSynced`` needs it: the DaemonSet, its pods, and why pods are missing.

``assess.clocking`` judges; this reads, at most once per ``ttl`` seconds
(every MonitoredService asking for clock sync reads the same facts): the
DaemonSet in the chrony namespace, its pods, and -- only when the DaemonSet
controller has created fewer pods than it should -- its ``FailedCreate``
Events, which say why (a Pod Security level, a quota).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from otelwire.assess import clocking
from otelwire.assess.facts import ClockFacts
from otelwire.clusterwide import chrony
from otelwire.kube.client import Kube, KubeError

logger = logging.getLogger(__name__)


class ClockReader:
    def __init__(self, kube: Kube, namespace: str, ttl: float = 2.0) -> None:
        self.kube = kube
        self.namespace = namespace
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, ClockFacts | None] = (0.0, None)

    def forget(self) -> None:
        """The DaemonSet changed or went away: read again next time."""
        with self._lock:
            self._cached = (0.0, None)

    def facts(self) -> ClockFacts:
        now = time.monotonic()
        with self._lock:
            stamp, cached = self._cached
            if cached is not None and now - stamp < self.ttl:
                return cached
        namespace = self.namespace
        try:
            daemonset = self.kube.get(f"/apis/apps/v1/namespaces/{namespace}/daemonsets/{chrony.NAME}")
        except KubeError as error:
            if error.status != 404:
                raise
            daemonset = None
        pods: list[Any] = []
        if daemonset is not None:
            selector = f"app.kubernetes.io/name={chrony.NAME}"
            pods = self.kube.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=selector).get("items") or []
        facts = clocking.observe(daemonset, pods)
        if facts.missing_pods:
            # Pods are missing: ask the DaemonSet controller's Events why (Pod Security, a quota).
            try:
                events = self.kube.get(
                    f"/api/v1/namespaces/{namespace}/events",
                    fieldSelector=f"involvedObject.kind=DaemonSet,involvedObject.name={chrony.NAME},"
                    f"reason={clocking.FAILED_CREATE}",
                )
            except KubeError as error:
                logger.warning("cannot read why chrony pods are missing: %s", error)
            else:
                facts = clocking.observe(daemonset, pods, events.get("items") or [])
        with self._lock:
            self._cached = (now, facts)
        return facts
