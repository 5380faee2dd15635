"""Reliability when the operator dies: SIGKILL mid-reconcile, pods the webhook missed.

No module-wide operator runs here: each test starts (and kills) its own.

* SIGKILL in the middle of reconciling 200 MonitoredServices: after a
  restart all converge, patch-mode templates carry each variable once, the
  chrony DaemonSet of a MonitoredService deleted meanwhile is not orphaned.
* ``restartOutdated``: pods created while the webhook was unreachable are
  rolled out once it is back, once.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from plane import Plane

from reconcile.harness import (
    Collector,
    Operator,
    apply_services_first,
    condition,
    deployment,
    env_of,
    install_chrony_namespace,
    monitored_service,
    msvc,
    pods,
    running_operator,
    wait_for,
)


def _converged(plane: Plane, ns: str, expected: int) -> bool:
    items = plane.kubectl_json("get", "monitoredservices", "-n", ns)["items"]
    done = [
        i
        for i in items
        if not i["metadata"].get("deletionTimestamp")
        and (i.get("status") or {}).get("observedGeneration") == i["metadata"]["generation"]
        and condition(i, "Ready")
    ]
    return len(done) == expected


def test_sigkill_mid_reconcile_converges_without_duplicates_or_orphans(
    crd: Plane, collector: Collector, tmp_path: Path
) -> None:
    crd.create_namespace("otelwire-system")
    chrony_namespace = install_chrony_namespace(crd)
    ns = crd.create_namespace("crash")
    services = [monitored_service(f"svc-{i:03d}", ns, collector.endpoint) for i in range(200)]
    for i in range(5):
        services[i]["spec"]["injection"] = {"mode": "patch"}
    services[10]["spec"]["clock"] = {"sync": "chrony"}
    workloads = [deployment(f"svc-{i:03d}", ns, replicas=0) for i in range(5)]
    crd.apply(workloads)
    first = Operator(crd, tmp_path, interval=30).start()
    crd.apply(services)
    try:
        wait_for(
            "some MonitoredServices to be reconciled",
            lambda: sum(1 for i in crd.kubectl_json("get", "msvc", "-n", ns)["items"] if i.get("status")) >= 20,
            120,
        )
        # There must be a chrony DaemonSet to orphan, or the check after the restart proves nothing.
        wait_for(
            "the chrony DaemonSet",
            lambda: (
                crd.kubectl("get", "daemonset", "otelwire-chrony", "-n", chrony_namespace, check=False).returncode == 0
            ),
            60,
        )
    finally:
        first.stop(signal.SIGKILL)
    # While the operator is down, the only MonitoredService wanting chrony goes away.
    crd.kubectl("delete", "msvc", "svc-010", "-n", ns, "--wait=false")
    second = Operator(crd, tmp_path, interval=30).start()
    try:

        def progress() -> str:
            items = crd.kubectl_json("get", "msvc", "-n", ns)["items"]
            stale = [
                i for i in items if (i.get("status") or {}).get("observedGeneration") != i["metadata"]["generation"]
            ]
            log = second.log_path.read_text(errors="replace").splitlines()
            problems = [line for line in log if "rror" in line or "Traceback" in line or "failed" in line][-8:]
            return f"{len(items)} objects, {len(stale)} stale, e.g. {stale[:1]}; {problems}"

        wait_for("all 199 to converge", lambda: _converged(crd, ns, 199), 240, explain=progress)
        for i in range(5):
            template = crd.kubectl_json("get", "deployment", f"svc-{i:03d}", "-n", ns)["spec"]["template"]
            names = [e["name"] for e in template["spec"]["containers"][0].get("env") or []]
            assert "OTEL_SERVICE_NAME" in names
            assert len(names) == len(set(names)), f"duplicated env vars in svc-{i:03d}: {names}"
        wait_for(
            "no orphaned chrony DaemonSet",
            lambda: (
                crd.kubectl("get", "daemonset", "otelwire-chrony", "-n", chrony_namespace, check=False).returncode != 0
            ),
            60,
        )
        wait_for(
            "the deleted MonitoredService to be gone (finalizer released)",
            lambda: crd.kubectl("get", "msvc", "svc-010", "-n", ns, check=False).returncode != 0,
            60,
        )
    finally:
        # Delete while an operator runs, so the finalizers are released and later tests' operators
        # do not inherit 200 pending deletions.
        crd.kubectl("delete", "msvc", "--all", "-n", ns, "--timeout=180s", check=False)
        second.stop()


def test_restart_outdated_rolls_out_pods_the_webhook_missed(crd: Plane, collector: Collector, tmp_path: Path) -> None:
    # A configuration left behind by an operator killed earlier would point at a dead URL; make the
    # "webhook unreachable" state explicit instead: no configuration at all.
    crd.kubectl("delete", "mutatingwebhookconfiguration", "otelwire-local", "--ignore-not-found")
    ns = crd.create_namespace("restart-outdated")
    ms = monitored_service("catalog", ns, collector.endpoint, injection={"restartOutdated": True})
    crd.apply(ms)
    # No operator: pods are created without injection (no webhook configuration at all).
    crd.apply(deployment("catalog", ns, replicas=2))
    crd.kubectl("rollout", "status", "deployment/catalog", "-n", ns, "--timeout=90s")
    leftover = crd.kubectl("get", "mutatingwebhookconfigurations", "-o", "name", check=False).stdout
    assert not any("OTEL_SERVICE_NAME" in env_of(p["spec"]["containers"][0]) for p in pods(crd, ns, "app=catalog")), (
        leftover
    )
    started = time.monotonic()
    operator = Operator(crd, tmp_path).start()
    try:
        crd.kubectl("wait", "--for=condition=Ready", "msvc/catalog", "-n", ns, "--timeout=120s")
        for pod in pods(crd, ns, "app=catalog"):
            assert env_of(pod["spec"]["containers"][0])["OTEL_SERVICE_NAME"]["value"] == "catalog"
        rolled = crd.kubectl_json("get", "deployment", "catalog", "-n", ns, "--show-managed-fields")
        assert "kubectl.kubernetes.io/restartedAt" in (rolled["spec"]["template"]["metadata"].get("annotations") or {})
        # The restart is otelwire's in managedFields (what Argo CD's managedFieldsManagers reads).
        (entry,) = [m for m in rolled["metadata"]["managedFields"] if "restartedAt" in json.dumps(m["fieldsV1"])]
        assert entry["manager"] == "otelwire", entry
        revision = crd.kubectl_json("get", "deployment", "catalog", "-n", ns)["metadata"]["annotations"][
            "deployment.kubernetes.io/revision"
        ]
        # Three more re-assessments of the service (every 2 s here): a rate-limited restart must not
        # happen again -- counted on the operator's own metric, not guessed from a sleep.
        done = operator.reassessed()
        wait_for("three more re-assessments", lambda: operator.reassessed() >= done + 3, 60)
        again = crd.kubectl_json("get", "deployment", "catalog", "-n", ns)["metadata"]["annotations"][
            "deployment.kubernetes.io/revision"
        ]
        assert again == revision, "restarted more than once"
        print(f"missed pods rolled out and Ready in {time.monotonic() - started:.1f}s")
    finally:
        crd.kubectl("delete", "msvc", "--all", "-n", ns, "--timeout=60s", check=False)
        operator.stop()


def test_pods_created_right_after_a_restart_are_injected(crd: Plane, collector: Collector, tmp_path: Path) -> None:
    """The webhook answers a review only once kopf's index holds the MonitoredServices that exist.

    300 services exist when the operator starts; a Deployment of the last one is applied the
    moment the webhook is registered, while kopf is still listing.  Its pods must carry what
    the service says, not an "unmatched" answer from a half-filled index.
    """
    ns = crd.create_namespace("restart-window")
    crd.apply([monitored_service(f"svc-{i:03d}", ns, collector.endpoint) for i in range(300)])
    operator = Operator(crd, tmp_path, verbose=False).start()
    try:
        crd.apply([deployment("svc-299", ns, replicas=2)])
        crd.kubectl("rollout", "status", "deployment/svc-299", "-n", ns, "--timeout=90s")
        for pod in pods(crd, ns, "app=svc-299"):
            env = env_of(pod["spec"]["containers"][0])
            assert env.get("OTEL_SERVICE_NAME", {}).get("value") == "svc-299", sorted(env)
    finally:
        operator.stop()
        crd.kubectl("delete", "namespace", ns, "--wait=false")


def test_a_restart_among_running_pods_keeps_ready_as_it_was(crd: Plane, collector: Collector, tmp_path: Path) -> None:
    """A restarted operator assesses only once its pod watch has listed: no "0 pods" in between.

    The pods exist before the operator starts; the first reconciles (kopf's resume) and the
    re-assessments (every 2 s here) must not read a half-filled pod store. A Ready that went
    False and back would carry a new ``lastTransitionTime``.
    """
    ns = crd.create_namespace("restart-ready")
    names = [f"steady-{i}" for i in range(20)]
    try:
        with running_operator(crd, tmp_path, verbose=False):
            apply_services_first(
                crd,
                [
                    *(monitored_service(name, ns, collector.endpoint) for name in names),
                    *(deployment(name, ns, replicas=2) for name in names),
                ],
            )
            wait_for(
                "all Ready",
                lambda: all(_ready(crd, ns, name) for name in names),
                90,
                explain=lambda: [
                    (name, condition(msvc(crd, ns, name), "Ready").get("message"))
                    for name in names
                    if not _ready(crd, ns, name)
                ][:5],
            )
            before = {name: condition(msvc(crd, ns, name), "Ready") for name in names}
        with running_operator(crd, tmp_path, verbose=False) as operator:
            # The resumes, then three rounds of re-assessment of every service (every 2 s here),
            # counted on the operator's own metric.
            wait_for("three re-assessments of each service", lambda: operator.reassessed() >= 3 * len(names), 90)
            after = {name: condition(msvc(crd, ns, name), "Ready") for name in names}
            assert "pods not listed yet" not in operator.log_path.read_text(errors="replace")
        assert after == before
    finally:
        crd.kubectl("delete", "namespace", ns, "--wait=false")


def _ready(plane: Plane, ns: str, name: str) -> bool:
    return condition(msvc(plane, ns, name), "Ready").get("status") == "True"
