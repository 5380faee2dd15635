"""The webhook's HTTPS server: aiohttp, one POST route, nothing else on the path.

``POST /mutate-pods`` takes an AdmissionReview and returns the reviewer's
answer; ``GET /healthz`` answers for readiness probes.  Until ``ready`` is
set (the operator has indexed every MonitoredService that existed when it
started) a review waits for it, at most ``READY_WAIT`` seconds: a pod created
just after an operator restart gets what its MonitoredService says, not an
"unmatched" answer from an index still being filled.  Bodies over 4 MiB and
non-JSON bodies get an allowed, unpatched review (or a 400 when not even a
review): never an exception that would turn into a failed admission.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from dataclasses import dataclass

from aiohttp import web

from otelwire import decoding
from otelwire.webhook.certificates import ServingCertificate
from otelwire.webhook.reviewing import Reviewer

logger = logging.getLogger(__name__)
MUTATE_PATH = "/mutate-pods"
MAX_BODY = 4 * 1024 * 1024
READY_WAIT = 3.0  # well inside the API server's timeoutSeconds for the webhook


def build_app(reviewer: Reviewer, ready: asyncio.Event | None = None) -> web.Application:
    async def mutate(request: web.Request) -> web.Response:
        raw = await request.read()
        if ready is not None and not ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), READY_WAIT)
        try:
            review = decoding.loads(raw)
        except ValueError:
            return web.json_response({"error": "body is not JSON"}, status=400)
        # The reviewer serialises (cached answers are copied, not re-encoded); same bytes and
        # headers as web.json_response(reviewer.review(review), dumps=_dumps), without its detour.
        return web.Response(body=reviewer.review_json(review), content_type="application/json", charset="utf-8")

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post(MUTATE_PATH, mutate)
    app.router.add_get("/healthz", healthz)
    return app


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


@dataclass
class RunningServer:
    runner: web.AppRunner
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}{MUTATE_PATH}"

    async def stop(self) -> None:
        await self.runner.cleanup()


def ssl_context(cert: ServingCertificate) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(cert.certfile), str(cert.keyfile))
    return context


async def start(
    reviewer: Reviewer, cert: ServingCertificate, host: str, port: int, ready: asyncio.Event | None = None
) -> RunningServer:
    """Start serving; ``port=0`` picks a free port (reported on the result)."""
    runner = web.AppRunner(build_app(reviewer, ready), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context(cert), backlog=512)
    await site.start()
    bound = port
    sockets = getattr(site._server, "sockets", None)
    if sockets:
        bound = int(sockets[0].getsockname()[1])
    logger.info("webhook serving on https://%s:%s%s", host, bound, MUTATE_PATH)
    return RunningServer(runner, host, bound)
