"""Least privilege, proven: the operator works under exactly manifests/rbac, and nothing more is allowed.

The operator runs with a token of the ``otelwire`` ServiceAccount that
``kubectl apply -k manifests/rbac`` creates, and does everything it does for a
user: patch mode on a Deployment, status, the chrony DaemonSet in the chrony
namespace (``manifests/chrony``: its Role there), the collector rules ConfigMap
in its own namespace, Events.  Then ``kubectl auth can-i --as`` shows the
denials hold.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from otelwire.options import CHRONY_NAMESPACE
from plane import Plane

from reconcile.harness import (
    ROOT,
    Collector,
    Operator,
    apply_services_first,
    condition,
    deployment,
    env_of,
    install_chrony_namespace,
    monitored_service,
    msvc,
    wait_for,
)

SYSTEM = "otelwire-system"
ACCOUNT = f"system:serviceaccount:{SYSTEM}:otelwire"
CHRONY = CHRONY_NAMESPACE


def _can(plane: Plane, *args: str) -> bool:
    result = plane.kubectl("auth", "can-i", f"--as={ACCOUNT}", *args, check=False)
    return result.stdout.strip() == "yes"


def test_the_operator_works_under_its_own_rbac(crd: Plane, collector: Collector, tmp_path: Path) -> None:
    crd.create_namespace(SYSTEM)
    crd.kubectl("apply", "-k", str(ROOT / "manifests" / "rbac"))
    install_chrony_namespace(crd)
    kubeconfig = crd.serviceaccount_kubeconfig(SYSTEM, "otelwire", path=tmp_path / "sa.kubeconfig")
    ns = crd.create_namespace("rbac-app")
    operator = Operator(crd, tmp_path, kubeconfig=kubeconfig, webhook=False).start()
    try:
        ms = monitored_service(
            "shipping",
            ns,
            collector.endpoint,
            injection={"mode": "patch"},
            clock={"sync": "chrony"},
            aliases=["ShippingService"],
        )
        apply_services_first(crd, [ms, deployment("shipping", ns, replicas=1)])
        wait_for(
            "patch mode under the operator's RBAC",
            lambda: (
                "OTEL_SERVICE_NAME"
                in env_of(
                    crd.kubectl_json("get", "deployment", "shipping", "-n", ns)["spec"]["template"]["spec"][
                        "containers"
                    ][0]
                )
            ),
            90,
            explain=operator.tail,
        )
        wait_for(
            "the MonitoredService to turn Ready under the operator's RBAC",
            lambda: condition(msvc(crd, ns, "shipping"), "Ready").get("status") == "True",
            120,
            explain=lambda: (msvc(crd, ns, "shipping").get("status"), operator.tail()),
        )
        crd.kubectl("get", "daemonset,configmap", "otelwire-chrony", "-n", CHRONY)
        crd.kubectl("get", "configmap", "otelwire-collector-rules", "-n", SYSTEM)
        assert msvc(crd, ns, "shipping")["status"]["workloads"]["instrumented"] == 1
        crd.kubectl("delete", "msvc", "shipping", "-n", ns, "--timeout=60s")
        wait_for(
            "the chrony DaemonSet to be removed under RBAC",
            lambda: crd.kubectl("get", "daemonset", "otelwire-chrony", "-n", CHRONY, check=False).returncode != 0,
            60,
            explain=operator.tail,
        )
        log = operator.log_path.read_text(errors="replace")
        denied = [line for line in log.splitlines() if re.search(r"HTTP 403\b|\b403 Forbidden|Forbidden", line)]
        assert not denied, denied[:5]
    finally:
        operator.stop()


@pytest.mark.parametrize(
    "request_",
    [
        ("get", "secrets", "-A"),
        ("list", "secrets", "-n", SYSTEM),
        ("create", "pods/exec", "-n", "default"),
        ("patch", "pods", "-A"),
        ("delete", "pods", "-A"),
        ("delete", "deployments", "-A"),
        ("create", "deployments", "-A"),
        ("create", "daemonsets", "-n", "default"),
        # The chrony DaemonSet lives in the chrony namespace only; nothing of it in the operator's.
        ("create", "daemonsets", "-n", SYSTEM),
        ("list", "events", "-n", SYSTEM),
        ("create", "pods", "-n", CHRONY),
        ("create", "deployments", "-n", CHRONY),
        ("create", "mutatingwebhookconfigurations"),
        ("create", "clusterrolebindings"),
        ("delete", "namespaces"),
        ("*", "*"),
        ("delete", "monitoredservices.otelwire.io", "-A"),
    ],
    ids=lambda r: " ".join(r),
)
def test_what_the_operator_must_not_do_is_denied(crd: Plane, request_: tuple[str, ...]) -> None:
    crd.create_namespace(SYSTEM)
    crd.kubectl("apply", "-k", str(ROOT / "manifests" / "rbac"))
    crd.kubectl("apply", "-k", str(ROOT / "manifests" / "chrony"))
    assert not _can(crd, *request_)


@pytest.mark.parametrize(
    "request_",
    [
        ("watch", "pods", "-A"),
        ("patch", "deployments", "-A"),
        ("patch", "monitoredservices.otelwire.io", "--subresource=status", "-A"),
        ("create", "daemonsets", "-n", CHRONY),
        ("delete", "daemonsets", "-n", CHRONY),
        ("create", "configmaps", "-n", CHRONY),
        ("list", "events", "-n", CHRONY),
    ],
    ids=lambda r: " ".join(r),
)
def test_what_the_operator_uses_is_allowed(crd: Plane, request_: tuple[str, ...]) -> None:
    crd.create_namespace(SYSTEM)
    crd.kubectl("apply", "-k", str(ROOT / "manifests" / "rbac"))
    crd.kubectl("apply", "-k", str(ROOT / "manifests" / "chrony"))
    assert _can(crd, *request_)
