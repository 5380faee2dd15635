"""A MonitoredService's status, written with a merge patch to its status subresource.

What re-assessments, resumes and label changes write (a new generation's status
rides on kopf's own patch instead, ``reconcile.reconciling``): the client's retries
cover conflicts and throttling; kopf keeps its own state in ``status.kopf``, which
this patch leaves alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otelwire.kube.client import Kube
from otelwire.spec.model import API_GROUP, API_VERSION, PLURAL


def path_of(body: Mapping[str, Any]) -> str:
    meta = body.get("metadata") or {}
    namespace, name = meta.get("namespace") or "default", meta.get("name")
    return f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/{PLURAL}/{name}/status"


def write(kube: Kube, body: Mapping[str, Any], status: Mapping[str, Any]) -> None:
    """Merge ``status`` into the object's status (``KubeError`` when it cannot be written)."""
    kube.merge_patch(path_of(body), {"status": dict(status)})
