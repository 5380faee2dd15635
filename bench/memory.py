"""Memory benchmark: RSS of ``otelwire run`` idle, then with 1,000 MonitoredServices and P pods watched.

    .venv/bin/python bench/memory.py                          # P = 100,1000,5000,10000
    .venv/bin/python bench/memory.py --pods 100,1000          # fewer steps
    .venv/bin/python bench/memory.py --quick                  # 100 services, P = 100,500

A real control plane (``tests/plane/``'s ``LocalPlane``: etcd, kube-apiserver,
housekeeping controllers; no scheduler, no nodes) is started, the CRD applied
and a loopback OTLP/HTTP collector started.  Two processes run side by side,
started at the same moment against the same plane:

* ``otelwire run`` (the operator, webhook on and serving a certificate from files, as the
  Deployment serves cert-manager's Secret, ``--reassess-interval 3600`` by default: the
  periodic re-assessment costs CPU in proportion to services x pods per reconcile -- see
  docs/benchmarks-cluster.md -- and would keep 2 cores saturated at 10,000 pods; this
  benchmark measures what is watched and kept, not that CPU);
* the baseline: a bare kopf operator (``python -m kopf run --standalone -A``)
  whose only handlers are no-op ``@kopf.index`` on pods and on
  MonitoredServices -- the floor of any kopf operator watching the same objects.

VmRSS of both (``/proc/<pid>/status``) is read idle (10 s after start), after
1,000 MonitoredServices have all been reconciled (``observedGeneration ==
generation``), and after the pod count reaches each P.  Then both restart with
everything in place -- kopf lists it all at start -- three times: the operator
listing in one response (``OTELWIRE_LIST_CHUNK_SIZE=0``, kopf's default), in pages
of 500, and in otelwire's default pages; each restart's RSS and peak (``VmHWM``).  Pods are bare pods
(``registry.example/app:1.0``) labelled to match the MonitoredServices
round-robin, so every one is admitted by the operator's webhook and watched
by both processes.  No scheduler runs, so they stay Pending: the watch stream
and what each process keeps are the same as for Running pods, minus status
churn.  After each step RSS is sampled every 2 s until it is stable (three
samples within 1 MB) or 60 s.

Table to stdout, JSON to ``bench/results/memory.json`` (the reference; see
``recording``), plot to ``docs/memory.png``.  ``--tunings`` adds restarts with
each kopf tuning undone (``bench/tunings.py``).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import recording
from convergence import (
    CREATE_THREADS,
    DOCS,
    client,
    count_states,
    create_namespace,
    creating,
    list_msvcs,
    machine,
    run_parallel,
)
from kubernetes.client import ApiClient, CoreV1Api, CustomObjectsApi
from otelwire.options import Options
from otelwire.webhook import certificates
from plane import LocalPlane
from reconcile.harness import Collector, Operator, monitored_service

NAMESPACE = "memory-bench"
PAGE = Options.list_chunk_size  # otelwire's default page of a list
SHIPPED = f"restart, lists in pages of {PAGE}"  # the restart of the operator as shipped
HERE = Path(__file__).resolve().parent
OTELWIRE = (sys.executable, "-m", "otelwire.cli.main")  # the operator as shipped
IDLE_SETTLE = 10.0

BASELINE_SOURCE = """
import kopf

@kopf.index("v1", "pods")
def pods(**_):
    return None

@kopf.index("otelwire.io", "v1alpha1", "monitoredservices")
def services(**_):
    return None
"""


def _status_mb(pid: int, field: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def rss_mb(pid: int) -> float:
    return _status_mb(pid, "VmRSS")


def hwm_mb(pid: int) -> float:
    """Peak RSS so far (``VmHWM``)."""
    return round(_status_mb(pid, "VmHWM"), 1)


def settle(pids: dict[str, int], limit: float = 60.0) -> dict[str, float]:
    """Sample every 2 s until the last three samples of each process lie within 1 MB (or ``limit``)."""
    history: dict[str, list[float]] = {name: [] for name in pids}
    deadline = time.monotonic() + limit
    while True:
        for name, pid in pids.items():
            history[name].append(rss_mb(pid))
        stable = all(len(h) >= 3 and max(h[-3:]) - min(h[-3:]) <= 1.0 for h in history.values())
        if stable or time.monotonic() > deadline:
            return {name: round(h[-1], 1) for name, h in history.items()}
        time.sleep(2)


def bare_pod(index: int, services: int) -> dict[str, Any]:
    app = f"svc-{index % services:05d}"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"pod-{index:05d}", "labels": {"app": app, "app.kubernetes.io/version": "1.0"}},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
    }


def served_certificate(workdir: Path) -> tuple[str, ...]:
    """``otelwire run`` serving a certificate from files, as the Deployment does (cert-manager's
    Secret mounted at ``--webhook-cert-dir``); made here, so the operator does not make its own."""
    directory = workdir / "tls"
    certificates.self_signed(directory, ["127.0.0.1", "localhost"])
    return ("--webhook-cert-dir", str(directory))


def start_baseline(kubeconfig: Path, workdir: Path) -> subprocess.Popen[bytes]:
    source = workdir / "bare_kopf.py"
    source.write_text(BASELINE_SOURCE)
    log = (workdir / "bare-kopf.log").open("wb")
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    return subprocess.Popen(
        [sys.executable, "-m", "kopf", "run", "--standalone", "--all-namespaces", "--quiet", str(source)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, 15)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait(10)


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


def plot(steps: list[dict[str, Any]], idle: dict[str, float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_pods = [s for s in steps if s["pods"] > 0]
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = [s["pods"] for s in with_pods]
    ax.plot(xs, [s["operator_mb"] for s in with_pods], "o-", label="otelwire run (1,000 MonitoredServices)")
    ax.plot(xs, [s["baseline_mb"] for s in with_pods], "^-", label="bare kopf, no-op indexes (floor)")
    ax.axhline(idle["operator"], color="C0", linestyle=":", linewidth=0.8, label="otelwire idle")
    ax.axhline(150, color="red", linewidth=0.8, label="150 MB target")
    ax.axhline(80, color="orange", linewidth=0.8, label="80 MB idle target")
    ax.set_xscale("log")
    ax.set_xlabel("pods watched")
    ax.set_ylabel("VmRSS (MB)")
    ax.set_title("Operator memory vs pods watched")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", default="100,1000,5000,10000", help="pod counts, ascending")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="100 services, pods 100,500")
    parser.add_argument("--step-timeout", type=float, default=600.0, help="seconds allowed to create one step's pods")
    parser.add_argument("--reassess-interval", type=float, default=3600.0, help="the operator's (default 3600)")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--tunings", action="store_true", help="also restart with each kopf tuning undone")
    parser.add_argument(
        "--output", help="where the JSON goes (default: bench/results/memory.json; --quick: a temp file)"
    )
    args = parser.parse_args(argv)
    services = 100 if args.quick else args.services
    counts = [100, 500] if args.quick else [int(p) for p in args.pods.split(",") if p.strip()]
    info = machine()
    print(f"machine: {info}", flush=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix="otelwire-memory-"))
    collector = Collector()
    plane = LocalPlane()
    operator: Operator | None = None
    baseline: subprocess.Popen[bytes] | None = None
    steps: list[dict[str, Any]] = []
    restarts: list[dict[str, Any]] = []
    idle: dict[str, float] = {}
    notes: list[str] = []
    try:
        plane.start()
        from reconcile.harness import install_crd

        install_crd(plane)
        api: ApiClient = client(plane.kubeconfig)
        create_namespace(api, NAMESPACE)
        baseline = start_baseline(plane.kubeconfig, workdir)
        served = served_certificate(workdir)
        operator = Operator(plane, workdir, interval=args.reassess_interval, verbose=False, extra=served).start(
            timeout=120
        )
        assert operator.process is not None
        pids = {"operator": operator.process.pid, "baseline": baseline.pid}
        time.sleep(IDLE_SETTLE)
        idle = settle(pids, 30)
        print(f"idle: operator {idle['operator']:.1f} MB, bare kopf {idle['baseline']:.1f} MB", flush=True)

        custom = CustomObjectsApi(api)
        begin = time.monotonic()
        errors = run_parallel(
            (
                creating(custom, NAMESPACE, monitored_service(f"svc-{i:05d}", NAMESPACE, collector.endpoint))
                for i in range(services)
            ),
            CREATE_THREADS,
        )
        reconciled = wait_until(lambda: count_states(list_msvcs(api, NAMESPACE))[0] >= services, 600, 2)
        took = time.monotonic() - begin
        if not reconciled:
            notes.append(f"not every MonitoredService reconciled within 600 s of creation ({took:.0f} s)")
        rss = settle(pids)
        steps.append(
            {
                "pods": 0,
                "operator_mb": rss["operator"],
                "baseline_mb": rss["baseline"],
                "create_seconds": round(took, 1),
                "errors": len(errors),
            }
        )
        print(
            f"{services} services ({took:.0f} s): operator {rss['operator']:.1f} MB, "
            f"bare kopf {rss['baseline']:.1f} MB",
            flush=True,
        )

        core = CoreV1Api(api)
        made = 0
        for target in counts:
            begin = time.monotonic()
            batch = range(made, target)
            errors = run_parallel(
                (functools.partial(core.create_namespaced_pod, NAMESPACE, bare_pod(i, services)) for i in batch),
                CREATE_THREADS,
            )
            took = time.monotonic() - begin
            made = target
            rss = settle(pids)
            step = {
                "pods": target,
                "operator_mb": rss["operator"],
                "baseline_mb": rss["baseline"],
                "operator_peak_mb": hwm_mb(pids["operator"]),
                "baseline_peak_mb": hwm_mb(pids["baseline"]),
                "create_seconds": round(took, 1),
                "errors": len(errors),
            }
            steps.append(step)
            print(
                f"{target:>6} pods (created in {took:.0f} s, {len(errors)} errors): operator "
                f"{rss['operator']:.1f} MB, bare kopf {rss['baseline']:.1f} MB",
                flush=True,
            )
            if took > args.step_timeout:
                notes.append(f"stopped after {target} pods: that step took {took:.0f} s")
                break
        print(
            f"peak so far: operator {hwm_mb(pids['operator']):.1f} MB, bare kopf {hwm_mb(pids['baseline']):.1f} MB",
            flush=True,
        )
        # A restart finds every object already there: kopf lists them all at once. Both
        # processes restart; the operator listing in one response (kopf's default), in pages of
        # 500, and in otelwire's default pages; then, with --tunings, as shipped but for one kopf
        # tuning undone (bench/tunings.py).
        variants: list[tuple[str, dict[str, str], tuple[str, ...] | None]] = [
            ("restart, lists in one response", {"OTELWIRE_LIST_CHUNK_SIZE": "0"}, None),
            ("restart, lists in pages of 500", {"OTELWIRE_LIST_CHUNK_SIZE": "500"}, None),
            (SHIPPED, {"OTELWIRE_LIST_CHUNK_SIZE": str(PAGE)}, None),
        ]
        if args.tunings:
            variants += [
                ("restart, kopf's own storages", {}, (sys.executable, str(HERE / "tunings.py"), "kopf-storages")),
                ("restart, idle workers wait 5 s", {"OTELWIRE_WORKER_IDLE_TIMEOUT": "5"}, None),
            ]
        for label, env, command in variants:
            operator.stop()
            stop_process(baseline)
            for name in ("OTELWIRE_LIST_CHUNK_SIZE", "OTELWIRE_WORKER_IDLE_TIMEOUT"):
                os.environ.pop(name, None)
            os.environ.update(env)
            baseline = start_baseline(plane.kubeconfig, workdir)
            operator = Operator(
                plane,
                workdir,
                interval=args.reassess_interval,
                verbose=False,
                extra=served,
                command=command or OTELWIRE,
            ).start(timeout=300)
            assert operator.process is not None
            pids = {"operator": operator.process.pid, "baseline": baseline.pid}
            time.sleep(IDLE_SETTLE)
            rss = settle(pids)
            restart = {
                "pods": made,
                "restart": label,
                "list_chunk_size": int(os.environ.get("OTELWIRE_LIST_CHUNK_SIZE", PAGE)),
                "environment": env,
                "launcher": " ".join(command[1:]) if command else None,
                "operator_mb": rss["operator"],
                "baseline_mb": rss["baseline"],
                "operator_peak_mb": hwm_mb(pids["operator"]),
                "baseline_peak_mb": hwm_mb(pids["baseline"]),
            }
            restarts.append(restart)
            print(
                f"{label}: operator {rss['operator']:.1f} MB (peak {restart['operator_peak_mb']:.1f}), "
                f"bare kopf {rss['baseline']:.1f} MB (peak {restart['baseline_peak_mb']:.1f})",
                flush=True,
            )
        for name in ("OTELWIRE_LIST_CHUNK_SIZE", "OTELWIRE_WORKER_IDLE_TIMEOUT"):
            os.environ.pop(name, None)
    except (
        KeyboardInterrupt
    ):  # Ctrl-C or SIGTERM (tests/plane/processes.py turns it into this): report what was measured
        notes.append(f"interrupted after {len(steps)} step(s); later pod counts not measured")
    finally:
        if operator is not None:
            operator.stop()
        if baseline is not None:
            stop_process(baseline)
        plane.stop()
        collector.close()
    last = steps[-1] if steps else {}
    targets = {
        "idle_le_80mb": bool(idle and idle["operator"] <= 80),
        "services_1000_pods_10000_le_150mb": (
            bool(last.get("pods") == 10000 and last["operator_mb"] <= 150) if last.get("pods") == 10000 else None
        ),
        "services_1000_pods_10000_le_150mb_after_restart": (
            all(r["operator_mb"] <= 150 for r in restarts if r["restart"] == SHIPPED)
            if last.get("pods") == 10000 and restarts
            else None
        ),
    }
    report = {
        "benchmark": "memory",
        "timestamp": stamp,
        "machine": info,
        "services": services,
        "reassess_interval": args.reassess_interval,
        "idle": idle,
        "steps": steps,
        "restarts": restarts,
        "targets": targets,
        "notes": notes,
    }
    written = recording.record("memory", report, quick=args.quick, output=args.output)
    print()
    print(f"{'state':<28} {'otelwire MB':>12} {'bare kopf MB':>13} {'delta MB':>9}")
    print(
        f"{'idle':<28} {idle.get('operator', 0):>12.1f} {idle.get('baseline', 0):>13.1f} "
        f"{idle.get('operator', 0) - idle.get('baseline', 0):>9.1f}"
    )
    for s in steps:
        label = f"{services} msvc + {s['pods']} pods"
        print(
            f"{label:<28} {s['operator_mb']:>12.1f} {s['baseline_mb']:>13.1f} "
            f"{s['operator_mb'] - s['baseline_mb']:>9.1f}"
        )
    for r in restarts:
        label = f"{r['restart']}"[:28]
        print(
            f"{label:<28} {r['operator_mb']:>12.1f} {r['baseline_mb']:>13.1f} "
            f"{r['operator_mb'] - r['baseline_mb']:>9.1f}   peaks {r['operator_peak_mb']:.1f} / {r['baseline_peak_mb']:.1f}"
        )
    print(f"targets: {targets}")
    for note in notes:
        print(f"note: {note}")
    print(f"\nresults: {written}")
    if not args.no_plot and steps:
        drawn = recording.figure("memory", written, DOCS / "memory.png")
        plot(steps, idle, drawn)
        print(f"plot: {drawn}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
