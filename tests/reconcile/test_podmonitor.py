"""Prometheus job = service name: a PodMonitor per MonitoredService where the Prometheus Operator runs.

The Prometheus Operator is not installed here, so its PodMonitor CRD is
stood in by a schema-less CRD of the same group/version/kind -- enough for the
API server to store what otelwire applies and for the garbage collector to
follow the ownerReference.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from plane import Plane

from reconcile.harness import Collector, Operator, monitored_service, msvc, wait_for

STAND_IN_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "podmonitors.monitoring.coreos.com"},
    "spec": {
        "group": "monitoring.coreos.com",
        "scope": "Namespaced",
        "names": {
            "kind": "PodMonitor",
            "plural": "podmonitors",
            "singular": "podmonitor",
            "listKind": "PodMonitorList",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
            }
        ],
    },
}


@pytest.fixture(scope="module")
def operator(crd: Plane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    crd.apply(STAND_IN_CRD)
    crd.kubectl("wait", "--for=condition=Established", "crd/podmonitors.monitoring.coreos.com", "--timeout=60s")
    running = Operator(crd, Path(tmp_path_factory.mktemp("operator"))).start()
    yield running
    running.stop()


def _podmonitor(plane: Plane, ns: str, name: str) -> dict | None:
    result = plane.kubectl("get", "podmonitor", name, "-n", ns, "-o", "json", check=False)
    return plane.kubectl_json("get", "podmonitor", name, "-n", ns) if result.returncode == 0 else None


def test_the_podmonitor_names_the_job_after_the_service_and_follows_the_spec(
    crd: Plane, operator: Operator, collector: Collector
) -> None:
    ns = crd.create_namespace("podmonitor")
    ms = monitored_service("reviews", ns, collector.endpoint, metrics={"exporter": "prometheus"})
    crd.apply(ms)
    found = wait_for("the PodMonitor", lambda: _podmonitor(crd, ns, "otelwire-reviews"), 60, explain=operator.tail)
    assert found["spec"]["jobLabel"] == "otelwire.io/service"
    assert found["spec"]["selector"] == {"matchLabels": {"otelwire.io/service": "reviews"}}
    assert found["spec"]["podMetricsEndpoints"][0]["portNumber"] == 9464
    (owner,) = found["metadata"]["ownerReferences"]
    assert owner["kind"] == "MonitoredService" and owner["uid"] == msvc(crd, ns, "reviews")["metadata"]["uid"]
    crd.kubectl("patch", "msvc", "reviews", "-n", ns, "--type=merge", "-p", '{"spec":{"metrics":{"exporter":"otlp"}}}')
    wait_for(
        "the PodMonitor to go with the Prometheus path", lambda: _podmonitor(crd, ns, "otelwire-reviews") is None, 60
    )
