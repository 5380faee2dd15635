"""Run the real operator (``otelwire run``) against the test plane, as a user would.

The operator is a separate process with only a kubeconfig: it serves its
webhook on 127.0.0.1 with a self-signed certificate and registers its own URL
MutatingWebhookConfiguration, so the API server calls it over TLS with real
AdmissionReviews.  A tiny OTLP/HTTP collector on loopback lets
``CollectorReachable`` be true without any cluster DNS.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from plane import Plane
from support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "crds" / "monitoredservices.otelwire.io.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Collector:
    """An OTLP/HTTP endpoint that answers 200 to exports (what a collector would)."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                collector.requests.append(self.path)
                code = 200 if self.path.startswith("/v1/") else 404
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            # A real collector listens with the kernel's backlog; socketserver's default of 5 drops
            # connections from 1,000 services' probes as soon as this (test) process is busy.
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Operator:
    """``otelwire run`` as a child process with its log captured."""

    def __init__(
        self,
        plane: Plane,
        workdir: Path,
        *,
        interval: float = 2.0,
        extra: tuple[str, ...] = (),
        kubeconfig: Path | None = None,
        webhook: bool = True,
        config_name: str = "otelwire-local",
        verbose: bool = True,
        command: tuple[str, ...] = (sys.executable, "-m", "otelwire.cli.main"),
        user: int | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.plane = plane
        self.config_name = config_name  # the URL MutatingWebhookConfiguration this replica registers
        self.kubeconfig = kubeconfig or plane.kubeconfig
        self.webhook = webhook
        self.log_path = workdir / f"operator-{time.time_ns()}.log"
        self.metrics_port = free_port()
        self.health_port = free_port()
        self.interval = interval
        self.extra = extra
        self.verbose = verbose  # debug logs for the tests; benchmarks measure the default level
        self.command = command  # how `otelwire` is started: this checkout's, or an installed one
        self.user = user  # a uid (and gid) to run as, like the Deployment's runAsUser
        self.cwd = cwd
        self.env = env  # the whole environment (default: this process's)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Operator:
        argv = [
            *self.command,
            "run",
            "--kubeconfig",
            str(self.kubeconfig),
            "--webhook-port",
            "0",
            "--metrics-port",
            str(self.metrics_port),
            "--liveness",
            f"http://127.0.0.1:{self.health_port}/healthz",
            "--reassess-interval",
            str(self.interval),
            *(("--verbose",) if self.verbose else ()),
            *self.extra,
            *(() if self.webhook else ("--no-webhook",)),
            *(() if self.config_name == "otelwire-local" else ("--webhook-config-name", self.config_name)),
        ]
        env = {**(os.environ if self.env is None else self.env), "OTELWIRE_PROBE_TTL": "1"}
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            argv,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            cwd=self.cwd,
            user=self.user,
            group=self.user,
            extra_groups=[] if self.user is not None else None,
        )
        try:
            if self.webhook:
                wait_for("the operator's webhook registration", self._registered, timeout, explain=self.tail)
            else:
                wait_for("the operator's liveness endpoint", self._alive, timeout, explain=self.tail)
        except BaseException:
            self.stop()  # an operator that never came up must not outlive the test
            raise
        return self

    def _alive(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"operator exited with {self.process.returncode}:\n{self.tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.health_port}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def _registered(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise AssertionError(f"operator exited with {self.process.returncode}:\n{self.tail()}")
        result = self.plane.kubectl("get", "mutatingwebhookconfiguration", self.config_name, "-o", "json", check=False)
        if result.returncode != 0:
            return False
        url = json.loads(result.stdout)["webhooks"][0]["clientConfig"].get("url", "")
        return "127.0.0.1" in url and f"registered {self.config_name} " in self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        if self.process is None or self.process.poll() is not None:
            if self.process is not None and not self.log.closed:
                self.log.close()
            return
        os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.log.close()

    def metric(self, name: str, labels: str = "") -> float:
        """The value of one series of the operator's ``/metrics`` (0 when absent), e.g.
        ``metric("otelwire_reassessments_total", 'result="done"')``."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as response:
            text = response.read().decode()
        series = f"{name}{{{labels}}}" if labels else name
        for line in text.splitlines():
            if line.startswith(series + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def reassessed(self) -> float:
        """How many re-assessments this operator has completed."""
        return self.metric("otelwire_reassessments_total", 'result="done"')

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def running_operator(plane: Plane, workdir: Path, **kwargs: Any) -> Iterator[Operator]:
    operator = Operator(plane, workdir, **kwargs).start()
    try:
        yield operator
    finally:
        operator.stop()


def install_crd(plane: Plane) -> None:
    plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    plane.kubectl("wait", "--for=condition=Established", "crd/monitoredservices.otelwire.io", "--timeout=60s")


def install_chrony_namespace(plane: Plane) -> str:
    """The chrony namespace as ``manifests/chrony`` installs it (Pod Security privileged, the operator's Role)."""
    plane.kubectl("apply", "-k", str(ROOT / "manifests" / "chrony"))
    namespace = yaml.safe_load((ROOT / "manifests" / "chrony" / "namespace.yaml").read_text())["metadata"]
    return plane.create_namespace(namespace["name"], labels=namespace["labels"])  # waits for its ServiceAccount


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e for e in container.get("env") or []}


def monitored_service(name: str, namespace: str, endpoint: str, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "selector": {"matchLabels": {"app": name}},
        "tracing": {"otlp": {"endpoint": endpoint, "allowLoopback": True}},
        "metrics": {"exporter": "otlp"},
    }
    body.update(spec)
    return {
        "apiVersion": "otelwire.io/v1alpha1",
        "kind": "MonitoredService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": body,
    }


def deployment(name: str, namespace: str, replicas: int = 2, env: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "app", "image": "registry.example/app:1.0"}
    if env is not None:
        container["env"] = env
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name, "app.kubernetes.io/version": "1.0"}},
                "spec": {"containers": [container]},
            },
        },
    }


def pods(plane: Plane, namespace: str, selector: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = plane.kubectl_json("get", "pods", "-n", namespace, "-l", selector)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def msvc(plane: Plane, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = plane.kubectl_json("get", "monitoredservice", name, "-n", namespace)
    return found


def _observed_generation(plane: Plane, namespace: str, name: str) -> Any:
    return (msvc(plane, namespace, name).get("status") or {}).get("observedGeneration")


def apply_services_first(plane: Plane, objects: list[dict[str, Any]], timeout: float = 60.0) -> None:
    """Apply the MonitoredServices, wait until the operator has seen them, then the rest.

    A pod admitted before the operator has indexed its MonitoredService is not injected
    (it is reported as not injected, and ``restartOutdated`` rolls its workload); tests that
    check what the webhook injects apply in the order that leaves no such race.
    """
    services = [o for o in objects if o.get("kind") == "MonitoredService"]
    plane.apply(services)
    for ms in services:
        meta = ms["metadata"]
        wait_for(
            f"the operator to observe MonitoredService {meta['namespace']}/{meta['name']}",
            functools.partial(_observed_generation, plane, meta["namespace"], meta["name"]),
            timeout,
        )
    rest = [o for o in objects if o.get("kind") != "MonitoredService"]
    if rest:
        plane.apply(rest)
