"""A small fault-injecting reverse proxy in front of the plane's kube-apiserver.

The operator talks plain HTTP to ``http://127.0.0.1:<port>`` (a kubeconfig
with no credentials, :meth:`FaultProxy.write_kubeconfig`); the proxy forwards
every request over HTTPS with the admin client certificate (or token) of the
plane's kubeconfig, and streams every response back chunk by chunk -- watch
streams included, which are never faulted.

Faults follow a deterministic :class:`Schedule`: the Nth, 2Nth, ... mutating
request (PATCH/POST/PUT) and the Mth, 2Mth, ... read (GET, not a watch) get
the next fault of their cycle instead of reaching the API server:

* ``conflict`` -- 409 with a ``Status`` whose reason is ``Conflict``;
* ``unavailable`` / ``internal`` / ``throttled`` -- 503 / 500 / 429 Statuses;
* ``stall`` -- no answer for ``stall_seconds`` (set it past the client's
  timeout), then the connection is dropped; the request never reaches the
  API server.

``injected`` counts the faults by kind, ``seen`` the requests by class; both
are read by the test.  Loopback only: it listens on 127.0.0.1 and nothing else.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import ssl
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import yaml
from aiohttp import web

MUTATING = frozenset({"PATCH", "POST", "PUT"})
STATUS_FAULTS = {
    "conflict": (
        409,
        "Conflict",
        "Operation cannot be fulfilled: the object has been modified (injected by faultproxy)",
    ),
    "unavailable": (503, "ServiceUnavailable", "the server is currently unable to handle the request (injected)"),
    "internal": (500, "InternalError", "an error on the server has prevented the request from succeeding (injected)"),
    "throttled": (429, "TooManyRequests", "the server has received too many requests (injected)"),
}
KINDS = (*STATUS_FAULTS, "stall")
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
MAX_BODY = 16 * 1024 * 1024


def is_watch(query: str) -> bool:
    return any(value in ("true", "1") for value in parse_qs(query).get("watch", []))


@dataclass
class Schedule:
    """Which request gets which fault: pure and deterministic.

    ``mutate_every`` / ``read_every`` of 0 never fault that class; ``limits``
    caps a kind (``{"stall": 2}``) and ``total`` all faults together.
    """

    mutate_every: int = 0
    mutate_faults: Sequence[str] = ("conflict", "unavailable", "internal")
    read_every: int = 0
    read_faults: Sequence[str] = ("unavailable",)
    limits: Mapping[str, int] = field(default_factory=dict)
    total: int = 1000
    stall_seconds: float = 35.0
    counts: collections.Counter[str] = field(default_factory=collections.Counter)  # requests seen by class
    injected: collections.Counter[str] = field(default_factory=collections.Counter)  # faults by kind

    def __post_init__(self) -> None:
        for kind in (*self.mutate_faults, *self.read_faults):
            if kind not in KINDS:
                raise ValueError(f"unknown fault {kind!r}; one of {', '.join(KINDS)}")

    def decide(self, method: str, watch: bool = False) -> str | None:
        """The fault for this request, or None to forward it; counts it either way."""
        if watch:
            self.counts["watch"] += 1
            return None
        if method.upper() in MUTATING:
            klass, every, cycle = "mutating", self.mutate_every, self.mutate_faults
        elif method.upper() == "GET":
            klass, every, cycle = "read", self.read_every, self.read_faults
        else:
            self.counts["other"] += 1
            return None
        self.counts[klass] += 1
        number = self.counts[klass]
        if not every or not cycle or number % every:
            return None
        kind = cycle[(number // every - 1) % len(cycle)]
        if sum(self.injected.values()) >= self.total or self.injected[kind] >= self.limits.get(kind, self.total):
            return None
        self.injected[kind] += 1
        return kind


def status_body(kind: str, method: str, path: str) -> dict[str, Any]:
    code, reason, message = STATUS_FAULTS[kind]
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": f"{method} {path}: {message}",
        "reason": reason,
        "details": {"retryAfterSeconds": 1} if code in (429, 503) else {},
        "code": code,
    }


def _current(config: Mapping[str, Any], section: str, name: str) -> dict[str, Any]:
    return dict(next(item[section[:-1]] for item in config[section] if item["name"] == name))


class FaultProxy:
    """The proxy, on its own event loop in a thread; ``with FaultProxy(...) as proxy:`` starts and stops it."""

    def __init__(self, kubeconfig: Path, schedule: Schedule | None = None) -> None:
        config = yaml.safe_load(kubeconfig.read_text())
        context = _current(config, "contexts", config["current-context"])
        cluster = _current(config, "clusters", context["cluster"])
        user = _current(config, "users", context["user"])
        self.upstream = str(cluster["server"]).rstrip("/")
        self.schedule = schedule or Schedule()
        self.lock = threading.Lock()
        self.errors: list[str] = []  # upstream failures the proxy itself saw (not injected)
        self.headers: dict[str, str] = {}
        if user.get("token"):
            self.headers["Authorization"] = f"Bearer {user['token']}"
        self._secrets = tempfile.TemporaryDirectory(prefix="faultproxy-")
        self.ssl = self._ssl_context(cluster, user, Path(self._secrets.name))
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._startup_error: BaseException | None = None
        self._session: aiohttp.ClientSession | None = None

    @staticmethod
    def _ssl_context(cluster: Mapping[str, Any], user: Mapping[str, Any], folder: Path) -> ssl.SSLContext:
        def material(data_key: str, file_key: str, source: Mapping[str, Any], name: str) -> Path | None:
            if source.get(data_key):
                path = folder / name
                path.write_bytes(base64.b64decode(source[data_key]))
                path.chmod(0o600)
                return path
            return Path(source[file_key]) if source.get(file_key) else None

        ca = material("certificate-authority-data", "certificate-authority", cluster, "ca.crt")
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
        if cluster.get("insecure-skip-tls-verify"):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        cert = material("client-certificate-data", "client-certificate", user, "client.crt")
        key = material("client-key-data", "client-key", user, "client.key")
        if cert and key:
            context.load_cert_chain(str(cert), str(key))
        return context

    # ------------------------------------------------------------------ counters, for the test

    @property
    def injected(self) -> collections.Counter[str]:
        with self.lock:
            return collections.Counter(self.schedule.injected)

    @property
    def seen(self) -> collections.Counter[str]:
        with self.lock:
            return collections.Counter(self.schedule.counts)

    def calm(self) -> None:
        """Inject nothing from now on (e.g. before stopping the operator, so its shutdown is clean)."""
        with self.lock:
            self.schedule.mutate_every = 0
            self.schedule.read_every = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: Path) -> Path:
        """A kubeconfig for ``http://127.0.0.1:<port>`` with no credentials: the proxy adds them."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "faultproxy", "cluster": {"server": self.url}}],
            "users": [{"name": "faultproxy", "user": {}}],
            "contexts": [{"name": "faultproxy", "context": {"cluster": "faultproxy", "user": "faultproxy"}}],
            "current-context": "faultproxy",
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    # ------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 30.0) -> FaultProxy:
        self._thread = threading.Thread(target=self._main, name="faultproxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._startup_error is not None:
            raise RuntimeError(f"fault proxy did not start: {self._startup_error!r}")
        return self

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is not None and self._stopped is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout)
        self._secrets.cleanup()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # reported by start()
            self._startup_error = error
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        connector = aiohttp.TCPConnector(ssl=self.ssl, limit=64)
        timeout = aiohttp.ClientTimeout(total=None, connect=10, sock_read=None)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False) as session:
            app = web.Application(client_max_size=MAX_BODY)
            self._session = session
            app.router.add_route("*", "/{tail:.*}", self._handle)
            runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = int(runner.addresses[0][1])
            self._ready.set()
            try:
                await self._stopped.wait()
            finally:
                await runner.cleanup()

    # ------------------------------------------------------------------ one request

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        watch = is_watch(request.query_string)
        with self.lock:
            fault = self.schedule.decide(request.method, watch)
        if fault == "stall":
            await asyncio.sleep(self.schedule.stall_seconds)
            if request.transport is not None:
                request.transport.abort()  # the client hears nothing, ever
            return web.Response(status=504)
        if fault is not None:
            body = status_body(fault, request.method, request.path)
            headers = {"Retry-After": "1"} if body["code"] in (429, 503) else {}
            return web.json_response(body, status=body["code"], headers=headers)
        return await self._forward(request, watch)

    async def _forward(self, request: web.Request, watch: bool) -> web.StreamResponse:
        session = self._session
        assert session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        headers.update(self.headers)
        data = await request.read() if request.can_read_body else None
        url = f"{self.upstream}{request.rel_url}"
        try:
            async with session.request(request.method, url, headers=headers, data=data) as upstream:
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for key, value in upstream.headers.items():
                    if key.lower() not in HOP_BY_HOP:
                        response.headers.add(key, value)
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():  # a watch event as soon as it arrives
                    await response.write(chunk)
                await response.write_eof()
                return response
        except (TimeoutError, aiohttp.ClientError, ConnectionResetError) as error:
            if not watch:
                with self.lock:
                    self.errors.append(f"{request.method} {request.rel_url}: {error!r}")
            raise
