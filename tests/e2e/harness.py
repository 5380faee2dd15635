"""Support code for the end-to-end tests: render with otelwire, run services, check traces.

The tests prove a claim about *products*: the env that ``otelwire render``
writes into a pod spec makes a real OpenTelemetry SDK emit connected traces
under the right name, to the right collector. So nothing here invents
configuration: the env comes from the ``otelwire render`` subprocess, goes
through the kubelet's rules (:mod:`.kubeenv`), and the service process gets
exactly that env, nothing inherited from the test runner (no PATH, no stray
``OTEL_*`` from the developer's shell).

Processes are started through :class:`Processes`, whose ``close`` (called by
a fixture finaliser) terminates and then kills whatever is still running, so a
failing assertion never leaves a service behind.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .kubeenv import container_env
from .otlp_receiver import ReceivedSpan

REPO = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
GO_SERVICE_DIR = E2E_DIR / "goservice"
PY_SERVICE = E2E_DIR / "pyservice" / "service.py"
BUILD_DIR = REPO / ".cache" / "e2e"
NAMESPACE = "shop"
APP_VERSION = "1.4.2"
CONTAINER = "app"
LISTENING = re.compile(r"listening on (\S+:\d+)")


# ----------------------------------------------------------------- building and commands


def build_go_service() -> Path:
    """Build the Go sample into .cache/e2e; Go's build cache makes warm rebuilds take a second or so."""
    go = shutil.which("go")
    if go is None:
        raise RuntimeError("the Go toolchain ('go') is not on PATH; the e2e tests need it")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    binary = BUILD_DIR / "goservice"
    # Build beside the target and rename: a parallel run may be executing the old binary.
    partial = BUILD_DIR / f"goservice.{os.getpid()}.partial"
    result = subprocess.run(
        [go, "build", "-buildvcs=false", "-o", str(partial), "."],
        cwd=GO_SERVICE_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"go build failed:\n{result.stdout}\n{result.stderr}")
    os.replace(partial, binary)
    return binary


def python_service_command() -> list[str]:
    """opentelemetry-instrument from this venv, running the Python sample with this interpreter."""
    instrument = Path(sys.executable).parent / "opentelemetry-instrument"
    if not instrument.exists():
        raise RuntimeError(f"{instrument} not found: install the dev extras (make install)")
    return [str(instrument), sys.executable, str(PY_SERVICE)]


def otelwire_command() -> str:
    beside = Path(sys.executable).parent / "otelwire"
    if beside.exists():
        return str(beside)
    found = shutil.which("otelwire")
    if found is None:
        raise RuntimeError("the otelwire CLI is not installed in this environment (make install)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------- manifests and rendering


@dataclass(frozen=True)
class PodIdentity:
    """Values the downward API would give one pod of a workload."""

    name: str
    namespace: str = NAMESPACE
    node: str = "e2e-node-1"
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))

    @classmethod
    def of(cls, deployment: str) -> PodIdentity:
        return cls(name=f"{deployment}-5d9c7b8f4-{uuid.uuid4().hex[:5]}")

    @property
    def field_values(self) -> dict[str, str]:
        return {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "spec.nodeName": self.node,
            "metadata.uid": self.uid,
        }


def monitored_service(
    name: str,
    endpoint: str,
    protocol: str,
    ratio: str = "1",
    metrics: str = "otlp",
    prometheus_port: int | None = None,
    propagators: Sequence[str] = ("tracecontext", "baggage"),
) -> dict[str, Any]:
    metrics_spec: dict[str, Any] = {"exporter": metrics}
    if prometheus_port is not None:
        metrics_spec["prometheus"] = {"port": prometheus_port}
    return {
        "apiVersion": "otelwire.io/v1alpha1",
        "kind": "MonitoredService",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "tracing": {
                "exporter": "otlp",
                "otlp": {"endpoint": endpoint, "protocol": protocol, "allowLoopback": True},
                "propagators": list(propagators),
                "sampler": {"type": "parentbased_traceidratio", "ratio": ratio},
            },
            # A value that must be percent-encoded by otelwire and decoded by the SDK.
            "resourceAttributes": {"deployment.environment": "e2e", "team": "checkout, EU=1"},
            "metrics": metrics_spec,
        },
    }


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name, "app.kubernetes.io/version": APP_VERSION}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": CONTAINER, "image": f"registry.example/{name}:{APP_VERSION}"}]},
            },
        },
    }


class RenderRejected(Exception):
    """``otelwire render`` exited non-zero (for example, it judged the spec invalid)."""


def render(docs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Run ``otelwire render -f -`` on docs and return the rendered workloads."""
    result = subprocess.run(
        [otelwire_command(), "render", "-f", "-"],
        input=yaml.safe_dump_all(list(docs), sort_keys=False),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RenderRejected(f"otelwire render failed ({result.returncode}):\n{result.stderr}\n{result.stdout}")
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def container_env_list(workloads: Sequence[Mapping[str, Any]], name: str) -> list[dict[str, Any]]:
    """The rendered env list of CONTAINER in the workload called name."""
    for obj in workloads:
        if obj.get("metadata", {}).get("name") != name:
            continue
        pod_spec = obj["spec"] if obj.get("kind") == "Pod" else obj["spec"]["template"]["spec"]
        for container in pod_spec["containers"]:
            if container["name"] == CONTAINER:
                return list(container.get("env") or [])
    raise AssertionError(f"no workload {name!r} with container {CONTAINER!r} in render output: {workloads!r}")


def render_envs(
    endpoint: str, protocol: str, pods: Mapping[str, PodIdentity], **service_kwargs: Any
) -> dict[str, dict[str, str]]:
    """Render one MonitoredService + Deployment per pod key and resolve each env as the kubelet would."""
    docs: list[dict[str, Any]] = []
    for name in pods:
        docs += [monitored_service(name, endpoint, protocol, **service_kwargs), deployment(name)]
    workloads = render(docs)
    return {name: container_env(container_env_list(workloads, name), pod.field_values) for name, pod in pods.items()}


# ----------------------------------------------------------------- processes


class ServiceProcess:
    """One service process with its output in a log file."""

    def __init__(self, name: str, command: Sequence[str], env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            list(command),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=log_dir,
            start_new_session=True,
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_listening(self, timeout: float = 30.0) -> str:
        """Return HOST:PORT once the service printed it; fail with its output if it died or hung."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = LISTENING.search(self.output())
            if match:
                return match.group(1)
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}:\n{self.output()}")
            time.sleep(0.02)
        raise AssertionError(f"{self.name} did not start listening within {timeout}s:\n{self.output()}")

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM (the services flush their spans on it) and wait; kill on timeout."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"{self.name} did not stop within {timeout}s:\n{self.output()}") from None
        self._log.close()
        return int(self.process.returncode)

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        self._log.close()


class Processes:
    """Starts service processes and guarantees they are gone at close()."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._started: list[ServiceProcess] = []

    def start(self, name: str, command: Sequence[str], env: Mapping[str, str]) -> ServiceProcess:
        proc = ServiceProcess(name, command, env, self.log_dir)
        self._started.append(proc)
        return proc

    def close(self) -> None:
        for proc in self._started:
            if proc.process.poll() is None:
                proc.process.terminate()
        deadline = time.monotonic() + 5
        for proc in self._started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.process.wait(max(0.1, deadline - time.monotonic()))
            proc.kill()


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=15) as response:  # loopback only
        return str(response.read().decode())


@dataclass
class PairRun:
    """The outcome of one frontend -> orders run."""

    frontend_log: str
    orders_log: str
    exit_codes: tuple[int, int]


def run_pair(
    procs: Processes,
    frontend: tuple[Sequence[str], Mapping[str, str]],
    orders: tuple[Sequence[str], Mapping[str, str]],
    requests: int,
) -> PairRun:
    """Start orders, then frontend calling it; send requests; stop both (which flushes their spans)."""
    orders_proc = procs.start("orders", [*orders[0], "--listen", "127.0.0.1:0"], orders[1])
    orders_addr = orders_proc.wait_listening()
    frontend_proc = procs.start(
        "frontend",
        [*frontend[0], "--listen", "127.0.0.1:0", "--downstream", f"http://{orders_addr}"],
        frontend[1],
    )
    frontend_addr = frontend_proc.wait_listening()
    for _ in range(requests):
        body = get(f"http://{frontend_addr}/work")
        assert body.strip() == "ok", body
    codes = (frontend_proc.stop(), orders_proc.stop())
    return PairRun(frontend_proc.output(), orders_proc.output(), codes)


# ----------------------------------------------------------------- checks


def assert_connected_traces(
    spans: Sequence[ReceivedSpan],
    requests: int,
    pods: Mapping[str, PodIdentity],
    frontend: str = "frontend",
    orders: str = "orders",
) -> None:
    """The claim otelwire makes, as assertions over what the collector received.

    Every request gives one trace: frontend server span (a root) -> frontend
    client span -> orders server span, the last one a child of the client span
    in another process (so the context crossed the wire in ``traceparent``);
    each span carries the service's name and its pod's k8s attributes.
    """
    assert spans, "no spans arrived at the collector"
    names = sorted({s.service_name for s in spans})
    assert not [n for n in names if n.startswith("unknown_service")], f"service names: {names}"
    assert set(names) == {frontend, orders}, f"service names: {names}"

    def of(service: str, kind: str) -> list[ReceivedSpan]:
        return [s for s in spans if s.service_name == service and s.kind == kind]

    f_server, f_client, o_server = (
        of(frontend, "SPAN_KIND_SERVER"),
        of(frontend, "SPAN_KIND_CLIENT"),
        of(orders, "SPAN_KIND_SERVER"),
    )
    assert len(f_server) == len(f_client) == len(o_server) == requests, (
        f"{requests} requests gave {len(f_server)} frontend server, {len(f_client)} frontend client "
        f"and {len(o_server)} orders server spans"
    )
    by_id = {(s.trace_id, s.span_id): s for s in spans}
    for server in o_server:
        parent = by_id.get((server.trace_id, server.parent_span_id))
        assert parent is not None, f"orders span {server.span_id} has no parent in the trace (a new root?)"
        assert parent in f_client, f"orders span's parent is {parent.service_name}/{parent.kind}"
        grandparent = by_id.get((parent.trace_id, parent.parent_span_id))
        assert grandparent in f_server, "frontend client span is not a child of the frontend server span"
        assert grandparent is not None and grandparent.parent_span_id == "", "frontend server span is not a root"
    assert len({s.trace_id for s in f_server}) == requests, "requests did not each start their own trace"

    for service, pod in pods.items():
        for span in (s for s in spans if s.service_name == service):
            res = span.resource
            expected = {
                "k8s.pod.name": pod.name,
                "k8s.namespace.name": pod.namespace,
                "k8s.node.name": pod.node,
                "k8s.pod.uid": pod.uid,
                "k8s.deployment.name": service,
                "k8s.container.name": CONTAINER,
                "service.namespace": pod.namespace,
                "service.version": APP_VERSION,
                "deployment.environment": "e2e",
                "team": "checkout, EU=1",
            }
            got = {k: res.get(k) for k in expected}
            assert got == expected, f"{service} resource attributes: {res}"
            instance = str(res.get("service.instance.id", pod.name))
            assert pod.name in instance, f"{service}: service.instance.id {instance!r} lacks the pod name"
            unexpanded = {k: v for k, v in res.items() if "$(" in str(v)}
            assert not unexpanded, f"{service}: unexpanded references {unexpanded}"
