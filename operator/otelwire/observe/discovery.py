"""Does the cluster serve the Prometheus Operator's PodMonitors?  Asked every few minutes.

The answer decides the one scrape path of every pod (``plan.planning``:
PodMonitors, or ``prometheus.io`` annotations, never both), for the webhook, the
assessor and patch mode alike, so it is one shared fact: :class:`PodMonitors`
asks the API's discovery at most once per ``ttl`` and remembers the answer.
"""

from __future__ import annotations

import threading
import time

from otelwire.companions import podmonitor
from otelwire.kube.client import Kube, KubeError

DISCOVERY_TTL = 300.0


class PodMonitors:
    def __init__(self, kube: Kube, ttl: float = DISCOVERY_TTL) -> None:
        self.kube = kube
        self.ttl = ttl
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._available = False

    @property
    def known(self) -> bool:
        """What the last discovery found (False before the first)."""
        return self._available

    def available(self) -> bool:
        """Whether ``monitoring.coreos.com/v1`` serves ``podmonitors`` (cached for ``ttl``).

        A discovery failure other than 404/403 raises ``KubeError`` and keeps the last answer.
        """
        with self._lock:
            if time.monotonic() - self._checked < self.ttl:
                return self._available
        try:
            resources = self.kube.get(f"/apis/{podmonitor.API_VERSION}")
            available = any(r.get("name") == "podmonitors" for r in resources.get("resources") or [])
        except KubeError as error:
            if error.status not in (404, 403):
                raise
            available = False
        with self._lock:
            self._checked, self._available = time.monotonic(), available
        return available
