"""Each MonitoredService's own objects: its PodMonitor and its dashboard ConfigMap.

Each is server-side-applied with an ownerReference to its MonitoredService
(same namespace, so the garbage collector removes it with the resource), only
when its content changed since the last apply, and deleted when the spec stops
asking for it.  The PodMonitor only where the Prometheus Operator's API exists
(``observe.discovery``).  What they hold is ``otelwire.generated``'s.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from otelwire import generated
from otelwire.companions import podmonitor
from otelwire.kube.client import MANAGER, Kube, KubeError
from otelwire.observe.discovery import PodMonitors
from otelwire.spec.model import API_GROUP, API_VERSION, KIND, MonitoredService


def _owned(obj: Mapping[str, Any], ms: MonitoredService) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(json.dumps(obj))
    out["metadata"]["ownerReferences"] = [
        {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": KIND,
            "name": ms.name,
            "uid": ms.uid,
            "controller": True,
            "blockOwnerDeletion": False,
        }
    ]
    return out


def _podmonitor_path(namespace: str, name: str) -> str:
    return f"/apis/{podmonitor.API_VERSION}/namespaces/{namespace}/podmonitors/{name}"


def _configmap_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/configmaps/{name}"


def _ours(obj: Mapping[str, Any]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return bool(labels.get("app.kubernetes.io/managed-by") == MANAGER)


class ServiceObjects:
    """Each MonitoredService's PodMonitor and dashboard ConfigMap, owned by it."""

    def __init__(
        self,
        kube: Kube,
        podmonitors: PodMonitors,
        dashboard: Callable[[MonitoredService], dict[str, Any] | None] = generated.dashboard_configmap,
    ) -> None:
        self.kube = kube
        self.podmonitors = podmonitors
        self.dashboard = dashboard
        self._applied: dict[str, str] = {}  # object path -> digest of what was applied
        self._lock = threading.Lock()

    def sync(self, ms: MonitoredService, created: bool = False) -> None:
        """Apply or remove ``ms``'s companions.  ``created``: ``ms`` was just created, so nothing of
        it can exist yet (a namesake's leftovers carry the namesake's uid and go with it) and an
        unwanted companion needs no lookup -- 1,000 services applied at once cost no 404s."""
        if not ms.uid:
            return
        if self.podmonitors.available():
            wanted = podmonitor.pod_monitor(ms)
            path = _podmonitor_path(ms.namespace, podmonitor.name_of(ms))
            self._ensure(path, wanted and _owned(wanted, ms), created)
        wanted_cm = self.dashboard(ms)
        name = f"otelwire-dashboard-{ms.service_name}"
        self._ensure(_configmap_path(ms.namespace, name), wanted_cm and _owned(wanted_cm, ms), created)

    def _ensure(self, path: str, wanted: dict[str, Any] | None, created: bool = False) -> None:
        digest = hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest() if wanted else ""
        with self._lock:
            if self._applied.get(path) == digest:
                return
        if wanted is None:
            if not created:
                self._remove_ours(path)
        else:
            self.kube.apply(path, wanted, manager=MANAGER, force=True)
        with self._lock:
            self._applied[path] = digest

    def _remove_ours(self, path: str) -> None:
        """Delete the object if it exists and otelwire made it (also after a restart)."""
        try:
            current = self.kube.get(path)
        except KubeError as error:
            if error.status == 404:
                return
            raise
        if _ours(current):
            self.kube.delete(path)
