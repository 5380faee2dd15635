"""The operator's own Prometheus metrics (served on ``:8080/metrics`` by ``otelwire run``).

One registry for the whole process so the webhook server and the kopf
handlers count into the same series; the Grafana dashboard for the operator
is built from exactly these names.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

RECONCILIATIONS = Counter(
    "otelwire_reconciliations_total",
    "MonitoredService reconciliations by result (ready, not_ready, invalid, error).",
    ["result"],
    registry=REGISTRY,
)
RECONCILE_SECONDS = Histogram(
    "otelwire_reconcile_duration_seconds",
    "Time to reconcile one MonitoredService (plan, apply, assess, status).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
REASSESSMENTS = Counter(
    "otelwire_reassessments_total",
    "Re-assessments of MonitoredServices (woken by pods or by the interval) by result (done, deferred, failed).",
    ["result"],
    registry=REGISTRY,
)
ADMISSIONS = Counter(
    "otelwire_admissions_total",
    "Pod admission reviews by result (injected, unchanged, unmatched, skipped, error).",
    ["result"],
    registry=REGISTRY,
)
ADMISSION_SECONDS = Histogram(
    "otelwire_admission_duration_seconds",
    "Time to answer one pod admission review, excluding TLS and HTTP parsing.",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
    registry=REGISTRY,
)
SERVICES = Gauge(
    "otelwire_monitoredservices",
    "MonitoredServices by Ready condition status.",
    ["ready"],
    registry=REGISTRY,
)
PODS = Gauge(
    "otelwire_pods",
    "Selected pods by injection state (instrumented, outdated, missing), per namespace and service.",
    ["namespace", "service", "state"],
    registry=REGISTRY,
)

POD_STATES = ("instrumented", "outdated", "missing")
_pod_series: dict[str, tuple[str, str]] = {}  # MonitoredService key -> the (namespace, service) of its series
_series_users: collections.Counter[tuple[str, str]] = (
    collections.Counter()
)  # (namespace, service) -> how many report under it
_pod_series_lock = threading.Lock()


def set_pods(key: str, namespace: str, service: str, counts: Mapping[str, int]) -> None:
    """``otelwire_pods`` of MonitoredService ``key``; a renamed service's old series go."""
    with _pod_series_lock:
        previous = _pod_series.get(key)
        stale = None
        if previous != (namespace, service):
            _pod_series[key] = (namespace, service)
            _series_users[(namespace, service)] += 1
            stale = _release(previous)
    for state in POD_STATES:
        PODS.labels(namespace, service, state).set(counts.get(state, 0))
    if stale is not None:
        _remove_pods(stale)


def forget_pods(key: str) -> None:
    """A deleted MonitoredService's ``otelwire_pods`` series go (unless another one reports under its name)."""
    with _pod_series_lock:
        stale = _release(_pod_series.pop(key, None))
    if stale is not None:
        _remove_pods(stale)


def _release(series: tuple[str, str] | None) -> tuple[str, str] | None:
    """One service less reports under ``series``; the series if no one is left (under the lock)."""
    if series is None:
        return None
    _series_users[series] -= 1
    if _series_users[series] > 0:
        return None
    del _series_users[series]
    return series


def _remove_pods(series: tuple[str, str]) -> None:
    for state in POD_STATES:
        with contextlib.suppress(KeyError):
            PODS.remove(*series, state)
