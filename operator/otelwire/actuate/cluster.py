"""The cluster-wide objects: the chrony DaemonSet and ConfigMap, the collector rules ConfigMap.

Every MonitoredService reconcile calls :meth:`ClusterObjects.sync` with all valid
MonitoredServices; the objects (``generated.chrony_objects``,
``generated.alias_configmap``) are server-side-applied only when their content
changed since the last apply (so 1,000 reconciles cost one apply), and the chrony
DaemonSet is deleted as soon as nobody wants it -- also right after a restart, so
none is left orphaned.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from otelwire import generated
from otelwire.clusterwide import chrony, renaming
from otelwire.kube.client import MANAGER, Kube, KubeError
from otelwire.observe.clock import ClockReader
from otelwire.options import Options
from otelwire.spec.model import MonitoredService

logger = logging.getLogger(__name__)


def _digest(objects: Sequence[Mapping[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(objects, sort_keys=True).encode()).hexdigest()


def _path(obj: Mapping[str, Any]) -> str:
    meta = obj["metadata"]
    if obj["kind"] == "ConfigMap":
        return f"/api/v1/namespaces/{meta['namespace']}/configmaps/{meta['name']}"
    return f"/apis/apps/v1/namespaces/{meta['namespace']}/daemonsets/{meta['name']}"


class ClusterObjects:
    """The chrony DaemonSet and ConfigMap and the collector rules ConfigMap, kept in line with all services."""

    def __init__(self, kube: Kube, options: Options, clock: ClockReader | None = None) -> None:
        self.kube = kube
        self.options = options
        self.clock = clock  # told when the chrony DaemonSet goes, so ClockSynced reads afresh
        self._lock = threading.Lock()
        self._chrony: str | None = None  # digest of what was applied; "" = known absent
        self._aliases: str | None = None
        self._renaming = renaming.Renaming({})
        self._synced_at = float("-inf")
        self._synced_version: int | None = None  # the services' version of the last pass that succeeded

    def sync(
        self,
        services: Callable[[], Sequence[MonitoredService]],
        *,
        max_age: float = 1.0,
        version: int | None = None,
    ) -> renaming.Renaming:
        """Bring both objects in line with ``services()``; return the alias conflicts per service.

        Every reconcile asks, but the work (over all MonitoredServices) is done at most once per
        ``max_age`` seconds: 1,000 reconciles in a burst cost one pass, not 1,000.  ``max_age=0``
        forces a pass (a deletion must not wait).  With ``version`` (of the set of services), a
        pass over the same version as the last successful one is skipped altogether.  A failure
        (say, the target namespace does not exist) is logged and retried later; it never fails
        the MonitoredService's own reconcile.
        """
        with self._lock:
            now = time.monotonic()
            if now - self._synced_at < max_age:
                return self._renaming
            if version is not None and version == self._synced_version:
                return self._renaming
            self._synced_at = now
            current = services()
            failed = False
            for step in (self._sync_chrony, self._sync_aliases):
                try:
                    step(current)
                except KubeError as error:
                    failed = True
                    logger.warning("cluster-wide object not applied: %s", error)
            self._synced_version = None if failed or version is None else version
            return self._renaming

    def _sync_chrony(self, services: Sequence[MonitoredService]) -> None:
        objects = generated.chrony_objects(services, self.options)
        if not objects:
            if self._chrony != "":
                for kind, name in (("DaemonSet", chrony.NAME), ("ConfigMap", chrony.NAME)):
                    obj = {"kind": kind, "metadata": {"namespace": self.options.chrony_namespace, "name": name}}
                    if self.kube.delete(_path(obj)) is not None:
                        logger.info("removed the chrony %s: no MonitoredService wants clock sync", kind)
                self._chrony = ""
                if self.clock is not None:
                    self.clock.forget()
            return
        digest = _digest(objects)
        if digest == self._chrony:
            return
        for obj in objects:
            self.kube.apply(_path(obj), obj, manager=MANAGER, force=True)
        self._chrony = digest
        wanted_by = [ms.key for ms in services if ms.spec.clock.sync == "chrony"]
        logger.info("applied the chrony DaemonSet for %s", ", ".join(sorted(wanted_by)))

    def _sync_aliases(self, services: Sequence[MonitoredService]) -> None:
        found = renaming.renaming(services)
        self._renaming = found
        if not found.rules and self._aliases is None and not any(ms.spec.aliases for ms in services):
            return
        obj = generated.alias_configmap(services, self.options)
        digest = _digest([obj])
        if digest == self._aliases:
            return
        self.kube.apply(_path(obj), obj, manager=MANAGER, force=True)
        self._aliases = digest
