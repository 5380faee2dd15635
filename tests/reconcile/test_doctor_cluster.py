"""``otelwire doctor`` against a live cluster: what only the cluster shows.

No operator runs in this module, so pods are created without otelwire's env:
doctor must name them, and the collector port nobody listens on.
"""

from __future__ import annotations

import json
import subprocess
import sys

from plane import Plane

from reconcile.harness import deployment, free_port, monitored_service, pods


def test_doctor_reads_the_cluster_and_names_uninstrumented_pods(crd: Plane) -> None:
    ns = crd.create_namespace("doctor-live")
    dead = f"http://127.0.0.1:{free_port()}"
    crd.apply([monitored_service("catalog", ns, dead), deployment("catalog", ns, replicas=1)])
    crd.kubectl("rollout", "status", "deployment/catalog", "-n", ns, "--timeout=90s")
    (pod,) = pods(crd, ns, "app=catalog")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "otelwire.cli.main",
            "doctor",
            "--kubeconfig",
            str(crd.kubeconfig),
            "-n",
            ns,
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    findings = json.loads(result.stdout)["findings"]
    checks = {f["check"]: f for f in findings}
    assert pod["metadata"]["name"] in checks["pods-not-instrumented"]["message"]
    assert "TCP connect" in checks["collector-unreachable"]["message"]
    assert checks["collector-unreachable"]["resource"] == f"MonitoredService {ns}/catalog"


def test_doctor_without_a_cluster_says_so() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otelwire.cli.main", "doctor", "--kubeconfig", "/nonexistent/kubeconfig"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: cannot read the cluster")
    assert "Traceback" not in result.stderr
