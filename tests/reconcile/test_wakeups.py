"""The status follows the pods at once: a pod event wakes its MonitoredService's re-assessment.

The operator here re-assesses periodically only once an hour, so every change
of status seen within seconds was caused by a pod event, not by the interval.
"""

from __future__ import annotations

from pathlib import Path

from plane import Plane

from reconcile.harness import (
    Collector,
    apply_services_first,
    condition,
    deployment,
    monitored_service,
    msvc,
    running_operator,
    wait_for,
)

HOUR = 3600.0


def _workloads(plane: Plane, ns: str, name: str) -> dict[str, int]:
    return dict((msvc(plane, ns, name).get("status") or {}).get("workloads") or {})


def test_pod_changes_update_the_status_without_waiting_for_the_interval(
    crd: Plane, collector: Collector, tmp_path: Path
) -> None:
    with running_operator(crd, tmp_path, interval=HOUR):
        ns = crd.create_namespace("wakeups")
        apply_services_first(crd, [monitored_service("tracked", ns, collector.endpoint)])
        # Reconciled on create with no pod yet: nothing to report as Ready.
        assert condition(msvc(crd, ns, "tracked"), "Ready")["status"] == "False"

        crd.apply([deployment("tracked", ns, replicas=1)])
        crd.kubectl("wait", "--for=condition=Ready", "msvc/tracked", "-n", ns, "--timeout=30s")
        assert _workloads(crd, ns, "tracked")["instrumented"] == 1
        # The status written on a pod's wake-up is otelwire's in managedFields, not the generated client's.
        written = crd.kubectl_json("get", "msvc", "tracked", "-n", ns, "--show-managed-fields")["metadata"]
        status_managers = {m["manager"] for m in written["managedFields"] if m.get("subresource") == "status"}
        assert status_managers <= {"otelwire", "kopf"} and "otelwire" in status_managers, written["managedFields"]

        crd.kubectl("scale", "deployment/tracked", "-n", ns, "--replicas=3")
        wait_for(
            "3 instrumented pods in the status",
            lambda: _workloads(crd, ns, "tracked").get("instrumented") == 3,
            30,
            explain=lambda: _workloads(crd, ns, "tracked"),
        )

        crd.kubectl("scale", "deployment/tracked", "-n", ns, "--replicas=0")
        wait_for(
            "no pods in the status",
            lambda: _workloads(crd, ns, "tracked").get("instrumented") == 0,
            30,
            explain=lambda: _workloads(crd, ns, "tracked"),
        )
        assert condition(msvc(crd, ns, "tracked"), "Ready")["status"] == "False"
