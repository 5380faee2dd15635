"""Answer one pod AdmissionReview: which MonitoredService, which plan, which patch.

The hot path of the product.  Per request it does a dictionary lookup of the
pod's namespace in the MonitoredService index, a selector match over the few
services of that namespace, a plan lookup in a bounded cache keyed by
(MonitoredService uid and generation, the pod's template shape), and the
JSON-patch comparison of that plan with the pod.  Anything unexpected --
missing fields, garbage, an exception -- yields an *allowed* response with no
patch: the webhook must never be the reason a pod cannot start.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from otelwire import metrics
from otelwire.plan import changing, selecting
from otelwire.plan.planning import plan_for
from otelwire.plan.plans import Plan, Workload
from otelwire.plan.workloads import owner_of_pod
from otelwire.spec.model import MonitoredService

logger = logging.getLogger(__name__)

ServiceLookup = Callable[[str], Iterable[MonitoredService]]
Shape = tuple[Any, ...]


def template_shape(pod: Mapping[str, Any], owner: Workload | None) -> Shape:
    """What, besides the MonitoredService, a plan depends on (see ``plan.planning``)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    return (
        tuple(str(c.get("name")) for c in spec.get("containers") or [] if isinstance(c, Mapping)),
        tuple(str(c.get("name")) for c in spec.get("initContainers") or [] if isinstance(c, Mapping)),
        labels.get("app.kubernetes.io/version"),
        labels.get("sidecar.istio.io/inject"),
        "sidecar.istio.io/status" in annotations,
        owner,
    )


class PlanCache:
    """A bounded LRU of plans keyed by (service identity, generation, template shape)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._plans: OrderedDict[tuple[Any, ...], Plan] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def plan(self, ms: MonitoredService, pod: Mapping[str, Any], owner: Workload | None, namespace: str) -> Plan:
        key = (ms.uid or ms.key, ms.generation, namespace, template_shape(pod, owner))
        found = self._plans.get(key)
        if found is not None:
            self._plans.move_to_end(key)
            self.hits += 1
            return found
        self.misses += 1
        plan = plan_for(ms, pod, owner, namespace)
        self._plans[key] = plan
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)
        return plan


def _allowed(
    uid: str, api_version: str, patch: list[dict[str, Any]] | None = None, warnings: list[str] | None = None
) -> dict[str, Any]:
    response: dict[str, Any] = {"uid": uid, "allowed": True}
    if patch:
        response["patchType"] = "JSONPatch"
        response["patch"] = base64.b64encode(json.dumps(patch, separators=(",", ":")).encode()).decode()
    if warnings:
        response["warnings"] = warnings[:10]
    return {"apiVersion": api_version, "kind": "AdmissionReview", "response": response}


class Reviewer:
    """Turns AdmissionReview requests for pods into responses."""

    def __init__(self, lookup: ServiceLookup, excluded_namespaces: Iterable[str] = (), cache: PlanCache | None = None):
        self.lookup = lookup
        self.excluded = frozenset(excluded_namespaces)
        self.cache = cache or PlanCache()

    def review(self, review: Any) -> dict[str, Any]:
        started = time.perf_counter()
        result = "error"
        api_version = "admission.k8s.io/v1"
        uid = ""
        try:
            if isinstance(review, Mapping):
                api_version = str(review.get("apiVersion") or api_version)
                request = review.get("request")
                if isinstance(request, Mapping):
                    uid = str(request.get("uid") or "")
                    result, response = self._review(request, uid, api_version)
                    return response
            result = "skipped"
            return _allowed(uid, api_version)
        except Exception:
            logger.exception("admission review failed; allowing the pod unchanged")
            return _allowed(uid, api_version)
        finally:
            metrics.ADMISSIONS.labels(result).inc()
            metrics.ADMISSION_SECONDS.observe(time.perf_counter() - started)

    def _review(self, request: Mapping[str, Any], uid: str, api_version: str) -> tuple[str, dict[str, Any]]:
        pod = request.get("object")
        kind = request.get("kind") or {}
        if (
            not isinstance(pod, Mapping)
            or request.get("operation") not in (None, "CREATE")
            or (isinstance(kind, Mapping) and kind.get("kind") not in (None, "Pod"))
        ):
            return "skipped", _allowed(uid, api_version)
        meta = pod.get("metadata") or {}
        if not isinstance(meta, Mapping) or not isinstance(pod.get("spec"), Mapping):
            return "skipped", _allowed(uid, api_version)
        namespace = str(request.get("namespace") or meta.get("namespace") or "")
        if not namespace or namespace in self.excluded:
            return "skipped", _allowed(uid, api_version)
        labels = meta.get("labels") or {}
        if not isinstance(labels, Mapping):
            return "skipped", _allowed(uid, api_version)
        services = [ms for ms in self.lookup(namespace) if ms.spec.injection.mode == "webhook"]
        if not services:
            return "unmatched", _allowed(uid, api_version)
        chosen = selecting.select_services(services, namespace, labels)
        if not chosen:
            return "unmatched", _allowed(uid, api_version)
        ms = chosen[0]
        owner = owner_of_pod(pod)
        plan = self.cache.plan(ms, pod, owner, namespace)
        ops, delta = changing.json_patch(pod, plan)
        warnings = [f"otelwire: {c}" for c in delta.conflicts if not c.overridden]
        if not ops:
            return "unchanged", _allowed(uid, api_version, warnings=warnings)
        return "injected", _allowed(uid, api_version, ops, warnings)
