"""Admission benchmark: otelwire's pod webhook against a no-op aiohttp TLS floor, side by side.

    .venv/bin/python bench/admission.py            # the full run (about 2 minutes on 2 cores)
    .venv/bin/python bench/admission.py --quick    # a few seconds; correctness, not numbers
    .venv/bin/python bench/admission.py --compare-ref HEAD   # also the webhook code of a git ref

What runs, each in its own process, all on 127.0.0.1:

* ``otelwire``: the real server (``otelwire.webhook.serving.start``) with a
  ``Reviewer`` whose lookup is a dict namespace -> the parsed MonitoredServices
  of that namespace (1,000 across 100 namespaces, see ``admission_data``),
  which is the shape kopf's ``msvc_index`` gives;
* ``floor``: a no-op aiohttp handler on the same TLS setup (same certificate,
  same ``ssl_context``, same runner settings) that reads the body, takes the
  request uid out of it (``json.loads``, which any correct webhook must do)
  and returns prebuilt bytes carrying a fixed patch as large as otelwire's
  one-container patch;
* optionally ``otelwire@REF``: the same server built from the webhook files of
  a git ref, for before/after numbers in the same run;
* the load generator: an aiohttp client over TLS with keep-alive, N concurrent
  workers, sending prebuilt AdmissionReviews drawn from a fixed mix of pods.

Per concurrency (1, 8, 64): a warm-up against each target, then rounds in
alternating order (A B, B A, ...) so that machine noise falls on all targets;
percentiles are over all rounds' samples.  Loops are bounded in count and
time.  The table goes to stdout, the JSON to ``bench/results/admission.json``
(the reference; see ``recording``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime
import importlib.util
import itertools
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import admission_data  # noqa: E402
import recording  # noqa: E402

CONCURRENCY = (1, 8, 64)
PHASE_TIMEOUT = 60.0  # seconds: no single phase runs longer, whatever its count
START_TIMEOUT = 30.0


# ------------------------------------------------------------------ profiles


def profile(quick: bool, requests: int | None) -> dict[str, Any]:
    """How much load: ``--quick`` is for checking the machinery, not for numbers."""
    if quick:
        per = {1: 60, 8: 120, 64: 192}
        config: dict[str, Any] = {"pool": 200, "prewarm": 200, "warmup": 32, "rounds": 2, "per": per}
    else:
        per = {1: 2000, 8: 4000, 64: 4000}
        config = {"pool": 2000, "prewarm": 2000, "warmup": 300, "rounds": 5, "per": per}
    if requests is not None:
        config["per"] = dict.fromkeys(CONCURRENCY, requests)
        config["warmup"] = min(config["warmup"], requests)
    return config


# ------------------------------------------------------------------ servers


def _load_webhook_from(directory: Path) -> None:
    """Make ``otelwire.webhook.reviewing``/``serving`` the files in ``directory`` (another version)."""
    import otelwire.webhook  # noqa: F401  (the parent package)

    for name in ("reviewing", "serving"):
        spec = importlib.util.spec_from_file_location(f"otelwire.webhook.{name}", directory / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)


async def _serve_otelwire(cert_dir: Path, impl: Path | None) -> int:
    if impl is not None:
        _load_webhook_from(impl)
    from otelwire.webhook import certificates, serving
    from otelwire.webhook.reviewing import Reviewer

    index = admission_data.build_index()
    reviewer = Reviewer(lambda namespace: index.get(namespace, ()), ("kube-system", "otelwire-system"))
    cert = certificates.from_files(cert_dir / "tls.crt", cert_dir / "tls.key")
    server = await serving.start(reviewer, cert, "127.0.0.1", 0)
    return server.port


def floor_patch() -> str:
    """The floor's fixed patch: otelwire's own for the one-container pod, base64 as sent."""
    from otelwire.webhook.reviewing import Reviewer

    index = admission_data.build_index()
    reviewer = Reviewer(lambda namespace: index.get(namespace, ()))
    pod = admission_data.one_container_pod()
    answer = reviewer.review(admission_data.review(pod, "floor"))
    return str(answer["response"]["patch"])


async def _serve_floor(cert_dir: Path, parse: Callable[[bytes], Any] = json.loads) -> int:
    from aiohttp import web
    from otelwire.webhook import certificates, serving

    patch = floor_patch()
    head = b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":'
    tail = f',"allowed":true,"patchType":"JSONPatch","patch":"{patch}"}}}}'.encode()

    async def mutate(request: web.Request) -> web.Response:
        review = parse(await request.read())
        uid = json.dumps(review["request"]["uid"]).encode()
        return web.Response(body=head + uid + tail, content_type="application/json")

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=serving.MAX_BODY)
    app.router.add_post(serving.MUTATE_PATH, mutate)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    cert = certificates.from_files(cert_dir / "tls.crt", cert_dir / "tls.key")
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=serving.ssl_context(cert), backlog=512)
    await site.start()
    sockets = getattr(site._server, "sockets", None)
    assert sockets
    return int(sockets[0].getsockname()[1])


def serve(
    kind: str,
    cert_dir: Path,
    port_file: Path,
    impl: Path | None,
    max_seconds: float,
    profile_to: Path | None = None,
    loop: str = "asyncio",
) -> int:
    """A server process: start, write the port, serve until SIGTERM (or ``max_seconds``).

    With ``profile_to`` the whole process is sampled by pyinstrument (text and HTML reports).
    """

    async def main() -> None:
        if kind == "floor":
            port = await _serve_floor(cert_dir)
        elif kind == "floor-orjson":
            import orjson

            port = await _serve_floor(cert_dir, orjson.loads)
        else:
            port = await _serve_otelwire(cert_dir, impl)
        port_file.write_text(str(port))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), max_seconds)

    profiler = None
    if profile_to is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
    if loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(main())
    else:
        asyncio.run(main())
    if profiler is not None and profile_to is not None:
        profiler.stop()
        profile_to.with_suffix(".txt").write_text(profiler.output_text(unicode=True, show_all=False))
        profile_to.with_suffix(".html").write_text(profiler.output_html())
    return 0


# ------------------------------------------------------------------ load generator


def _cpu_ns(pid: int) -> int:
    """Nanoseconds on CPU of all threads of ``pid`` (from /proc/<pid>/task/*/schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            total += int((task / "schedstat").read_text().split()[0])
    return total


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 1)) - 1))
    return sorted_values[rank]


def summarise(latencies: Sequence[float], wall: float, cpu_ns: int) -> dict[str, Any]:
    values = sorted(latencies)
    n = len(values)
    ms = 1000.0
    return {
        "n": n,
        "p50_ms": _percentile(values, 0.50) * ms,
        "p90_ms": _percentile(values, 0.90) * ms,
        "p99_ms": _percentile(values, 0.99) * ms,
        "max_ms": values[-1] * ms if values else float("nan"),
        "mean_ms": sum(values) / n * ms if n else float("nan"),
        "rps": n / wall if wall > 0 else float("nan"),
        "server_cpu_us_per_request": cpu_ns / n / 1000.0 if n else float("nan"),
    }


def _check_response(raw: bytes, uid: str) -> dict[str, Any]:
    """Parse one answer fully: allowed, our uid, the patch decoded."""
    answer = json.loads(raw)
    response = answer.get("response") or {}
    patch = json.loads(base64.b64decode(response["patch"])) if response.get("patch") else []
    return {
        "allowed": response.get("allowed") is True,
        "uid_ok": response.get("uid") == uid and answer.get("kind") == "AdmissionReview",
        "patch": patch,
        "patch_bytes": len(base64.b64decode(response["patch"])) if response.get("patch") else 0,
        "warnings": response.get("warnings") or [],
    }


def apply_patch(document: Any, ops: Sequence[Mapping[str, Any]]) -> Any:
    """A strict RFC 6902 applier, enough for ``add``/``replace``/``remove`` (checks the patch applies)."""
    import copy

    doc = copy.deepcopy(document)
    for op in ops:
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in str(op["path"])[1:].split("/")]
        parent = doc
        for token in tokens[:-1]:
            parent = parent[int(token)] if isinstance(parent, list) else parent[token]
        last = tokens[-1]
        if isinstance(parent, list):
            if op["op"] == "add":
                parent.insert(len(parent) if last == "-" else int(last), copy.deepcopy(op["value"]))
            elif op["op"] == "replace":
                parent[int(last)] = copy.deepcopy(op["value"])
            elif op["op"] == "remove":
                del parent[int(last)]
            else:
                raise ValueError(f"unsupported op {op['op']}")
        else:
            if op["op"] in ("add", "replace"):
                if op["op"] == "replace" and last not in parent:
                    raise KeyError(op["path"])
                parent[last] = copy.deepcopy(op["value"])
            elif op["op"] == "remove":
                del parent[last]
            else:
                raise ValueError(f"unsupported op {op['op']}")
    return doc


def user_content_untouched(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Every env entry, port, label and annotation the user wrote is still there, unchanged, in the same order.

    otelwire's ports come after the user's (the SDK exporter's port, appended).
    """
    for key in ("containers", "initContainers"):
        for old, new in zip(before["spec"].get(key) or [], after["spec"].get(key) or [], strict=True):
            old_env = old.get("env") or []
            new_env = new.get("env") or []
            positions = [i for i, entry in enumerate(new_env) if entry in old_env]
            kept = [new_env[i] for i in positions]
            if kept != old_env:
                return False
            old_ports = old.get("ports") or []
            if (new.get("ports") or [])[: len(old_ports)] != old_ports:
                return False
            ours = ("env", "ports")
            if {k: v for k, v in old.items() if k not in ours} != {k: v for k, v in new.items() if k not in ours}:
                return False
    for field in ("labels", "annotations"):
        old_map = before["metadata"].get(field) or {}
        new_map = after["metadata"].get(field) or {}
        if any(new_map.get(k) != v for k, v in old_map.items()) or list(new_map)[: len(old_map)] != list(old_map):
            return False
    return True


def patch_shape(pod: Mapping[str, Any], checked: Mapping[str, Any]) -> dict[str, Any]:
    ops = checked["patch"]
    after = apply_patch(pod, ops)
    return {
        "operations": len(ops),
        "bytes": checked["patch_bytes"],
        "only_add": all(op["op"] == "add" for op in ops),
        "op_counts": {name: sum(1 for op in ops if op["op"] == name) for name in sorted({op["op"] for op in ops})},
        "user_content_untouched": user_content_untouched(pod, after),
        "env_added": sum(
            len(c.get("env") or []) - len(o.get("env") or [])
            for c, o in zip(after["spec"]["containers"], pod["spec"]["containers"], strict=True)
        ),
    }


async def verify(session: Any, url: str, pool: Sequence[admission_data.Request]) -> dict[str, Any]:
    """Send every kind of pod once, parse the answers fully, and report what came back."""
    by_kind: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    for request in pool:
        entry = by_kind.setdefault(
            request.kind, {"sent": 0, "allowed": 0, "patched": 0, "only_add": 0, "untouched": 0, "ops": set()}
        )
        if entry["sent"] >= 20:
            continue
        async with session.post(url, data=request.body, headers={"Content-Type": "application/json"}) as resp:
            raw = await resp.read()
            status = resp.status
        if status != 200:
            errors.append(f"{request.kind}: HTTP {status}")
            continue
        checked = _check_response(raw, request.uid)
        if not checked["uid_ok"]:
            errors.append(f"{request.kind}: uid mismatch")
        entry["sent"] += 1
        entry["allowed"] += checked["allowed"]
        if checked["patch"]:
            entry["patched"] += 1
            pod = json.loads(request.body)["request"]["object"]
            try:
                after = apply_patch(pod, checked["patch"])
            except (KeyError, IndexError, ValueError) as error:
                errors.append(f"{request.kind}: patch does not apply: {error!r}")
                continue
            entry["untouched"] += user_content_untouched(pod, after)
            entry["only_add"] += all(op["op"] == "add" for op in checked["patch"])
            entry["ops"].add(len(checked["patch"]))
    for entry in by_kind.values():
        entry["ops"] = sorted(entry["ops"])
    shapes = {}
    for name, pod in (("one-container pod, user env", admission_data.one_container_pod()),):
        body = json.dumps(admission_data.review(pod, "shape")).encode()
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
            checked = _check_response(await resp.read(), "shape")
        shapes[name] = patch_shape(pod, checked) if checked["patch"] else {"operations": 0}
    return {"by_kind": by_kind, "errors": errors, "patch_shape": shapes}


async def phase(
    session: Any, url: str, pool: Sequence[admission_data.Request], start: int, count: int, concurrency: int, pid: int
) -> dict[str, Any]:
    """``count`` requests by ``concurrency`` workers; latencies as the client sees them."""
    import aiohttp

    latencies: list[float] = []
    failures = 0
    counter = itertools.count()
    deadline = time.monotonic() + PHASE_TIMEOUT
    headers = {"Content-Type": "application/json"}
    size = len(pool)
    clock = time.perf_counter

    async def worker() -> None:
        nonlocal failures
        while True:
            k = next(counter)
            if k >= count or time.monotonic() > deadline:
                return
            request = pool[(start + k) % size]
            began = clock()
            try:
                async with session.post(url, data=request.body, headers=headers) as resp:
                    raw = await resp.read()
                    ok = resp.status == 200
            except (OSError, TimeoutError, aiohttp.ClientError):
                failures += 1  # counted, not timed: a failed request has no latency to report
                continue
            latencies.append(clock() - began)
            if not ok or request.uid.encode() not in raw:
                failures += 1

    cpu_before = _cpu_ns(pid)
    began = clock()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = clock() - began
    cpu = _cpu_ns(pid) - cpu_before
    return {"latencies": latencies, "wall": wall, "cpu_ns": cpu, "failures": failures}


async def generate(config: Mapping[str, Any]) -> dict[str, Any]:
    import ssl

    import aiohttp

    pool = admission_data.requests(config["pool"])
    context = ssl.create_default_context(cafile=config["cafile"])
    targets: dict[str, dict[str, Any]] = config["targets"]
    out: dict[str, Any] = {"verification": {}, "levels": {}}

    def session(limit: int) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(ssl=context, limit=limit, force_close=False, enable_cleanup_closed=True)
        return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10))

    # Correctness first, then one pass over the whole pool so every plan is cached (the steady state).
    for name, target in targets.items():
        async with session(8) as client:
            out["verification"][name] = await verify(client, target["url"], pool)
            await phase(client, target["url"], pool, 0, config["prewarm"], 8, target["pid"])
    names = list(targets)
    for concurrency in config["concurrency"]:
        count = config["per"][concurrency]
        sessions = {name: session(concurrency) for name in names}
        samples: dict[str, dict[str, Any]] = {
            name: {"latencies": [], "wall": 0.0, "cpu_ns": 0, "failures": 0, "rounds": []} for name in names
        }
        try:
            for name in names:  # warm-up: connections opened, caches hot
                await phase(
                    sessions[name], targets[name]["url"], pool, 0, config["warmup"], concurrency, targets[name]["pid"]
                )
            for round_ in range(config["rounds"]):
                order = names if round_ % 2 == 0 else names[::-1]
                start = round_ * count
                for name in order:
                    result = await phase(
                        sessions[name], targets[name]["url"], pool, start, count, concurrency, targets[name]["pid"]
                    )
                    got = samples[name]
                    got["latencies"].extend(result["latencies"])
                    got["wall"] += result["wall"]
                    got["cpu_ns"] += result["cpu_ns"]
                    got["failures"] += result["failures"]
                    round_summary = summarise(result["latencies"], result["wall"], result["cpu_ns"])
                    got["rounds"].append({k: round_summary[k] for k in ("p50_ms", "p99_ms", "rps")})
        finally:
            for client in sessions.values():
                await client.close()
        level: dict[str, Any] = {}
        for name in names:
            got = samples[name]
            level[name] = {
                **summarise(got["latencies"], got["wall"], got["cpu_ns"]),
                "failures": got["failures"],
                "rounds": got["rounds"],
            }
        out["levels"][str(concurrency)] = level
    return out


def load(config_path: Path, result_path: Path) -> int:
    config = json.loads(config_path.read_text())
    config["per"] = {int(k): v for k, v in config["per"].items()}
    result = asyncio.run(generate(config))
    result_path.write_text(json.dumps(result))
    return 0


# ------------------------------------------------------------------ orchestration


def _spawn(args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)  # a profiled server writes its report first
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def _wait_port(process: subprocess.Popen[bytes], port_file: Path, log: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        if port_file.exists() and port_file.read_text().strip():
            return int(port_file.read_text())
        time.sleep(0.05)
    raise RuntimeError(f"server did not start within {START_TIMEOUT:.0f}s:\n{log.read_text(errors='replace')[-3000:]}")


def _checkout_webhook(ref: str, directory: Path) -> Path:
    """The webhook files (reviewing.py, serving.py) as they are at git ``ref``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("reviewing", "serving"):
        text = subprocess.run(
            ["git", "show", f"{ref}:operator/otelwire/webhook/{name}.py"],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (directory / f"{name}.py").write_text(text)
    return directory


@contextlib.contextmanager
def servers(
    workdir: Path,
    compare_ref: str | None,
    max_seconds: float,
    profile_dir: Path | None = None,
    loop: str = "asyncio",
    also_uvloop: bool = False,
    also_orjson_floor: bool = False,
) -> Iterator[dict[str, dict[str, Any]]]:
    from otelwire.webhook import certificates

    cert_dir = workdir / "cert"
    certificates.self_signed(cert_dir, ["127.0.0.1"])
    plan: list[tuple[str, list[str]]] = [
        ("otelwire", ["--serve", "otelwire", "--loop", loop]),
        ("floor", ["--serve", "floor", "--loop", loop]),
    ]
    if compare_ref:
        impl = _checkout_webhook(compare_ref, workdir / "ref")
        plan.append((f"otelwire@{compare_ref}", ["--serve", "otelwire", "--impl", str(impl), "--loop", loop]))
    if also_orjson_floor:
        plan.append(("floor+orjson", ["--serve", "floor-orjson", "--loop", loop]))
    if also_uvloop:
        plan.append(("otelwire+uvloop", ["--serve", "otelwire", "--loop", "uvloop"]))
        plan.append(("floor+uvloop", ["--serve", "floor", "--loop", "uvloop"]))
    started: list[subprocess.Popen[bytes]] = []
    targets: dict[str, dict[str, Any]] = {}
    try:
        for name, args in plan:
            safe = name.replace("@", "-").replace("/", "-")
            port_file, log = workdir / f"{safe}.port", workdir / f"{safe}.log"
            extra = ["--cert-dir", str(cert_dir), "--port-file", str(port_file), "--max-seconds", str(max_seconds)]
            if profile_dir is not None:
                extra += ["--profile", str(profile_dir.resolve() / f"profile-{safe}")]
            process = _spawn([*args, *extra], log)
            started.append(process)
            port = _wait_port(process, port_file, log)
            targets[name] = {"url": f"https://127.0.0.1:{port}/mutate-pods", "pid": process.pid, "log": str(log)}
        yield targets
    finally:
        for process in started:
            _stop(process)


def machine(load_at_start: Sequence[float]) -> dict[str, Any]:
    import aiohttp

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
        "aiohttp": aiohttp.__version__,
        "kernel": platform.release(),
        "loadavg_at_start": list(load_at_start),
    }


def evaluate(levels: Mapping[str, Mapping[str, Any]], shape: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The issue's admission targets, each with its measured value and whether it was met."""
    out: list[dict[str, Any]] = []

    def ratio(c: str, key: str) -> float:
        return float(levels[c]["otelwire"][key]) / float(levels[c]["floor"][key])

    for c in ("1", "8"):
        if c in levels:
            value = ratio(c, "p50_ms")
            out.append({"target": f"p50 <= 1.2x floor at c={c}", "value": f"{value:.2f}x", "met": value <= 1.2})
    if "8" in levels:
        p99 = float(levels["8"]["otelwire"]["p99_ms"])
        value = ratio("8", "p99_ms")
        out.append({"target": "p99 at c=8 <= 2x floor p99", "value": f"{value:.2f}x", "met": value <= 2.0})
        out.append({"target": "p99 at c=8 <= 3 ms", "value": f"{p99:.2f} ms", "met": p99 <= 3.0})
        value = ratio("8", "rps")
        out.append({"target": "req/s at c=8 >= 0.75x floor", "value": f"{value:.2f}x", "met": value >= 0.75})
    if shape:
        out.append(
            {
                "target": "patch only add, user content untouched",
                "value": f"{shape.get('operations')} ops, {shape.get('bytes')} B, only add: {shape.get('only_add')}",
                "met": bool(shape.get("only_add") and shape.get("user_content_untouched")),
            }
        )
    return out


def table(result: Mapping[str, Any]) -> str:
    lines = []
    header = (
        f"{'c':>3}  {'target':<18} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} {'req/s':>7} "
        f"{'srv µs/req':>10}  {'p50/fl':>6} {'p99/fl':>6} {'rps/fl':>6}"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for c, level in result["levels"].items():
        floor = level["floor"]
        for name, row in level.items():
            ratios = (
                f"{row['p50_ms'] / floor['p50_ms']:>6.2f} {row['p99_ms'] / floor['p99_ms']:>6.2f} "
                f"{row['rps'] / floor['rps']:>6.2f}"
                if name != "floor"
                else f"{'':>6} {'':>6} {'':>6}"
            )
            lines.append(
                f"{c:>3}  {name:<18} {row['p50_ms']:>7.3f} {row['p90_ms']:>7.3f} {row['p99_ms']:>7.3f} "
                f"{row['max_ms']:>7.2f} {row['rps']:>7.0f} {row['server_cpu_us_per_request']:>10.0f}  {ratios}"
            )
    lines.append("")
    load = max(result["machine"]["loadavg_at_start"][0], result["machine"].get("loadavg_at_end", [0])[0])
    if load > 1.5:
        lines.append(
            f"note: load average {load:.1f} on {result['machine']['nproc']} cores: other work shared the machine"
        )
    for name, shape in result["patch_shape"].items():
        lines.append(f"patch for a {name}: {json.dumps(shape)}")
    lines.append("")
    for target in result["targets"]:
        lines.append(f"[{'met' if target['met'] else 'NOT met':>7}] {target['target']}: {target['value']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> dict[str, Any]:
    config = profile(args.quick, args.requests)
    config["concurrency"] = list(args.concurrency)
    started = datetime.datetime.now(datetime.UTC)
    load_at_start = os.getloadavg()
    budget = 1800.0
    profile_dir = Path(args.profile_dir) if args.profile_dir else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="otelwire-bench-") as tmp,
        servers(
            Path(tmp), args.compare_ref, budget, profile_dir, args.loop, args.also_uvloop, args.also_orjson_floor
        ) as targets,
    ):
        workdir = Path(tmp)
        config_path, result_path = workdir / "load.json", workdir / "load-result.json"
        load_config = {
            **config,
            "cafile": str(workdir / "cert" / "tls.crt"),
            "targets": {name: {"url": t["url"], "pid": t["pid"]} for name, t in targets.items()},
        }
        config_path.write_text(json.dumps(load_config))
        log = workdir / "load.log"
        generator = _spawn(["--load", str(config_path), "--result", str(result_path)], log)
        try:
            generator.wait(budget)
        finally:
            _stop(generator)
        if generator.returncode != 0 or not result_path.exists():
            raise RuntimeError(f"load generator failed ({generator.returncode}):\n{log.read_text()[-3000:]}")
        measured = json.loads(result_path.read_text())
    for level in measured["levels"].values():
        for row in level.values():
            if row["failures"]:
                print(f"warning: {row['failures']} failed requests", file=sys.stderr)
    shape = measured["verification"]["otelwire"]["patch_shape"]
    one = shape.get("one-container pod, user env", {})
    result: dict[str, Any] = {
        "benchmark": "admission",
        "timestamp": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "quick": args.quick,
        "loop": args.loop,
        "machine": machine(load_at_start),
        "config": {k: v for k, v in config.items()},
        "setup": {
            "namespaces": admission_data.NAMESPACES,
            "monitored_services": admission_data.NAMESPACES * admission_data.PER_NAMESPACE,
            "mix": dict(admission_data.MIX),
        },
        "verification": measured["verification"],
        "patch_shape": shape,
        "levels": measured["levels"],
        "targets": evaluate(measured["levels"], one),
        "incumbent": {
            "name": "OpenTelemetry Operator pod webhook (Go, controller-runtime), from the issue",
            "p50_over_floor": {"1": 1.35, "8": 1.27, "64": 1.68},
            "p99_ms": {"1": 2.1, "8": 8.5, "64": 38.0},
            "rps_over_floor": {"1": 0.69, "8": 0.59, "64": 0.54},
            "patch": {"operations": 15, "bytes": 2600},
        },
    }
    result["machine"]["loadavg_at_end"] = list(os.getloadavg())
    result["written"] = str(recording.record("admission", result, quick=args.quick, output=args.output))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny counts: checks the machinery, not the numbers")
    parser.add_argument("--requests", type=int, help="requests per phase (overrides the profile)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY))
    parser.add_argument("--compare-ref", help="also serve the webhook files of this git ref (e.g. HEAD)")
    parser.add_argument(
        "--output", help="where the JSON goes (default: bench/results/admission.json; --quick: a temp file)"
    )
    parser.add_argument("--profile-dir", help="sample every server with pyinstrument; reports go here")
    parser.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="every server's event loop (default asyncio, what `otelwire run` uses; uvloop must be installed)",
    )
    parser.add_argument(
        "--also-uvloop", action="store_true", help="add otelwire and the floor on uvloop as two more targets"
    )
    parser.add_argument(
        "--also-orjson-floor",
        action="store_true",
        help="add the floor decoding with orjson, as otelwire does, as one more target",
    )
    # Internal: the child processes.
    parser.add_argument("--serve", choices=("otelwire", "floor", "floor-orjson"), help=argparse.SUPPRESS)
    parser.add_argument("--impl", help=argparse.SUPPRESS)
    parser.add_argument("--cert-dir", help=argparse.SUPPRESS)
    parser.add_argument("--port-file", help=argparse.SUPPRESS)
    parser.add_argument("--max-seconds", type=float, default=1800.0, help=argparse.SUPPRESS)
    parser.add_argument("--profile", help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        impl = Path(args.impl) if args.impl else None
        profile_to = Path(args.profile) if args.profile else None
        return serve(
            args.serve, Path(args.cert_dir), Path(args.port_file), impl, args.max_seconds, profile_to, args.loop
        )
    if args.load:
        return load(Path(args.load), Path(args.result))
    result = run(args)
    print(table(result))
    print(f"\nwritten: {result['written']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
