"""Convergence benchmark: N MonitoredServices + N Deployments applied at once, time until all are Ready.

    .venv/bin/python bench/convergence.py                     # sizes 1000,5000
    .venv/bin/python bench/convergence.py --sizes 1000        # one size
    .venv/bin/python bench/convergence.py --quick             # sizes 100 (smoke)

A real control plane (``tests/plane.py``'s ``LocalPlane``) with the full
controller manager, the scheduler and kwok fake Nodes is started once, the CRD
applied and a loopback OTLP/HTTP collector started (so ``CollectorReachable``
holds).  For each size N, in a fresh namespace:

* baseline (same run, operator not running): N MonitoredServices are created,
  then a bare client loop (the python kubernetes client, 8 threads like the
  operator's workers) merge-patches ``/status`` of each with a fixed Ready
  condition; its wall time is the baseline.  The namespace is then deleted.
* operator: ``otelwire run`` is started (``--reassess-interval 10``), then N
  MonitoredServices (webhook mode, each selecting its own Deployment, endpoint
  = the loopback collector with ``allowLoopback``) and N Deployments with
  ``replicas: 1`` are created at once (16 client threads, interleaved).  The
  clock starts before the first create; the MonitoredServices are listed
  once per second until every one has ``observedGeneration == generation``
  ("status") and ``Ready=True`` ("ready"), or the size's timeout.

Table to stdout, JSON to ``bench/results/convergence-<timestamp>.json`` and
``convergence-latest.json``, plot to ``docs/convergence.png``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

import kubernetes  # noqa: E402
from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api, CustomObjectsApi  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402
from plane import LocalPlane  # noqa: E402
from reconcile.harness import Collector, Operator, deployment, install_crd, monitored_service  # noqa: E402

RESULTS = HERE / "results"
DOCS = ROOT / "docs"
GROUP, VERSION, PLURAL = "otelwire.io", "v1alpha1", "monitoredservices"
PODS_PER_NODE = 110
CREATE_THREADS = 16
BASELINE_THREADS = 8


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "loadavg_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def client(kubeconfig: Path, pool: int = 32) -> ApiClient:
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    configuration.connection_pool_maxsize = pool
    return ApiClient(configuration)


def run_parallel(jobs: Iterable[Callable[[], Any]], threads: int) -> list[str]:
    """Run callables on a pool; return the error strings (bounded by the job count)."""
    errors: list[str] = []

    def guarded(job: Callable[[], Any]) -> None:
        try:
            job()
        except ApiException as error:
            errors.append(f"{error.status} {error.reason}")

    pool = ThreadPoolExecutor(threads)
    try:
        list(pool.map(guarded, jobs))
    finally:  # on Ctrl-C, drop the queued jobs instead of running them all
        pool.shutdown(wait=True, cancel_futures=True)
    return errors


def create_namespace(api: ApiClient, name: str) -> None:
    core = CoreV1Api(api)
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # pods need the default ServiceAccount
        try:
            core.read_namespaced_service_account("default", name)
            return
        except ApiException:
            time.sleep(0.2)
    raise RuntimeError(f"no default ServiceAccount in {name}")


def delete_namespace(api: ApiClient, name: str, timeout: float = 300.0) -> None:
    core = CoreV1Api(api)
    try:
        core.delete_namespace(name)
    except ApiException as error:
        if error.status != 404:
            raise
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            core.read_namespace(name)
        except ApiException as error:
            if error.status == 404:
                return
        except Exception:  # the plane is gone (interrupted run): nothing left to wait for
            return
        time.sleep(1)


def list_msvcs(api: ApiClient, namespace: str) -> list[dict[str, Any]]:
    found = CustomObjectsApi(api).list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    return list(found["items"])


def count_states(items: list[dict[str, Any]]) -> tuple[int, int]:
    observed = ready = 0
    for item in items:
        status = item.get("status") or {}
        if status.get("observedGeneration") == item["metadata"].get("generation"):
            observed += 1
        for cond in status.get("conditions") or []:
            if cond.get("type") == "Ready" and cond.get("status") == "True":
                ready += 1
    return observed, ready


def baseline(api: ApiClient, n: int, endpoint: str) -> dict[str, Any]:
    """Create N MonitoredServices (no operator running), then time a bare loop patching each status."""
    namespace = f"baseline-{n}"
    create_namespace(api, namespace)
    custom = CustomObjectsApi(api)
    names = [f"svc-{i:05d}" for i in range(n)]
    errors = run_parallel(
        (
            (
                lambda name=name: custom.create_namespaced_custom_object(
                    GROUP, VERSION, namespace, PLURAL, monitored_service(name, namespace, endpoint)
                )
            )
            for name in names
        ),
        CREATE_THREADS,
    )
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {
        "status": {
            "observedGeneration": 1,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Instrumented",
                    "message": "baseline",
                    "lastTransitionTime": now,
                    "observedGeneration": 1,
                }
            ],
        }
    }
    begin = time.monotonic()
    errors += run_parallel(
        (
            (
                lambda name=name: custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, namespace, PLURAL, name, body
                )
            )
            for name in names
        ),
        BASELINE_THREADS,
    )
    seconds = time.monotonic() - begin
    _, ready = count_states(list_msvcs(api, namespace))
    CustomObjectsApi(api).delete_collection_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    delete_namespace(api, namespace)
    return {"seconds": seconds, "ready": ready, "errors": errors[:10], "error_count": len(errors)}


def operator_run(
    plane: LocalPlane, api: ApiClient, n: int, endpoint: str, workdir: Path, timeout: float, cleanup: bool = True
) -> dict[str, Any]:
    namespace = f"converge-{n}"
    create_namespace(api, namespace)
    op = Operator(plane, workdir, interval=10.0)
    op.start(timeout=120)
    custom, apps = CustomObjectsApi(api), AppsV1Api(api)
    names = [f"svc-{i:05d}" for i in range(n)]
    # As one file would list them: the MonitoredServices first, then the Deployments.  A pod the
    # API server admits before the operator has indexed its MonitoredService is not injected;
    # restartOutdated lets the operator roll such a Deployment, as a user applying both at once would.
    spec = {"injection": {"mode": "webhook", "restartOutdated": True}}
    jobs: list[Callable[[], Any]] = [
        lambda name=name: custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, monitored_service(name, namespace, endpoint, **spec)
        )
        for name in names
    ]
    jobs += [
        lambda name=name: apps.create_namespaced_deployment(namespace, deployment(name, namespace, 1)) for name in names
    ]
    samples: list[dict[str, float]] = []
    result: dict[str, Any] = {"n": n, "namespace": namespace}
    try:
        begin = time.monotonic()
        with ThreadPoolExecutor(1) as creator:
            created = creator.submit(run_parallel, jobs, CREATE_THREADS)
            status_at = ready_at = pods_at = None
            applied_at = None
            deadline = begin + timeout
            while time.monotonic() < deadline:
                tick = time.monotonic()
                if applied_at is None and created.done():
                    applied_at = tick - begin
                items = list_msvcs(api, namespace)
                observed, ready = count_states(items)
                running = _running_pods(api, namespace)
                samples.append(
                    {
                        "t": round(tick - begin, 2),
                        "listed": len(items),
                        "status": observed,
                        "ready": ready,
                        "pods_running": running,
                    }
                )
                print(
                    f"  t={tick - begin:6.1f}s listed={len(items)} status={observed} ready={ready} "
                    f"pods_running={running}",
                    flush=True,
                )
                if running >= n and pods_at is None:
                    pods_at = time.monotonic() - begin
                if len(items) == n and observed == n and status_at is None:
                    status_at = time.monotonic() - begin
                if len(items) == n and ready == n:
                    ready_at = time.monotonic() - begin
                    break
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
            errors = created.result()
        result.update(
            applied_seconds=applied_at,
            status_seconds=status_at,
            pods_running_seconds=pods_at,
            ready_seconds=ready_at,
            timed_out=ready_at is None,
            timeout=timeout,
            create_errors=errors[:10],
            create_error_count=len(errors),
            samples=samples,
            operator_rss_kb=_rss_kb(op.process.pid if op.process else 0),
        )
    finally:
        op.stop()
        result["operator_log_tail"] = op.tail(15)
    if cleanup:
        # The operator is stopped: take its finalizers off, or the namespace never goes.
        drop = {"metadata": {"finalizers": None}}
        run_parallel(
            (
                (lambda name=name: custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, drop))
                for name in names
            ),
            CREATE_THREADS,
        )
        delete_namespace(api, namespace, timeout=300)
    return result


def _running_pods(api: ApiClient, namespace: str) -> int:
    pods = CoreV1Api(api).list_namespaced_pod(namespace, field_selector="status.phase=Running", _preload_content=False)
    return len(json.loads(pods.data)["items"])


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Left: N vs seconds (a size that timed out is drawn at its timeout, hollow). Right: progress over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, progress) = plt.subplots(1, 2, figsize=(11, 4.2))
    sizes = [r["n"] for r in results]

    def series(key: str) -> list[float]:
        return [r.get(key) if r.get(key) is not None else float("nan") for r in results]

    ax.plot(sizes, series("ready_seconds"), "o-", label="otelwire: all Ready")
    ax.plot(sizes, series("status_seconds"), "s--", label="otelwire: all status observed")
    ax.plot(sizes, series("pods_running_seconds"), "x:", label="plane: all pods Running (kwok)")
    base = [r["baseline_seconds"] for r in results]
    ax.plot(sizes, base, "^-", label="baseline: bare status-patch loop (8 threads)")
    ax.plot(sizes, [3 * b for b in base], ":", color="grey", label="3x baseline")
    timed_out = [r for r in results if r.get("ready_seconds") is None]
    if timed_out:
        ax.plot(
            [r["n"] for r in timed_out],
            [r.get("timeout", 0) for r in timed_out],
            "o",
            markerfacecolor="none",
            markersize=10,
            color="C0",
            label="not all Ready by the timeout",
        )
    ax.axhline(60, color="red", linewidth=0.8, label="60 s target")
    ax.set_xlabel("MonitoredServices (+ as many Deployments, 1 pod each)")
    ax.set_ylabel("seconds from first create")
    ax.set_title("Time to converge")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    for i, r in enumerate(results):
        samples = r.get("samples") or []
        if not samples:
            continue
        n, t = r["n"], [s["t"] for s in samples]
        color = f"C{i}"
        progress.plot(t, [100 * s["ready"] / n for s in samples], "-", color=color, label=f"N={n}: Ready")
        progress.plot(t, [100 * s["status"] / n for s in samples], "--", color=color, label=f"N={n}: status observed")
        progress.plot(t, [100 * s["pods_running"] / n for s in samples], ":", color=color, label=f"N={n}: pods Running")
    progress.axvline(60, color="red", linewidth=0.8)
    progress.set_xlabel("seconds from first create")
    progress.set_ylabel("% of N")
    progress.set_title("Progress (one list per second)")
    progress.legend(fontsize=7)
    progress.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,5000", help="comma-separated N (default 1000,5000)")
    parser.add_argument("--quick", action="store_true", help="sizes 100 only")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per size before giving up")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--plot-only", type=Path, help="redraw docs/convergence.png from a results JSON and exit")
    args = parser.parse_args(argv)
    if args.plot_only:
        plot(json.loads(args.plot_only.read_text())["results"], DOCS / "convergence.png")
        return 0
    sizes = [100] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    info = machine()
    print(f"machine: {info}", flush=True)
    results: list[dict[str, Any]] = []
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    collector = Collector()
    workdir = Path(tempfile.mkdtemp(prefix="otelwire-converge-"))
    plane = LocalPlane()
    try:
        plane.start()
        nodes = math.ceil(max(sizes) / PODS_PER_NODE) + 1
        plane.start_nodes(nodes)
        install_crd(plane)
        api = client(plane.kubeconfig)
        for n in sizes:
            print(f"== N={n}: baseline", flush=True)
            base = baseline(api, n, collector.endpoint)
            print(
                f"   baseline {base['seconds']:.1f}s ({base['ready']} Ready, {base['error_count']} errors)", flush=True
            )
            print(f"== N={n}: operator", flush=True)
            try:
                run = operator_run(plane, api, n, collector.endpoint, workdir, args.timeout, cleanup=n != sizes[-1])
            except Exception as error:  # a size that does not fit is reported, not fatal
                run = {"n": n, "error": repr(error), "ready_seconds": None, "status_seconds": None, "timed_out": True}
            run["baseline_seconds"] = base["seconds"]
            run["baseline"] = base
            ready = run.get("ready_seconds")
            run["ratio"] = ready / base["seconds"] if ready else None
            run["meets_60s"] = bool(ready is not None and ready <= 60)
            run["meets_3x"] = bool(run["ratio"] is not None and run["ratio"] <= 3)
            results.append(run)
    finally:
        plane.stop()
        collector.close()
    report = {"benchmark": "convergence", "timestamp": stamp, "machine": info, "nodes": nodes, "results": results}
    RESULTS.mkdir(exist_ok=True)
    for path in (RESULTS / f"convergence-{stamp}.json", RESULTS / "convergence-latest.json"):
        path.write_text(json.dumps(report, indent=2) + "\n")
    print()
    print(
        f"{'N':>6} {'applied s':>10} {'status s':>9} {'ready s':>8} {'baseline s':>11} {'ratio':>6} "
        f"{'<=60s':>6} {'<=3x':>5}"
    )
    for r in results:

        def f(v: Any) -> str:
            return f"{v:.1f}" if isinstance(v, float) else "-"

        print(
            f"{r['n']:>6} {f(r.get('applied_seconds')):>10} {f(r.get('status_seconds')):>9} "
            f"{f(r.get('ready_seconds')):>8} {f(r['baseline_seconds']):>11} {f(r.get('ratio')):>6} "
            f"{'yes' if r['meets_60s'] else 'no':>6} {'yes' if r['meets_3x'] else 'no':>5}"
        )
    print(f"\nresults: {RESULTS / f'convergence-{stamp}.json'}")
    if not args.no_plot and results:
        plot(results, DOCS / "convergence.png")
        print(f"plot: {DOCS / 'convergence.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
