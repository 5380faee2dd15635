"""The operator's own Prometheus metrics (served on ``:8080/metrics`` by ``otelwire run``).

One registry for the whole process so the webhook server and the kopf
handlers count into the same series; the Grafana dashboard for the operator
is built from exactly these names.
"""

from __future__ import annotations

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
