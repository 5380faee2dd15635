"""In-memory kopf indexes: MonitoredServices and pod skeletons, by namespace.

The webhook looks a pod's namespace up in ``msvc_index`` (O(1), no API call
per admission); assessment reads ``pod_index`` instead of listing pods.  Only
valid MonitoredServices are indexed -- an invalid one selects nothing, and
its status says why -- and pods are kept as skeletons (``assess.facts``), not
as full objects.
"""

from __future__ import annotations

from typing import Any

import kopf

from otelwire.assess.facts import pod_skeleton
from otelwire.spec.model import API_GROUP, API_VERSION, PLURAL, MonitoredService, parse_monitored_service
from otelwire.spec.problems import InvalidSpec


@kopf.index(API_GROUP, API_VERSION, PLURAL)
def msvc_index(body: kopf.Body, namespace: str | None, **_: Any) -> dict[str, MonitoredService] | None:
    if body.metadata.get("deletionTimestamp"):
        # Going away: it selects nothing any more and wants no cluster-wide objects.
        return None
    try:
        ms = parse_monitored_service(body, namespace or "default")
    except InvalidSpec:
        return None
    return {ms.namespace: ms}


@kopf.index("v1", "pods")
def pod_index(body: kopf.Body, namespace: str | None, **_: Any) -> dict[str, dict[str, Any]]:
    return {namespace or "": pod_skeleton(body)}
