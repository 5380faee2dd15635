"""The operator's own endpoints: Prometheus metrics and kopf's liveness probe."""

from __future__ import annotations

import json
import urllib.request

from plane import Plane

from reconcile.harness import Collector, Operator, apply_services_first, deployment, monitored_service


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body.decode()


def test_metrics_and_liveness_are_served(crd: Plane, operator: Operator, collector: Collector) -> None:
    ns = crd.create_namespace("operator-metrics")
    apply_services_first(
        crd, [monitored_service("pricing", ns, collector.endpoint), deployment("pricing", ns, replicas=1)]
    )
    crd.kubectl("wait", "--for=condition=Ready", "msvc/pricing", "-n", ns, "--timeout=90s")
    text = _get(f"http://127.0.0.1:{operator.metrics_port}/metrics")
    for name in (
        "otelwire_reconciliations_total",
        "otelwire_reconcile_duration_seconds_bucket",
        "otelwire_admissions_total",
        "otelwire_admission_duration_seconds_bucket",
        "otelwire_monitoredservices",
        "otelwire_pods",
    ):
        assert name in text, f"{name} missing from /metrics"
    assert operator.metric("otelwire_admissions_total", 'result="injected"') >= 1
    assert 'otelwire_pods{namespace="operator-metrics",service="pricing",state="instrumented"} 1.0' in text
    assert operator.metric("otelwire_monitoredservices", 'ready="true"') >= 1
    assert operator.metric("otelwire_reconciliations_total", 'result="ready"') >= 1
    # kopf's liveness endpoint: 200 with the probe results as a JSON object.
    with urllib.request.urlopen(f"http://127.0.0.1:{operator.health_port}/healthz", timeout=5) as response:
        assert response.status == 200
        assert isinstance(json.loads(response.read()), dict)
