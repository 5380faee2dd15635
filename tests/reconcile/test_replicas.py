"""Two replicas under kopf peering: the active one is SIGKILLed, the standby takes over, no pod is missed.

What stands in for "two replicas behind one Service": outside a cluster each
``otelwire run`` registers its own URL MutatingWebhookConfiguration, so here
each replica registers one under its own name and the API server calls both
webhooks for every pod.  The plan is idempotent, so whichever answers second
finds nothing left to add; once the active replica is dead, the API server's
call to it fails (``failurePolicy: Ignore``) and the other replica's answer is
the one that counts.  In a cluster the Service would route to a live
endpoint instead; the property proved is the same: while one replica lives,
every pod is admitted with otelwire's env.

kopf peering pauses *every* replica that sees a live peer of the same
priority, so the two replicas run with different priorities (the higher one
reconciles).  The peering lifetime is cut from kopf's 60 s to
``LIFETIME`` seconds (``--peering-lifetime``), so takeover is bounded by that
lifetime plus one watch restart and one reconcile: ``TAKEOVER_BOUND``.

The standby's webhook only injects because it reads ``observe.mirror``
(a MonitoredService list+watch kopf does not pause): with kopf's index alone,
8 of 19 pods created between the kill and the takeover were admitted
without otelwire's env.

Measured on the busy 2-core dev machine (lifetime 10 s): takeover 6-11 s
(kill -> status of a MonitoredService created after the kill), 24-26 pods
admitted around the kill, 15-17 of them between the kill and the takeover,
0 without otelwire's env.  The numbers of a run are printed with ``-s``.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import kubernetes
from otelwire.kube.client import connect
from otelwire.observe.mirror import Mirror
from plane import Plane

from reconcile.harness import ROOT, Collector, Operator, env_of, monitored_service, msvc, wait_for

LIFETIME = 10  # seconds: --peering-lifetime of both replicas
TAKEOVER_BOUND = 3 * LIFETIME  # kill -> a MonitoredService created after the kill has its status
POD_INTERVAL = 0.6  # seconds between pod creations
POD_LIMIT = 40
PEERING = "otelwire"
RESUMED = "Resuming the watch-stream for monitoredservices"  # kopf, when a paused replica becomes active


class PodStream:
    """Creates bare pods selected by a MonitoredService at a steady pace, in a thread.

    The API server's answer to each create is the admitted pod, so whether
    otelwire's webhook mutated it is read straight from that answer.
    """

    def __init__(self, plane: Plane, namespace: str, app: str) -> None:
        api = kubernetes.config.new_client_from_config(config_file=str(plane.kubeconfig))
        self.core = kubernetes.client.CoreV1Api(api)
        self.namespace = namespace
        self.app = app
        self.admitted: list[tuple[float, dict[str, Any]]] = []  # (monotonic time, pod as admitted)
        self.errors: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pod-stream", daemon=True)

    def start(self) -> PodStream:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(60)

    def _run(self) -> None:
        for index in range(POD_LIMIT):
            if self.stopping.is_set():
                return
            started = time.monotonic()
            body = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": f"{self.app}-{index:03d}", "labels": {"app": self.app}},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
            }
            try:
                response = self.core.create_namespaced_pod(
                    self.namespace, body, _preload_content=False, _request_timeout=30
                )
                self.admitted.append((started, json.loads(response.data)))
            except Exception as error:  # recorded, asserted on by the test
                self.errors.append(f"{body['metadata']['name']}: {error}")
            self.stopping.wait(max(0.0, POD_INTERVAL - (time.monotonic() - started)))

    @staticmethod
    def injected(pod: dict[str, Any]) -> bool:
        env = env_of(pod["spec"]["containers"][0])
        annotations = pod["metadata"].get("annotations") or {}
        return (
            env.get("OTEL_SERVICE_NAME", {}).get("value") == pod["metadata"]["labels"]["app"]
            and "OTEL_EXPORTER_OTLP_ENDPOINT" in env
            and "otelwire.io/injected" in annotations
        )


def _install_peering(plane: Plane) -> None:
    """kopf's peering CRDs, as shipped; the operator creates the ClusterKopfPeering it meets in."""
    plane.kubectl("apply", "-k", str(ROOT / "manifests" / "peering"))
    plane.kubectl(
        "wait", "--for=condition=Established", "crd/clusterkopfpeerings.kopf.dev", "crd/kopfpeerings.kopf.dev"
    )


def _peers(plane: Plane) -> dict[str, Any]:
    """The peers in the ClusterKopfPeering (none before the first replica created it)."""
    result = plane.kubectl("get", "clusterkopfpeering", PEERING, "-o", "json", "--ignore-not-found")
    found = json.loads(result.stdout) if result.stdout.strip() else {}
    return dict(found.get("status") or {})


def _reconciled(plane: Plane, ns: str, name: str) -> bool:
    obj = msvc(plane, ns, name)
    status = obj.get("status") or {}
    return bool(status.get("conditions")) and status.get("observedGeneration") == obj["metadata"]["generation"]


def _log(operator: Operator) -> str:
    return operator.log_path.read_text(errors="replace")


def test_the_webhook_mirror_follows_the_api_server_with_list_and_watch(crd: Plane, collector: Collector) -> None:
    """What a standby's webhook reads (``observe.mirror``), against the real API server."""
    ns = crd.create_namespace("mirror")
    crd.apply(monitored_service("before", ns, collector.endpoint))
    mirror = Mirror(connect(str(crd.kubeconfig)), lambda _: (), namespaces=[ns]).start()
    try:
        assert mirror.wait(30), "the mirror never listed"

        def names() -> list[str]:
            return sorted(ms.name for ms in mirror.get(ns))

        assert names() == ["before"]
        crd.apply(monitored_service("after", ns, collector.endpoint))
        wait_for("the watch to add a service", lambda: names() == ["after", "before"], 30, explain=names)
        crd.kubectl(
            "patch", "msvc", "after", "-n", ns, "--type=merge", "-p", '{"spec":{"resourceAttributes":{"a":"b"}}}'
        )
        wait_for(
            "the watch to see the change",
            lambda: {ms.name: ms.generation for ms in mirror.get(ns)}.get("after") == 2,
            30,
            explain=names,
        )
        crd.kubectl("delete", "msvc", "before", "-n", ns, "--wait=false")
        wait_for("the watch to remove a service", lambda: names() == ["after"], 30, explain=names)
    finally:
        mirror.stop()
        crd.kubectl("delete", "namespace", ns, "--wait=false", check=False)  # no operator, no finalizers


def test_the_standby_takes_over_and_no_pod_misses_the_webhook(crd: Plane, collector: Collector, tmp_path: Path) -> None:
    _install_peering(crd)
    ns = crd.create_namespace("replicas")
    common = ("--peering", PEERING, "--peering-lifetime", str(LIFETIME))
    replicas = {
        "a": Operator(crd, tmp_path, extra=(*common, "--priority", "200"), config_name="otelwire-replica-a"),
        "b": Operator(crd, tmp_path, extra=(*common, "--priority", "100"), config_name="otelwire-replica-b"),
    }
    stream: PodStream | None = None

    def context() -> str:
        return "\n".join(f"--- replica {key}:\n{op.tail(25)}" for key, op in replicas.items())

    try:
        before = set(_peers(crd))
        replicas["a"].start(90)
        # The first replica's keep-alive is in the peering object before the second starts,
        # so the second pauses from its first peering event on.
        wait_for("replica a in the peering object", lambda: set(_peers(crd)) - before, 60, explain=context)
        replicas["b"].start(90)
        wait_for("two peers", lambda: len(set(_peers(crd)) - before) == 2, 60, explain=context)

        crd.apply(monitored_service("web", ns, collector.endpoint))
        wait_for("the first reconcile", lambda: _reconciled(crd, ns, "web"), 90, explain=context)
        # Fresh processes, one MonitoredService: whoever ran the reconcile handler is the active one.
        active = [key for key, op in replicas.items() if "Handler 'reconcile' succeeded" in _log(op)]
        assert len(active) == 1, f"exactly one replica reconciles; saw {active}\n{context()}"
        (active_key,) = active
        standby_key = "b" if active_key == "a" else "a"
        assert RESUMED not in _log(replicas[standby_key]), f"the standby must be paused\n{context()}"
        # kopf's pause reaches the re-assessments too (handlers/kopfinternals.py): the active replica
        # re-assesses every 2 s here, the paused one not once -- a standby writing statuses from its
        # stale indexes would undo the active one's.
        wait_for("the active replica's re-assessments", lambda: replicas[active_key].reassessed() >= 3, 60)
        assert replicas[standby_key].reassessed() == 0, f"a paused replica re-assessed\n{context()}"

        stream = PodStream(crd, ns, "web").start()
        wait_for("a few pods admitted by both replicas", lambda: len(stream.admitted) >= 4, 60)

        killed_at = time.monotonic()
        replicas[active_key].stop(signal.SIGKILL)
        crd.apply(monitored_service("late", ns, collector.endpoint))
        wait_for(
            "the standby to reconcile a MonitoredService created after the kill",
            lambda: _reconciled(crd, ns, "late"),
            TAKEOVER_BOUND + 60,
            interval=0.5,
            explain=context,
        )
        takeover = time.monotonic() - killed_at
        # Keep creating pods a little longer: they must be admitted by the new active replica too.
        time.sleep(3)
        stream.stop()

        admitted = stream.admitted
        during = [pod for at, pod in admitted if killed_at <= at <= killed_at + takeover]
        failed = [pod["metadata"]["name"] for _, pod in admitted if not PodStream.injected(pod)]
        summary = (
            f"takeover {takeover:.1f}s (lifetime {LIFETIME}s, bound {TAKEOVER_BOUND}s); "
            f"{len(admitted)} pods admitted ({len(during)} between the kill and the takeover), "
            f"{len(failed)} without otelwire's env: {failed}; create errors: {stream.errors}"
        )
        print(summary)
        assert not stream.errors, summary
        assert len(admitted) >= 15 and during, summary
        assert not failed, f"{summary}\n{context()}"
        assert takeover <= TAKEOVER_BOUND, f"{summary}\n{context()}"
        assert RESUMED in _log(replicas[standby_key]), context()
        wait_for("the new active replica's re-assessments", lambda: replicas[standby_key].reassessed() >= 1, 60)
        assert replicas[standby_key].process is not None and replicas[standby_key].process.poll() is None
    finally:
        if stream is not None:
            stream.stop()
        # Released by the live replica (finalizers), so later tests' operators do not inherit them.
        crd.kubectl("delete", "msvc", "--all", "-n", ns, "--timeout=30s", check=False)
        for operator in replicas.values():
            operator.stop()
        for operator in replicas.values():  # a SIGKILLed replica cannot remove its configuration
            crd.kubectl(
                "delete", "mutatingwebhookconfiguration", operator.config_name, "--ignore-not-found", check=False
            )
        crd.kubectl("delete", "namespace", ns, "--wait=false", check=False)
