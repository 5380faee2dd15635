"""Start-up benchmark: ``otelwire run`` from process start to webhook ready and to the first reconcile.

    .venv/bin/python bench/startup.py            # 5 trials (about a minute, plus the control plane's start)
    .venv/bin/python bench/startup.py --quick    # 2 trials

A real control plane (``tests/plane/``'s ``LocalPlane``: etcd + kube-apiserver
+ housekeeping controllers, from ``make controlplane``) is started once, the
CRD applied, and a loopback OTLP endpoint started so that the collector probe
answers at once.  Each trial then creates a fresh MonitoredService and starts
``python -m otelwire.cli.main run`` against the plane, timing from just before
``Popen``:

* webhook ready: the webhook port answers ``GET /healthz`` over TLS (polled
  every 5 ms);
* first reconcile: the MonitoredService's ``status.observedGeneration`` equals
  its ``metadata.generation`` (polled every 10 ms straight from the API server).

In the same run, interleaved with the trials, the baselines: ``python -c
"import kopf"`` (the floor of any kopf operator's start) and ``python -c pass``
(the interpreter alone).  Then ``python -X importtime`` of what ``otelwire
run`` imports, for the profile.  Table to stdout, JSON to
``bench/results/startup.json`` (the reference; see ``recording``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime
import http.client
import json
import os
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

import recording  # noqa: E402
from plane import LocalPlane  # noqa: E402
from reconcile.harness import Collector, install_crd, monitored_service  # noqa: E402

NAMESPACE = "startup-bench"
TRIAL_TIMEOUT = 60.0  # seconds: a trial that has not reconciled by then fails


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ApiClient:
    """GETs against the plane's API server with the admin client certificate from its kubeconfig."""

    def __init__(self, kubeconfig: Path, workdir: Path) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        host, _, port = cluster["server"].removeprefix("https://").rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)
        certfile, keyfile = workdir / "admin.crt", workdir / "admin.key"
        certfile.write_bytes(base64.b64decode(user["client-certificate-data"]))
        keyfile.write_bytes(base64.b64decode(user["client-key-data"]))
        keyfile.chmod(0o600)
        self.context = ssl.create_default_context(
            cadata=base64.b64decode(cluster["certificate-authority-data"]).decode()
        )
        self.context.load_cert_chain(str(certfile), str(keyfile))
        self.connection: http.client.HTTPSConnection | None = None

    def get(self, path: str) -> dict[str, Any] | None:
        for _ in range(2):
            if self.connection is None:
                self.connection = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=5)
            try:
                self.connection.request("GET", path)
                response = self.connection.getresponse()
                body = response.read()
                return json.loads(body) if response.status == 200 else None
            except (OSError, http.client.HTTPException):
                self.connection.close()
                self.connection = None
        return None


def _healthz(port: int) -> Callable[[], bool]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the operator's certificate is self-signed and made at start

    def check() -> bool:
        try:
            connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=1)
            try:
                connection.request("GET", "/healthz")
                return connection.getresponse().status == 200
            finally:
                connection.close()
        except (OSError, http.client.HTTPException):
            return False

    return check


def _watch(
    check: Callable[[], bool], interval: float, began: float, deadline: float, out: dict[str, float], key: str
) -> threading.Thread:
    def run() -> None:
        while time.perf_counter() < deadline:
            if check():
                out[key] = time.perf_counter() - began
                return
            time.sleep(interval)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def timed_command(argv: Sequence[str], env: dict[str, str] | None = None) -> float:
    began = time.perf_counter()
    subprocess.run(
        argv,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    return time.perf_counter() - began


OTELWIRE = (sys.executable, "-m", "otelwire.cli.main")  # the operator as shipped


def trial(
    plane: LocalPlane,
    api: ApiClient,
    collector: Collector,
    index: int,
    workdir: Path,
    command: Sequence[str] = OTELWIRE,
) -> dict[str, Any]:
    name = f"startup-{index}-{time.time_ns() % 100000}"
    plane.apply(monitored_service(name, NAMESPACE, collector.endpoint))
    webhook_port, metrics_port, health_port = free_port(), free_port(), free_port()
    argv = [
        *command,
        "run",
        "--kubeconfig",
        str(plane.kubeconfig),
        "--webhook-port",
        str(webhook_port),
        "--metrics-port",
        str(metrics_port),
        "--liveness",
        f"http://127.0.0.1:{health_port}/healthz",
        "--webhook-config-name",
        "otelwire-startup-bench",
    ]
    path = f"/apis/otelwire.io/v1alpha1/namespaces/{NAMESPACE}/monitoredservices/{name}"

    def reconciled() -> bool:
        found = api.get(path)
        if not found:
            return False
        generation = found["metadata"].get("generation")
        return bool((found.get("status") or {}).get("observedGeneration") == generation)

    log_path = workdir / f"operator-{index}.log"
    times: dict[str, float] = {}
    with log_path.open("wb") as log:
        began = time.perf_counter()
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = began + TRIAL_TIMEOUT
        try:
            watchers = [
                _watch(_healthz(webhook_port), 0.005, began, deadline, times, "webhook_ready_s"),
                _watch(reconciled, 0.010, began, deadline, times, "first_reconcile_s"),
            ]
            for watcher in watchers:
                watcher.join(TRIAL_TIMEOUT + 5)
            if "first_reconcile_s" in times:  # let the operator release the resource (its finalizer)
                plane.kubectl("delete", "monitoredservice", name, "-n", NAMESPACE, "--wait=true", "--timeout=30s")
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
    if len(times) < 2:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
        raise RuntimeError(f"trial {index}: not ready within {TRIAL_TIMEOUT:.0f}s ({times}); operator log:\n{tail}")
    return times


# What `otelwire run` imports before kopf.run (cli/run.py).
IMPORTS = "import otelwire.cli.main; from otelwire.cli.run import import_operator; import_operator()"
NOTABLE = (
    "kopf",
    "kubernetes",
    "aiohttp",
    "pydantic",
    "yaml",
    "cryptography",
    "prometheus_client",
    "otelwire.spec.model",
    "otelwire.plan",
    "otelwire.webhook",
    "otelwire.handlers",
)


def import_profile() -> list[dict[str, Any]]:
    """``python -X importtime`` of what ``otelwire run`` imports: cumulative ms of notable packages.

    Each package is counted where it is first imported (``kubernetes`` inside ``kopf``, for one).
    """
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORTS], capture_output=True, text=True, check=True, timeout=60
    )
    first: dict[str, dict[str, Any]] = {}
    for line in result.stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or "cumulative" in line:
            continue
        module = parts[2][1:]
        name = module.strip()
        if name in NOTABLE and name not in first:
            depth = (len(module) - len(name)) // 2
            first[name] = {"module": name, "depth": depth, "cumulative_ms": int(parts[1]) / 1000}
    return [first[name] for name in NOTABLE if name in first]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "median_s": statistics.median(values),
        "min_s": min(values),
        "max_s": max(values),
        "n": len(values),
    }


def run(trials: int) -> dict[str, Any]:
    started = datetime.datetime.now(datetime.UTC)
    samples: dict[str, list[float]] = {
        "webhook_ready_s": [],
        "first_reconcile_s": [],
        "import_kopf_s": [],
        "import_operator_s": [],
        "python_pass_s": [],
    }
    plane_started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="otelwire-startup-") as tmp, LocalPlane() as plane:
        plane_seconds = time.perf_counter() - plane_started
        workdir = Path(tmp)
        install_crd(plane)
        plane.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        api = ApiClient(plane.kubeconfig, workdir)
        collector = Collector()
        try:
            timed_command([sys.executable, "-c", "import kopf"])  # warm the page cache for both
            trial(plane, api, collector, 0, workdir)  # untimed: .pyc files and caches warm, like a restart
            for index in range(1, trials + 1):
                samples["import_kopf_s"].append(timed_command([sys.executable, "-c", "import kopf"]))
                samples["import_operator_s"].append(timed_command([sys.executable, "-c", IMPORTS]))
                samples["python_pass_s"].append(timed_command([sys.executable, "-c", "pass"]))
                times = trial(plane, api, collector, index, workdir)
                samples["webhook_ready_s"].append(times["webhook_ready_s"])
                samples["first_reconcile_s"].append(times["first_reconcile_s"])
                print(
                    f"trial {index}: webhook ready {times['webhook_ready_s']:.3f} s, "
                    f"first reconcile {times['first_reconcile_s']:.3f} s, "
                    f"import kopf {samples['import_kopf_s'][-1]:.3f} s",
                    file=sys.stderr,
                )
        finally:
            collector.close()
    result: dict[str, Any] = {
        "benchmark": "startup",
        "timestamp": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "plane_start_s": plane_seconds,
        "trials": trials,
        "samples": samples,
        "summary": {key: summary(values) for key, values in samples.items()},
        "imports": import_profile(),
    }
    webhook = result["summary"]["webhook_ready_s"]["median_s"]
    reconcile = result["summary"]["first_reconcile_s"]["median_s"]
    result["targets"] = [
        {"target": "process start -> webhook ready <= 1 s", "value": f"{webhook:.3f} s", "met": webhook <= 1.0},
        {"target": "process start -> first reconcile <= 2 s", "value": f"{reconcile:.3f} s", "met": reconcile <= 2.0},
    ]
    return result


def machine() -> dict[str, Any]:
    import platform

    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_at_start": list(os.getloadavg()),
    }


def table(result: dict[str, Any]) -> str:
    labels = {
        "webhook_ready_s": "otelwire run -> webhook answers /healthz",
        "first_reconcile_s": "otelwire run -> first status.observedGeneration",
        "import_kopf_s": 'baseline: python -c "import kopf"',
        "import_operator_s": "reference: otelwire run's imports",
        "python_pass_s": 'baseline: python -c "pass"',
    }
    lines = [f"{'measure':<56} {'median s':>9} {'min s':>7} {'max s':>7}", "-" * 82]
    for key, label in labels.items():
        row = result["summary"][key]
        lines.append(f"{label:<56} {row['median_s']:>9.3f} {row['min_s']:>7.3f} {row['max_s']:>7.3f}")
    kopf = result["summary"]["import_kopf_s"]["median_s"]
    lines.append("")
    lines.append(
        f"webhook ready / import kopf: {result['summary']['webhook_ready_s']['median_s'] / kopf:.2f}x; "
        f"first reconcile / import kopf: {result['summary']['first_reconcile_s']['median_s'] / kopf:.2f}x"
    )
    lines.append("")
    lines.append(f"python -X importtime -c '{IMPORTS}' (cumulative ms, where first imported):")
    for row in result["imports"]:
        lines.append(f"  {row['cumulative_ms']:>8.1f}  {'  ' * row['depth']}{row['module']}")
    lines.append("")
    for target in result["targets"]:
        lines.append(f"[{'met' if target['met'] else 'NOT met':>7}] {target['target']}: {target['value']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2 trials instead of 5")
    parser.add_argument("--trials", type=int)
    parser.add_argument(
        "--output", help="where the JSON goes (default: bench/results/startup.json; --quick: a temp file)"
    )
    args = parser.parse_args(argv)
    trials = args.trials or (2 if args.quick else 5)
    result = run(trials)
    written = recording.record("startup", result, quick=args.quick, output=args.output)
    print(table(result))
    print(f"\nwritten: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
