"""The operator being down never blocks pods, and the pods it missed are reported by name.

The operator is killed with SIGKILL, so its webhook configuration stays behind
and points at a dead URL: the API server's call fails and, with
``failurePolicy: Ignore``, the pod is created without otelwire's env.  When the
operator is back, status names those pods as missing.
"""

from __future__ import annotations

import signal
from pathlib import Path

from plane import Plane

from reconcile.harness import Collector, Operator, condition, deployment, monitored_service, msvc, pods, wait_for


def test_pods_are_created_while_the_operator_is_down_and_reported_missing(
    crd: Plane, collector: Collector, tmp_path: Path
) -> None:
    ns = crd.create_namespace("operator-down")
    first = Operator(crd, tmp_path).start()
    try:
        crd.apply(monitored_service("ledger", ns, collector.endpoint))
        wait_for("the first reconcile", lambda: msvc(crd, ns, "ledger").get("status", {}).get("conditions"), 60)
    finally:
        first.stop(signal.SIGKILL)
    assert crd.kubectl("get", "mutatingwebhookconfiguration", "otelwire-local", check=False).returncode == 0

    crd.apply(deployment("ledger", ns, replicas=2))
    crd.kubectl("rollout", "status", "deployment/ledger", "-n", ns, "--timeout=120s")
    created = pods(crd, ns, "app=ledger")
    assert len(created) == 2
    for pod in created:
        assert not any(e["name"].startswith("OTEL_") for e in pod["spec"]["containers"][0].get("env") or [])

    second = Operator(crd, tmp_path).start()
    try:

        def reported() -> dict:
            cond = condition(msvc(crd, ns, "ledger"), "Injected")
            return cond if cond.get("reason") == "PodsNotInjected" else {}

        cond = wait_for("the missing pods to be reported", reported, 60)
        for pod in created:
            assert pod["metadata"]["name"] in cond["message"]
        status = msvc(crd, ns, "ledger")["status"]
        assert status["workloads"]["missing"] == 2
        assert condition(msvc(crd, ns, "ledger"), "Ready")["status"] == "False"
    finally:
        second.stop()
