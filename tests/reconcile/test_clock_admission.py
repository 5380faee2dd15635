"""``ClockSynced`` says why chrony pods do not exist, from the real DaemonSet controller's Events.

A chrony namespace at the operator's own level (restricted, as manifests/system
labels otelwire-system) is what issue 22 met on a real cluster: the DaemonSet is
applied, Pod Security refuses every pod it tries to create, and nothing runs.
Here the real kube-apiserver refuses them and the real DaemonSet controller
reports ``FailedCreate``; the condition must carry that refusal and the fix.

A module of its own: its operator runs with ``--chrony-namespace`` pointing at
that namespace, and must not share the plane with test_clusterwide.py's.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from plane import Plane

from reconcile.harness import (
    ROOT,
    Collector,
    condition,
    monitored_service,
    msvc,
    running_operator,
    wait_for,
)


def test_pods_refused_by_pod_security_are_named_with_the_refusal_and_the_fix(
    crd: Plane, collector: Collector, tmp_path: Path
) -> None:
    system = yaml.safe_load((ROOT / "manifests" / "system" / "namespace.yaml").read_text())["metadata"]
    assert system["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    refusing = crd.create_namespace("chrony-restricted", labels=system["labels"])
    ns = crd.create_namespace("clock-refused")
    extra = ("--chrony-namespace", refusing)
    with running_operator(crd, tmp_path, extra=extra, webhook=False) as operator:
        crd.apply(monitored_service("clocked", ns, collector.endpoint, clock={"sync": "chrony"}))

        def refused() -> dict:
            cond = condition(msvc(crd, ns, "clocked"), "ClockSynced")
            return cond if cond.get("reason") == "PodsNotCreated" else {}

        cond = wait_for(
            "ClockSynced to say why no chrony pod exists",
            refused,
            120,
            explain=lambda: (
                condition(msvc(crd, ns, "clocked"), "ClockSynced"),
                crd.kubectl("get", "daemonset,pods,events", "-n", refusing, check=False).stdout,
                operator.tail(15),
            ),
        )
        nodes = len(crd.nodes)
        message = cond["message"]
        assert cond["status"] == "False"
        assert (
            f'could not create {nodes} of {nodes} pod(s): FailedCreate: Error creating: pods "otelwire-chrony-*" '
            "is forbidden:" in message
        ), message
        assert 'violates PodSecurity "restricted:latest"' in message and '"SYS_TIME"' in message, message
        assert f"label namespace {refusing} pod-security.kubernetes.io/enforce=privileged" in message, message
        assert "<unscheduled" not in message
        crd.kubectl("delete", "msvc", "clocked", "-n", ns, "--timeout=60s")
