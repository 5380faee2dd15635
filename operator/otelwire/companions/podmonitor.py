"""A PodMonitor whose job label is the service name, for clusters running the Prometheus Operator.

Selecting on ``otelwire.io/service=<serviceName>`` -- the label the plan puts on
every instrumented pod -- scrapes exactly the pods otelwire instrumented, and
``jobLabel`` makes that label's value the Prometheus ``job``, so traces,
metrics and Istio agree on one name.
"""

from __future__ import annotations

from typing import Any

from otelwire.plan.parts import SERVICE_LABEL
from otelwire.spec.model import MonitoredService

API_VERSION = "monitoring.coreos.com/v1"


def name_of(ms: MonitoredService) -> str:
    return f"otelwire-{ms.name}"


def pod_monitor(ms: MonitoredService) -> dict[str, Any] | None:
    """The PodMonitor for ``ms``, or None when its metrics are not scraped."""
    metrics = ms.spec.metrics
    if metrics.exporter != "prometheus":
        return None
    return {
        "apiVersion": API_VERSION,
        "kind": "PodMonitor",
        "metadata": {
            "name": name_of(ms),
            "namespace": ms.namespace,
            "labels": {"app.kubernetes.io/managed-by": "otelwire", SERVICE_LABEL: ms.service_name},
        },
        "spec": {
            "jobLabel": SERVICE_LABEL,
            "selector": {"matchLabels": {SERVICE_LABEL: ms.service_name}},
            "podMetricsEndpoints": [
                {
                    "portNumber": metrics.prometheus.port,
                    "path": metrics.prometheus.path,
                    "relabelings": [{"targetLabel": "job", "replacement": ms.service_name, "action": "replace"}],
                }
            ],
        },
    }
