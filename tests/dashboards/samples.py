"""What the dashboard tests scrape: the operator's real /metrics and two real instrumented services.

* the operator: ``otelwire.metrics.REGISTRY`` served by ``prometheus_client``
  after the product code has counted into it -- the real webhook
  ``Reviewer`` answers AdmissionReviews (admission counters and latency), and
  a reconcile is recorded the way ``handlers.services`` records it, with the
  counts of the real assessor;
* ``orders-go``: the Go sample of ``tests/e2e`` (``otelhttp`` + ``autoexport``),
  built by the e2e harness, run with the env otelwire's planner produces for
  ``metrics.exporter: prometheus`` -- so the SDK's own Prometheus exporter
  serves on the planned port;
* ``orders-py``: :mod:`pyservice` under ``opentelemetry-instrument`` with the same env.

Every process is stopped by the ``ExitStack`` the fixture owns, also when a test fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from otelwire import metrics
from otelwire.assess import assess
from otelwire.assess.facts import ProbeResult
from otelwire.plan.environment import container_env
from otelwire.plan.parts import INJECTED_ANNOTATION
from otelwire.plan.planning import plan_for
from otelwire.plan.workloads import owner_of_pod
from otelwire.spec.model import MonitoredService, parse_monitored_service
from otelwire.webhook.reviewing import Reviewer

HERE = Path(__file__).resolve().parent
NAMESPACE = "shop"
LISTENING = re.compile(r"listening on (\S+:\d+)")


def monitored_service(name: str, metrics_port: int = 9464) -> MonitoredService:
    return parse_monitored_service(
        {
            "apiVersion": "otelwire.io/v1alpha1",
            "kind": "MonitoredService",
            "metadata": {"name": name, "namespace": NAMESPACE, "generation": 1, "uid": str(uuid.uuid4())},
            "spec": {
                "tracing": {"exporter": "none"},
                "metrics": {"exporter": "prometheus", "prometheus": {"port": metrics_port}},
                "dashboard": True,
            },
        }
    )


def planned_env(ms: MonitoredService) -> dict[str, str]:
    """The OTEL_* env otelwire plans for a container, expanded as the kubelet would ($(VAR), downward API)."""
    downward = {
        "metadata.name": f"{ms.service_name}-5d8f7c-x2kq9",
        "metadata.namespace": ms.namespace,
        "spec.nodeName": "node-1",
        "metadata.uid": str(uuid.uuid4()),
    }
    env: dict[str, str] = {}
    for var in container_env(ms, container="app", namespace=ms.namespace, workload=None, version=None):
        if var.field_path:
            env[var.name] = downward[var.field_path]
        else:
            env[var.name] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), var.value or "")
    # In a pod the exporter listens on 0.0.0.0 for Prometheus; here it stays on loopback.
    env["OTEL_EXPORTER_PROMETHEUS_HOST"] = "127.0.0.1"
    return env


class Service:
    """A sample service process; ``stop`` terminates it (then kills it)."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.lines: list[str] = []
        clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        self.process = subprocess.Popen(
            list(argv),
            env={**clean, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self._log = (log_dir / f"{name}.log").open("w")
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str] | None) -> None:
        for line in stream or ():
            self.lines.append(line.rstrip("\n"))
            self._log.write(line)
            self._log.flush()

    def output(self) -> str:
        return "\n".join(self.lines[-40:])

    def wait_listening(self, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := LISTENING.search(line):
                    return match.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start listening:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        self._log.close()


def go_service(binary: Path, ms: MonitoredService, log_dir: Path) -> Service:
    return Service(ms.service_name, [str(binary), "-listen", "127.0.0.1:0"], planned_env(ms), log_dir)


def python_service(ms: MonitoredService, log_dir: Path) -> Service:
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    env = planned_env(ms)
    # The Python instrumentations record http.server.request.duration only with this opt-in
    # (without it: the old http.server.duration in ms); otelwire does not inject it (yet).
    env["OTEL_SEMCONV_STABILITY_OPT_IN"] = "http"
    env["OTEL_LOGS_EXPORTER"] = "none"
    argv = [str(instrument), sys.executable, str(HERE / "pyservice.py"), "--listen", "127.0.0.1:0"]
    return Service(ms.service_name, argv, env, log_dir)


# ----------------------------------------------------------------- the operator's metrics


def _pod(ms: MonitoredService, name: str, injected: bool) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "metadata": {
            "name": name,
            "namespace": ms.namespace,
            "labels": {"app.kubernetes.io/name": ms.service_name, "pod-template-hash": "5d8f7c"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"{ms.service_name}-5d8f7c", "controller": True}],
        },
        "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
        "status": {"phase": "Running"},
    }
    if injected:
        pod["metadata"]["annotations"] = {
            INJECTED_ANNOTATION: plan_for(ms, pod, owner_of_pod(pod), ms.namespace).digest
        }
    return pod


class OperatorActivity:
    """Counts into ``otelwire.metrics`` through the product's own code paths, like a running operator."""

    def __init__(self, services: Sequence[MonitoredService]) -> None:
        self.services = list(services)
        self.reviewer = Reviewer(lambda namespace: [s for s in self.services if s.namespace == namespace])

    def admit(self, ms: MonitoredService, namespace: str | None = None) -> dict[str, Any]:
        pod = _pod(ms, f"{ms.service_name}-5d8f7c-{uuid.uuid4().hex[:5]}", injected=False)
        request = {
            "uid": str(uuid.uuid4()),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE",
            "namespace": namespace or ms.namespace,
            "object": pod,
        }
        return self.reviewer.review(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
        )

    def reconcile(self, ms: MonitoredService) -> None:
        """What ``handlers.services`` records for one reconcile, with the real assessor's counts."""
        started = time.perf_counter()
        pods = [_pod(ms, f"{ms.service_name}-a", injected=True), _pod(ms, f"{ms.service_name}-b", injected=False)]
        probe = ProbeResult("http://otel-collector.observability.svc:4318", True, "connected")
        result = assess(ms, pods, probe=probe, clock=None, previous=None, now="2026-01-01T00:00:00Z")
        for state in ("instrumented", "outdated", "missing"):
            metrics.PODS.labels(ms.namespace, ms.service_name, state).set(result.status["workloads"][state])
        metrics.RECONCILIATIONS.labels("ready" if result.ready else "not_ready").inc()
        metrics.RECONCILE_SECONDS.observe(time.perf_counter() - started)
        ready = 1 if result.ready else 0
        metrics.SERVICES.labels("true").set(ready)
        metrics.SERVICES.labels("false").set(1 - ready)
        metrics.REASSESSMENTS.labels("done").inc()  # what reconcile.reassessing counts for one that completed


class Traffic:
    """A background loop: requests to the sample services and work for the operator, until stopped."""

    def __init__(self, calls: Sequence[Callable[[], object]], period: float = 0.05) -> None:
        self.calls = list(calls)
        self.period = period
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for call in self.calls:
                try:
                    call()
                except Exception as error:  # a sample that stops answering shows up in the queries
                    self.errors.append(repr(error))
                    del self.errors[:-20]
            self._stop.wait(self.period)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def get(url: str) -> int:
    """GET ``url``; the status code (4xx/5xx included)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as error:
        error.read()
        return int(error.code)
