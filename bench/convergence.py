"""Convergence benchmark: N MonitoredServices + N Deployments applied at once, time until all are Ready.

    .venv/bin/python bench/convergence.py                     # sizes 1000,5000
    .venv/bin/python bench/convergence.py --sizes 1000        # one size
    .venv/bin/python bench/convergence.py --quick             # sizes 100 (smoke)

A real control plane (``tests/plane/``'s ``LocalPlane``) with the full
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
  clock starts before the first create and stops when every MonitoredService
  has ``observedGeneration == generation`` ("status") and ``Ready=True``
  ("ready"), or at the size's timeout.

Observing must not load the API server it measures (on 2 cores it is the
bottleneck), so nothing is listed per tick: before the clock starts, one LIST
then a WATCH of the namespace's MonitoredServices and one of its pods run in
background threads (resuming from the last resourceVersion when the server
ends a watch, re-listing on ``410 Gone`` or a broken stream), each reduced
to a small per-name state -- (status observed, Ready) per MonitoredService,
phase per pod.  The "status", "ready" and "all pods Running" times are those
of the watch events that completed them; the once-per-second progress line
and ``samples`` are read from that state.  A Ready=True that turns back to
not-True is counted (``ready_regressions``).  The operator's CPU time
(``/proc/<pid>/stat`` utime + stime) is recorded at the start of the clock
and at the end.

Table to stdout, JSON to ``bench/results/convergence.json`` (the reference;
see ``recording``), plot to ``docs/convergence.png``.  ``--tunings`` also runs
the operator with each kopf tuning undone (``bench/tunings.py``) and then as
shipped once more, so the difference can be read against the spread.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import json
import math
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))

import kubernetes  # noqa: E402
import recording  # noqa: E402
from kubernetes.client import ApiClient, AppsV1Api, CoreV1Api, CustomObjectsApi  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402
from plane import LocalPlane  # noqa: E402
from reconcile.harness import Collector, Operator, deployment, install_crd, monitored_service  # noqa: E402

DOCS = ROOT / "docs"
GROUP, VERSION, PLURAL = "otelwire.io", "v1alpha1", "monitoredservices"
PODS_PER_NODE = 110
OTELWIRE = (sys.executable, "-m", "otelwire.cli.main")  # the operator as shipped
# --tunings: the operator as shipped but for one kopf tuning undone (bench/tunings.py): a command and
# the environment it adds.
TUNINGS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "kopf-storages": ((sys.executable, str(HERE / "tunings.py"), "kopf-storages"), {}),
    "idle-workers-5s": (OTELWIRE, {"OTELWIRE_WORKER_IDLE_TIMEOUT": "5"}),
}
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


class Watched:
    """One namespaced collection, LISTed once then WATCHed in a background thread, reduced per name.

    ``request(**kwargs)`` is the generated client's list call for the collection (it is
    called with ``_preload_content=False`` and, to watch, ``watch=True``); ``reduce`` turns
    an object into the small value kept for its name.  Subclasses keep counters in
    :meth:`changed`, which runs under :attr:`lock` for every value that changes.
    """

    WATCH_SECONDS = 290  # the server ends a watch after this; it is resumed from the last resourceVersion

    def __init__(self, what: str, request: Callable[..., Any]) -> None:
        self.what = what
        self.request = request
        self.state: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.synced = threading.Event()
        self.stopping = threading.Event()
        self.stats = {"lists": 0, "watches": 0, "events": 0, "gone": 0, "errors": 0}
        self.last_error: str | None = None
        self._response: Any = None
        self._thread = threading.Thread(target=self._run, name=f"watch-{what}", daemon=True)

    def reduce(self, obj: dict[str, Any]) -> Any:
        raise NotImplementedError

    def changed(self, name: str, old: Any, new: Any) -> None:
        """``old``/``new`` are None when the name was absent/is gone."""

    def start(self, timeout: float = 60.0) -> Watched:
        self._thread.start()
        if not self.synced.wait(timeout):
            self.stop()
            raise RuntimeError(f"no initial list of {self.what} within {timeout:.0f}s: {self.last_error}")
        return self

    def stop(self) -> None:
        self.stopping.set()
        response = self._response
        if response is not None:
            with contextlib.suppress(Exception):
                response.shutdown()  # unblocks the watch thread's read
        if self._thread.ident is not None:
            self._thread.join(10)

    def _set(self, name: str, value: Any) -> None:
        old = self.state.get(name)
        if value is None:
            self.state.pop(name, None)
        else:
            self.state[name] = value
        if old != value:
            self.changed(name, old, value)

    def _run(self) -> None:
        version: str | None = None
        while not self.stopping.is_set():
            try:
                if version is None:
                    version = self._list()
                version = self._watch(version)
            except Exception as error:
                if self.stopping.is_set():
                    return
                version = None  # start over from a fresh list
                if isinstance(error, ApiException) and error.status == 410:
                    self.stats["gone"] += 1
                else:
                    self.stats["errors"] += 1
                    self.last_error = repr(error)[:300]
                    self.stopping.wait(1.0)

    def _list(self) -> str:
        response = self.request(_preload_content=False, _request_timeout=120)
        body = json.loads(response.data)
        self.stats["lists"] += 1
        fresh = {item["metadata"]["name"]: self.reduce(item) for item in body.get("items") or []}
        with self.lock:
            for name in set(self.state) - set(fresh):
                self._set(name, None)
            for name, value in fresh.items():
                self._set(name, value)
        self.synced.set()
        return str(body["metadata"]["resourceVersion"])

    def _watch(self, version: str) -> str | None:
        """Follow one watch from ``version``; the last resourceVersion seen, or None to re-list."""
        response = self.request(
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=self.WATCH_SECONDS,
            _preload_content=False,
            _request_timeout=(30, self.WATCH_SECONDS + 60),
        )
        self._response = response
        self.stats["watches"] += 1
        try:
            for line in _lines(response):
                if self.stopping.is_set():
                    break
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        self.stats["gone"] += 1
                        return None
                    raise RuntimeError(f"watch of {self.what}: {obj.get('reason')}: {obj.get('message')}")
                metadata = obj.get("metadata") or {}
                version = str(metadata.get("resourceVersion") or version)
                if kind == "BOOKMARK":
                    continue
                self.stats["events"] += 1
                value = None if kind == "DELETED" else self.reduce(obj)
                with self.lock:
                    self._set(metadata["name"], value)
        finally:
            self._response = None
            response.close()
            response.release_conn()
        return version


def _lines(response: Any) -> Iterable[bytes]:
    """The non-empty newline-separated lines of a streaming watch response."""
    pending = b""
    for chunk in response.stream(amt=None, decode_content=False):
        pending += chunk
        if b"\n" in chunk:
            *lines, pending = pending.split(b"\n")
            yield from (line for line in lines if line)
    if pending.strip():
        yield pending


class Service(NamedTuple):
    observed: bool  # status.observedGeneration == metadata.generation
    ready: bool  # the Ready condition is True
    reason: str
    message: str


def service_state(item: dict[str, Any]) -> Service:
    status = item.get("status") or {}
    ready: dict[str, Any] = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), {})
    return Service(
        observed=status.get("observedGeneration") == item["metadata"].get("generation"),
        ready=ready.get("status") == "True",
        reason=str(ready.get("reason") or ""),
        message=str(ready.get("message") or ""),
    )


class WatchedServices(Watched):
    """The MonitoredServices of a namespace: how many are listed, observed, Ready; when all N first were."""

    def __init__(self, api: ApiClient, namespace: str, n: int) -> None:
        custom = CustomObjectsApi(api)
        super().__init__(
            "monitoredservices",
            lambda **kwargs: custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, **kwargs),
        )
        self.n = n
        self.observed = self.ready = 0
        self.reached: dict[str, float] = {}  # "status"/"ready" -> time.monotonic() it first held for all N
        self.all_ready = threading.Event()
        self.regressions: list[tuple[float, str, Service]] = []  # Ready True -> not True, as seen

    def reduce(self, obj: dict[str, Any]) -> Service:
        return service_state(obj)

    def changed(self, name: str, old: Service | None, new: Service | None) -> None:
        if old is not None:
            self.observed -= old.observed
            self.ready -= old.ready
        if new is not None:
            self.observed += new.observed
            self.ready += new.ready
            if old is not None and old.ready and not new.ready:
                self.regressions.append((time.monotonic(), name, new))
        if len(self.state) == self.n:
            if self.observed == self.n:
                self.reached.setdefault("status", time.monotonic())
            if self.ready == self.n:
                self.reached.setdefault("ready", time.monotonic())
                self.all_ready.set()

    def counts(self) -> tuple[int, int, int]:
        with self.lock:
            return len(self.state), self.observed, self.ready


class WatchedPods(Watched):
    """The pods of a namespace by phase: how many are Running; when N first were."""

    def __init__(self, api: ApiClient, namespace: str, n: int) -> None:
        core = CoreV1Api(api)
        super().__init__("pods", lambda **kwargs: core.list_namespaced_pod(namespace, **kwargs))
        self.n = n
        self.running = 0
        self.reached: dict[str, float] = {}

    def reduce(self, obj: dict[str, Any]) -> str:
        return str((obj.get("status") or {}).get("phase") or "")

    def changed(self, name: str, old: str | None, new: str | None) -> None:
        self.running += (new == "Running") - (old == "Running")
        if self.running >= self.n:
            self.reached.setdefault("running", time.monotonic())


def creating(custom: CustomObjectsApi, namespace: str, body: dict[str, Any]) -> Callable[[], Any]:
    """A job creating the MonitoredService ``body`` (for ``run_parallel``)."""
    return functools.partial(custom.create_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, body)


def baseline(api: ApiClient, n: int, endpoint: str) -> dict[str, Any]:
    """Create N MonitoredServices (no operator running), then time a bare loop patching each status."""
    namespace = f"baseline-{n}"
    create_namespace(api, namespace)
    custom = CustomObjectsApi(api)
    names = [f"svc-{i:05d}" for i in range(n)]
    errors = run_parallel(
        (creating(custom, namespace, monitored_service(name, namespace, endpoint)) for name in names),
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
                functools.partial(
                    custom.patch_namespaced_custom_object_status, GROUP, VERSION, namespace, PLURAL, name, body
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


def plane_floor(plane: LocalPlane, api: ApiClient, n: int, timeout: float) -> dict[str, Any]:
    """Same run, no operator: N Deployments alone, time until all their pods are Running.

    What the plane itself needs (controllers, scheduler, kwok on the same cores); no
    MonitoredService can be Ready before its pods exist, so this is the floor of "all Ready".
    """
    namespace = f"floor-{n}"
    create_namespace(api, namespace)
    apps = AppsV1Api(api)
    names = [f"svc-{i:05d}" for i in range(n)]
    watch_api = client(plane.kubeconfig, pool=4)
    pods = WatchedPods(watch_api, namespace, n)
    try:
        pods.start()
        requests_before = api_requests(api)
        cpu_before = components_cpu(plane)
        begin = time.monotonic()
        errors = run_parallel(
            (
                functools.partial(apps.create_namespaced_deployment, namespace, deployment(name, namespace, 1))
                for name in names
            ),
            CREATE_THREADS,
        )
        deadline = begin + timeout
        while pods.reached.get("running") is None and time.monotonic() < deadline:
            time.sleep(0.5)
        running_at = pods.reached.get("running")
        cpu = cpu_delta(cpu_before, components_cpu(plane))
        requests = request_delta(requests_before, api_requests(api), n)
    finally:
        pods.stop()
        watch_api.close()
    delete_namespace(api, namespace, timeout=600)
    return {
        "seconds": None if running_at is None else round(running_at - begin, 3),
        "running": pods.running,
        "error_count": len(errors),
        # Same accounting as the operator run's: what the plane alone costs, to subtract.
        "cpu_seconds_during_run": cpu,
        "api_requests": requests,
    }


WEBHOOK_METRIC = "apiserver_admission_webhook_admission_duration_seconds"


def webhook_histogram(api: ApiClient) -> dict[str, float]:
    """The API server's histogram of mutating-webhook calls (all webhooks, all operations): le -> count, sum."""
    found: dict[str, float] = {}
    for line in _metrics_text(api).splitlines():
        if not line.startswith(WEBHOOK_METRIC) or 'type="admit"' not in line:
            continue
        name, _, value = line.rpartition(" ")
        if name.startswith(WEBHOOK_METRIC + "_bucket"):
            le = name.split('le="', 1)[1].split('"', 1)[0]
            found[le] = found.get(le, 0.0) + float(value)
        elif name.startswith(WEBHOOK_METRIC + "_sum"):
            found["sum"] = found.get("sum", 0.0) + float(value)
        elif name.startswith(WEBHOOK_METRIC + "_count"):
            found["count"] = found.get("count", 0.0) + float(value)
    return found


REQUEST_METRIC = "apiserver_request_total{"


def _metrics_text(api: ApiClient) -> str:
    response = api.call_api("GET", f"{api.configuration.host}/metrics", header_params={"Accept": "text/plain"})
    response.read()
    return response.data.decode() if isinstance(response.data, bytes) else str(response.data)


def api_requests(api: ApiClient) -> dict[str, float]:
    """The API server's request counter summed by "VERB resource[/subresource]" (all clients, all codes)."""
    found: dict[str, float] = {}
    for line in _metrics_text(api).splitlines():
        if not line.startswith(REQUEST_METRIC):
            continue
        name, _, value = line.rpartition(" ")
        labels = dict(part.split("=", 1) for part in name[len(REQUEST_METRIC) : -1].split(",") if "=" in part)
        resource = labels.get("resource", '""').strip('"')
        sub = labels.get("subresource", '""').strip('"')
        key = f"{labels.get('verb', '').strip(chr(34))} {resource}{'/' + sub if sub else ''}"
        found[key] = found.get(key, 0.0) + float(value)
    return found


def request_delta(before: dict[str, float], after: dict[str, float], n: int) -> dict[str, Any]:
    """Requests during the run, largest first, with the count per service (of N)."""
    delta = {key: after[key] - before.get(key, 0.0) for key in after}
    rows = sorted(((k, int(v)) for k, v in delta.items() if v >= 1), key=lambda kv: -kv[1])
    return {key: {"count": count, "per_service": round(count / n, 2)} for key, count in rows}


def components_cpu(plane: LocalPlane, operator_pid: int | None = None) -> dict[str, float | None]:
    """CPU seconds so far of every plane component and (given its pid) of the operator."""
    found = {name: _cpu_seconds(pid) for name, pid in plane.pids().items()}
    if operator_pid is not None:
        found["otelwire"] = _cpu_seconds(operator_pid)
    return found


def cpu_delta(before: dict[str, float | None], after: dict[str, float | None]) -> dict[str, float]:
    """CPU seconds each component used between two ``components_cpu`` readings (both read)."""
    return {
        name: round(later - earlier, 2)
        for name, later in after.items()
        if later is not None and (earlier := before.get(name)) is not None
    }


def webhook_latency(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """Webhook calls during the run as the API server timed them: count, mean, and bucket bounds of p50/p90/p99."""
    delta = {key: after.get(key, 0.0) - before.get(key, 0.0) for key in after}
    count = delta.get("count", 0.0)
    buckets = sorted(((float(le), n) for le, n in delta.items() if le not in ("sum", "count")), key=lambda b: b[0])
    result: dict[str, Any] = {
        "calls": int(count),
        "mean_ms": round(1000 * delta.get("sum", 0.0) / count, 1) if count else None,
        "buckets": {str(le): int(n) for le, n in buckets},
    }
    for q in (0.5, 0.9, 0.99):
        bound = next((le for le, n in buckets if count and n >= q * count), None)
        result[f"p{round(q * 100)}_le_ms"] = None if bound is None else round(1000 * bound, 1)
    return result


def operator_run(
    plane: LocalPlane,
    api: ApiClient,
    n: int,
    endpoint: str,
    workdir: Path,
    timeout: float,
    cleanup: bool = True,
    variant: str = "shipped",
) -> dict[str, Any]:
    namespace = f"converge-{n}" if variant == "shipped" else f"converge-{n}-{variant}"
    create_namespace(api, namespace)
    command, env = TUNINGS.get(variant.removesuffix("-again"), (OTELWIRE, {}))
    op = Operator(plane, workdir, interval=10.0, verbose=False, command=command, env={**os.environ, **env})
    op.start(timeout=120)
    custom, apps = CustomObjectsApi(api), AppsV1Api(api)
    names = [f"svc-{i:05d}" for i in range(n)]
    # As one file would list them: the MonitoredServices first, then the Deployments.  A pod the
    # API server admits before the operator has indexed its MonitoredService is not injected;
    # restartOutdated lets the operator roll such a Deployment, as a user applying both at once would.
    spec = {"injection": {"mode": "webhook", "restartOutdated": True}}
    jobs: list[Callable[[], Any]] = [
        creating(custom, namespace, monitored_service(name, namespace, endpoint, **spec)) for name in names
    ]
    jobs += [
        functools.partial(apps.create_namespaced_deployment, namespace, deployment(name, namespace, 1))
        for name in names
    ]
    samples: list[dict[str, float]] = []
    result: dict[str, Any] = {"n": n, "namespace": namespace, "variant": variant}
    pid = op.process.pid if op.process else 0
    watch_api = client(plane.kubeconfig, pool=4)
    services = WatchedServices(watch_api, namespace, n)
    pods = WatchedPods(watch_api, namespace, n)
    try:
        services.start()
        pods.start()
        webhook_before = webhook_histogram(api)
        requests_before = api_requests(api)
        cpu_at_start = _cpu_seconds(pid)
        components_before = components_cpu(plane, pid)
        begin = time.monotonic()
        with ThreadPoolExecutor(1) as creator:
            created = creator.submit(run_parallel, jobs, CREATE_THREADS)
            applied: list[float] = []
            created.add_done_callback(lambda _: applied.append(time.monotonic()))
            deadline = begin + timeout
            while time.monotonic() < deadline:
                tick = time.monotonic()
                listed, observed, ready = services.counts()
                running = pods.running
                samples.append(
                    {
                        "t": round(tick - begin, 2),
                        "listed": listed,
                        "status": observed,
                        "ready": ready,
                        "pods_running": running,
                    }
                )
                print(
                    f"  t={tick - begin:6.1f}s listed={listed} status={observed} ready={ready} pods_running={running}",
                    flush=True,
                )
                if services.all_ready.is_set():
                    break
                # Wake at the next second, or as soon as the last one turns Ready (one more sample, then out).
                services.all_ready.wait(max(0.0, 1.0 - (time.monotonic() - tick)))
            errors = created.result()
        cpu_at_end = _cpu_seconds(pid)
        components_after = components_cpu(plane, pid)
        webhook = webhook_latency(webhook_before, webhook_histogram(api))
        requests = request_delta(requests_before, api_requests(api), n)

        def since(moment: float | None) -> float | None:
            return None if moment is None else round(moment - begin, 3)

        ready_at = since(services.reached.get("ready"))
        pods_at = since(pods.reached.get("running"))
        result.update(
            applied_seconds=since(applied[0] if applied else None),
            status_seconds=since(services.reached.get("status")),
            pods_running_seconds=pods_at,
            ready_seconds=ready_at,
            ready_after_pods_seconds=(
                round(ready_at - pods_at, 3) if ready_at is not None and pods_at is not None else None
            ),
            timed_out=ready_at is None,
            timeout=timeout,
            create_errors=errors[:10],
            create_error_count=len(errors),
            ready_regressions=len(services.regressions),
            ready_regression_examples=[
                {"t": since(moment), "name": name, "reason": state.reason, "message": state.message[:200]}
                for moment, name, state in services.regressions[:10]
            ],
            samples=samples,
            operator_rss_kb=_rss_kb(pid),
            operator_cpu_seconds=cpu_at_end,
            operator_cpu_seconds_at_start=cpu_at_start,
            webhook=webhook,
            api_requests=requests,
            cpu_seconds_during_run=cpu_delta(components_before, components_after),
            watches={w.what: {**w.stats, "last_error": w.last_error} for w in (services, pods)},
        )
    finally:
        services.stop()
        pods.stop()
        watch_api.close()
        op.stop()
        result["operator_log_tail"] = op.tail(15)
        log = op.log_path.read_text(errors="replace")
        # Pods admitted before their service was indexed get nothing; restartOutdated rolls them.
        result["rollout_restarts"] = log.count("to apply the current plan")
        result["operator_log_lines"] = log.count("\n")
    if cleanup:
        # The operator is stopped: take its finalizers off, or the namespace never goes.
        drop = {"metadata": {"finalizers": None}}
        run_parallel(
            (
                functools.partial(custom.patch_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL, name, drop)
                for name in names
            ),
            CREATE_THREADS,
        )
        delete_namespace(api, namespace, timeout=300)
    return result


def variant_summary(run: dict[str, Any]) -> dict[str, Any]:
    """The figures by which the variants of one size are compared."""
    keys = ("status_seconds", "ready_seconds", "operator_cpu_seconds", "operator_rss_kb", "ready_regressions", "error")
    return {key: run.get(key) for key in keys if key in run}


def _cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, in seconds (``/proc/<pid>/stat`` fields 14 and 15)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)
    except (OSError, IndexError, ValueError):
        return None


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """Left: N vs seconds (a size that timed out is drawn at its timeout, hollow). Right: progress over time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, progress) = plt.subplots(1, 2, figsize=(11, 4.2))
    sizes = [r["n"] for r in results]

    def series(key: str) -> list[float]:
        return [float("nan") if r.get(key) is None else float(r[key]) for r in results]

    ax.plot(sizes, series("ready_seconds"), "o-", label="otelwire: all Ready")
    ax.plot(sizes, series("status_seconds"), "s--", label="otelwire: all status observed")
    ax.plot(sizes, series("pods_running_seconds"), "x:", label="plane: all pods Running (kwok)")
    floors = [(r.get("plane_floor") or {}).get("seconds") for r in results]
    if any(f is not None for f in floors):
        ax.plot(
            sizes,
            [f if f is not None else float("nan") for f in floors],
            "d-.",
            label="plane floor: same Deployments, no operator, pods Running",
        )
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
    progress.set_title("Progress (watched, sampled once per second)")
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
    parser.add_argument(
        "--plane-floor",
        type=int,
        default=0,
        metavar="MAX_N",
        help="for sizes up to MAX_N, also time the same Deployments with no operator (the plane's own time)",
    )
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--tunings",
        action="store_true",
        help="per size, also run the operator with each kopf tuning undone, then as shipped again (the spread)",
    )
    parser.add_argument(
        "--output", help="where the JSON goes (default: bench/results/convergence.json; --quick: a temp file)"
    )
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
            floor = None
            if n <= args.plane_floor:
                print(f"== N={n}: plane floor (Deployments, no operator)", flush=True)
                floor = plane_floor(plane, api, n, args.timeout)
                print(f"   all pods Running {_fmt(floor['seconds'])}s ({floor['running']} Running)", flush=True)
                print(f"   CPU seconds during the run: {floor['cpu_seconds_during_run']}", flush=True)
            print(f"== N={n}: operator", flush=True)
            variants = ["shipped", *TUNINGS, "shipped-again"] if args.tunings else ["shipped"]
            runs: dict[str, dict[str, Any]] = {}
            for variant in variants:
                if variant != "shipped":
                    print(f"== N={n}: operator, {variant}", flush=True)
                last = n == sizes[-1] and variant == variants[-1]
                try:
                    runs[variant] = operator_run(
                        plane, api, n, collector.endpoint, workdir, args.timeout, cleanup=not last, variant=variant
                    )
                except Exception as error:  # a size that does not fit is reported, not fatal
                    runs[variant] = {"n": n, "error": repr(error), "ready_seconds": None, "timed_out": True}
                if variant != "shipped":
                    print(f"   {variant}: {variant_summary(runs[variant])}", flush=True)
            run = runs["shipped"]
            if args.tunings:
                run["variants"] = {name: variant_summary(r) for name, r in runs.items()}
            if "error" in run:
                print(f"   error: {run['error']}", flush=True)
            else:
                print(
                    f"   all Ready {_fmt(run['ready_seconds'])}s, all pods Running {_fmt(run['pods_running_seconds'])}s, "
                    f"Ready after pods {_fmt(run['ready_after_pods_seconds'])}s, "
                    f"ready regressions {run['ready_regressions']}, operator CPU {_fmt(run['operator_cpu_seconds'])}s "
                    f"({_fmt(run['operator_cpu_seconds_at_start'])}s before the clock), "
                    f"webhook calls {run['webhook']['calls']} mean {run['webhook']['mean_ms']} ms "
                    f"p50 <= {run['webhook']['p50_le_ms']} ms p99 <= {run['webhook']['p99_le_ms']} ms, "
                    f"rollout restarts {run['rollout_restarts']}, operator log lines {run['operator_log_lines']}",
                    flush=True,
                )
                print(f"   CPU seconds during the run: {run['cpu_seconds_during_run']}", flush=True)
                top = list(run["api_requests"].items())[:12]
                print("   API requests: " + ", ".join(f"{k} {v['count']}" for k, v in top), flush=True)
            run["plane_floor"] = floor
            ready_s = run.get("ready_seconds")
            run["ready_over_plane_floor"] = (
                round(ready_s / floor["seconds"], 3) if floor and floor["seconds"] and ready_s else None
            )
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
    written = recording.record("convergence", report, quick=args.quick, output=args.output)
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
    print(f"\nresults: {written}")
    if not args.no_plot and results:
        drawn = recording.figure("convergence", written, DOCS / "convergence.png")
        plot(results, drawn)
        print(f"plot: {drawn}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
