"""API conflicts, 5xx and timeouts from the API server: retried with backoff, nothing lost.

The operator runs with a kubeconfig that points at :mod:`reconcile.faultproxy`
(plain HTTP on loopback), which forwards to the plane's kube-apiserver but
answers a deterministic share of the requests itself: every ``MUTATE_EVERY``th
PATCH/POST/PUT gets a 409 Conflict, 503 or 500 Status, every ``READ_EVERY``th
GET (never a watch) a 503, a 500 or, at most ``STALLS`` times, no answer for
longer than the client's 30 s timeout.  kopf's own requests (status patches,
finalizers, lists, events) and otelwire's (``otelwire.kube.client``: workload
lists, server-side apply, the webhook registration) all go through it; the
webhook itself is served directly by the operator.

Twenty MonitoredServices -- half in patch mode with a Deployment of 0 or 1
replicas -- are applied, then all changed once; every one must converge
(status for the current generation, templates with each variable exactly
once and the current plan), and the operator process must live throughout.

Why otelwire writes status itself (``otelwire.actuate.statuses``, with the
client's retries) rather than through kopf's patch: kopf neither retries a 409
on its patch (the change is dropped) nor survives a failed patch in a timer,
and this test then sees a service stay at an old observedGeneration for good.

On 2 cores all converge within about a minute of the operator's start, with
~125 faults injected into ~770 requests; the numbers of a run are printed
with ``-s``.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path
from typing import Any

from plane import Plane

from reconcile.faultproxy import FaultProxy, Schedule
from reconcile.harness import Collector, Operator, deployment, monitored_service, wait_for

COUNT = 20
MUTATE_EVERY = 4
READ_EVERY = 5
STALLS = 2
STALL_SECONDS = 35.0  # past otelwire.kube.client's 30 s request timeout


def _patch_mode(index: int) -> bool:
    return index % 2 == 0


def _replicas(index: int) -> int:
    return 1 if index % 4 == 0 else 0


def _manifests(ns: str, endpoint: str, round_: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index in range(COUNT):
        name = f"svc-{index:02d}"
        mode = "patch" if _patch_mode(index) else "webhook"
        out.append(
            monitored_service(name, ns, endpoint, injection={"mode": mode}, resourceAttributes={"round": round_})
        )
        if _patch_mode(index):
            out.append(deployment(name, ns, replicas=_replicas(index)))
    return out


def _problems(plane: Plane, ns: str, round_: str) -> list[str]:
    """What still keeps the namespace from having converged (empty: converged)."""
    problems: list[str] = []
    services = {m["metadata"]["name"]: m for m in plane.kubectl_json("get", "msvc", "-n", ns)["items"]}
    workloads = {d["metadata"]["name"]: d for d in plane.kubectl_json("get", "deployments", "-n", ns)["items"]}
    for index in range(COUNT):
        name = f"svc-{index:02d}"
        obj = services.get(name)
        if obj is None:
            problems.append(f"{name}: missing")
            continue
        generation = obj["metadata"]["generation"]
        status = obj.get("status") or {}
        conditions = status.get("conditions") or []
        if status.get("observedGeneration") != generation or not conditions:
            problems.append(f"{name}: observedGeneration {status.get('observedGeneration')} != {generation}")
        elif any(c.get("observedGeneration") != generation for c in conditions):
            problems.append(f"{name}: a condition is for an older generation")
        elif status.get("serviceName") != name:
            problems.append(f"{name}: status.serviceName {status.get('serviceName')!r}")
        if not _patch_mode(index):
            continue
        template = workloads[name]["spec"]["template"]
        env = template["spec"]["containers"][0].get("env") or []
        names = collections.Counter(e["name"] for e in env)
        twice = sorted(key for key, count in names.items() if count > 1)
        if twice:
            problems.append(f"{name}: template env has {twice} more than once")
        attributes = next((e.get("value", "") for e in env if e["name"] == "OTEL_RESOURCE_ATTRIBUTES"), "")
        if names["OTEL_SERVICE_NAME"] != 1 or f"round={round_}" not in attributes:
            problems.append(f"{name}: template without the round-{round_} plan")
        elif not (template["metadata"].get("annotations") or {}).get("otelwire.io/injected"):
            problems.append(f"{name}: template without the injected annotation")
        elif _replicas(index) and (status.get("workloads") or {}).get("instrumented") != 1:
            problems.append(f"{name}: status counts {status.get('workloads')} instead of 1 instrumented pod")
    return problems


def test_conflicts_server_errors_and_timeouts_lose_nothing(crd: Plane, collector: Collector, tmp_path: Path) -> None:
    ns = crd.create_namespace("faults")
    schedule = Schedule(
        mutate_every=MUTATE_EVERY,
        mutate_faults=("conflict", "unavailable", "conflict", "internal"),
        read_every=READ_EVERY,
        read_faults=("unavailable", "internal", "stall"),
        limits={"stall": STALLS},
        stall_seconds=STALL_SECONDS,
    )
    with FaultProxy(crd.kubeconfig, schedule) as proxy:
        kubeconfig = proxy.write_kubeconfig(tmp_path / "faultproxy.kubeconfig")
        operator = Operator(crd, tmp_path, kubeconfig=kubeconfig, interval=5.0)
        started = time.monotonic()
        round_ = "1"

        def converged() -> bool:
            return not _problems(crd, ns, round_)

        def context() -> str:
            problems = _problems(crd, ns, round_)
            return f"{problems}; faults injected {dict(proxy.injected)} of {dict(proxy.seen)}\n{operator.tail(40)}"

        try:
            operator.start(120)
            for round_ in ("1", "2"):  # created, then every spec changed once
                crd.apply(_manifests(ns, collector.endpoint, round_))
                wait_for(f"all {COUNT} to converge on round {round_}", converged, 150, 2, explain=context)
            elapsed = time.monotonic() - started
            injected, seen = proxy.injected, proxy.seen
            log = operator.log_path.read_text(errors="replace")
            retried = log.count("retrying in")
            temporary = log.count("failed temporarily")
            summary = (
                f"converged in {elapsed:.0f}s with {dict(injected)} injected into {dict(seen)} requests; "
                f"kube.py retried {retried} times, kopf retried {temporary} handler runs"
            )
            print(summary)
            assert injected["conflict"] > 0 and injected["unavailable"] + injected["internal"] > 0, summary
            assert injected["stall"] > 0, summary
            assert retried > 0, f"otelwire.kube.client never logged a retry: {summary}"
            assert operator.process is not None and operator.process.poll() is None, context()
            assert not proxy.errors, proxy.errors
        finally:
            proxy.calm()
            # Released while the operator runs (finalizers), so later tests' operators do not inherit them.
            crd.kubectl("delete", "msvc", "--all", "-n", ns, "--timeout=60s", check=False)
            operator.stop()
            crd.kubectl("delete", "mutatingwebhookconfiguration", "otelwire-local", "--ignore-not-found", check=False)
            crd.kubectl("delete", "namespace", ns, "--wait=false", check=False)
