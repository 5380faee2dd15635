"""Cluster-wide objects on the real plane: the chrony DaemonSet on kwok nodes, the alias rules.

The chrony DaemonSet goes to otelwire-chrony, installed as ``manifests/chrony``
makes it: the real DaemonSet controller's pods pass the API server's Pod
Security admission there, kwok's fake nodes run them and mark them Ready,
which is what ``ClockSynced`` reads; the DaemonSet must go when the last
MonitoredService that wanted it goes.  (That chronyd itself is Ready only in
sync is tests/partners/test_chrony.py; refusal by Pod Security elsewhere is
test_clock_admission.py.)
"""

from __future__ import annotations

import yaml
from otelwire.options import CHRONY_NAMESPACE
from plane import Plane

from reconcile.harness import (
    Collector,
    Operator,
    apply_services_first,
    condition,
    deployment,
    install_chrony_namespace,
    monitored_service,
    msvc,
    wait_for,
)

SYSTEM = "otelwire-system"


def _daemonset(plane: Plane) -> dict | None:
    result = plane.kubectl("get", "daemonset", "otelwire-chrony", "-n", CHRONY_NAMESPACE, "-o", "json", check=False)
    return yaml.safe_load(result.stdout) if result.returncode == 0 else None


def test_chrony_runs_on_every_node_while_wanted_and_goes_away_after(
    crd: Plane, operator: Operator, collector: Collector
) -> None:
    install_chrony_namespace(crd)
    ns = crd.create_namespace("clock-sync")
    wants = monitored_service("clocked", ns, collector.endpoint, clock={"sync": "chrony", "maxSkew": "50ms"})
    apply_services_first(crd, [wants, deployment("clocked", ns, replicas=1)])
    daemonset = wait_for("the chrony DaemonSet", lambda: _daemonset(crd), 60)
    (container,) = daemonset["spec"]["template"]["spec"]["containers"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["SYS_TIME"]}
    assert not container["securityContext"].get("privileged")

    def synced() -> dict:
        cond = condition(msvc(crd, ns, "clocked"), "ClockSynced")
        return cond if cond.get("status") == "True" else {}

    cond = wait_for(
        "ClockSynced=True on kwok's nodes",
        synced,
        120,
        explain=lambda: (
            condition(msvc(crd, ns, "clocked"), "ClockSynced"),
            crd.kubectl("get", "pods,events", "-n", CHRONY_NAMESPACE, "-o", "wide", check=False).stdout,
            operator.tail(15),
        ),
    )
    assert "50ms" in cond["message"]
    assert f"{len(crd.nodes)} node(s)" in cond["message"]
    crd.kubectl("wait", "--for=condition=Ready", "msvc/clocked", "-n", ns, "--timeout=60s")

    crd.kubectl("delete", "msvc", "clocked", "-n", ns, "--timeout=60s")
    wait_for("the chrony DaemonSet to be removed", lambda: _daemonset(crd) is None, 60)
    gone = crd.kubectl("get", "configmap", "otelwire-chrony", "-n", CHRONY_NAMESPACE, check=False)
    assert gone.returncode != 0, "the chrony ConfigMap outlived its DaemonSet"


def test_an_alias_claimed_twice_is_reported_on_both_and_left_out(
    crd: Plane, operator: Operator, collector: Collector
) -> None:
    crd.create_namespace(SYSTEM)
    ns = crd.create_namespace("aliases")
    crd.apply(
        [
            monitored_service("payments", ns, collector.endpoint, aliases=["legacy", "PaymentService"]),
            monitored_service("refunds", ns, collector.endpoint, aliases=["legacy"]),
        ]
    )
    for name in ("payments", "refunds"):

        def reported(name: str = name) -> bool:
            cond = condition(msvc(crd, ns, name), "ServiceNameConsistent")
            return cond.get("status") == "False" and "'legacy'" in cond.get("message", "")

        wait_for(f"the alias conflict on {name}", reported, 60)

    def rules() -> str:
        result = crd.kubectl("get", "configmap", "otelwire-collector-rules", "-n", SYSTEM, "-o", "json", check=False)
        if result.returncode != 0:
            return ""
        text: str = yaml.safe_load(result.stdout)["data"]["otelwire-aliases.yaml"]
        return text if "PaymentService" in text else ""

    snippet = wait_for("the collector rules ConfigMap", rules, 60)
    assert '"payments") where resource.attributes["service.name"] == "PaymentService"' in snippet
    assert '"legacy"' not in snippet
