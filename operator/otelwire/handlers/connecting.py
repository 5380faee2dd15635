"""kopf's API session, with a bounded connection pool.

kopf's own session uses ``aiohttp.TCPConnector(limit=0)``: no bound on
concurrent connections to the API server.  When 1,000 MonitoredServices
arrive at once, every handler's patch, status write and event post opens its
own TLS connection, and asyncio gives every TLS connection a 256 KiB read
buffer (``asyncio.sslproto.SSLProtocol.max_size``).  Measured with 1,000
MonitoredServices: about 200 MB of such buffers at the peak, never given back
to the OS afterwards (see docs/benchmarks-cluster.md, "Memory").

This login handler logs in from the same credentials as otelwire's own
requests (``connection.find``: the kubeconfig, else in-cluster, else
``~/.kube/config``; kopf's ``login_via_client`` for a kubeconfig with an auth
plugin) and hands kopf a session whose pool is bounded.  The token is read
again at each login: kopf logs in again when the API server answers 401, as
it does once a rotated service-account token has expired.  Requests beyond the bound wait for a free
connection instead of opening another one.  Long-lived watch streams hold a
connection each, so the bound leaves room for them on top of the requests.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp
import kopf

from otelwire.handlers import connection
from otelwire.handlers.runtime import watched_namespaces

REQUEST_CONNECTIONS = 16  # concurrent non-watch requests; kopf's 8 workers and the daemons share them
STREAMS_PER_NAMESPACE = 3  # MonitoredServices, and a margin (peering, namespaces); pods: ``podwatching``


def connection_limit(environ: dict[str, str] | None = None) -> int:
    """``OTELWIRE_API_CONNECTIONS`` if set, else room for the watch streams plus the requests."""
    env = os.environ if environ is None else environ
    raw = env.get("OTELWIRE_API_CONNECTIONS", "")
    if raw:
        return max(0, int(raw))  # 0: unbounded, as kopf's own session
    namespaces, patterns = watched_namespaces(env)
    if patterns:
        return 0  # patterns: the number of watch streams is unknown, never starve one
    return REQUEST_CONNECTIONS + STREAMS_PER_NAMESPACE * max(1, len(namespaces))


@kopf.on.login(errors=kopf.ErrorsMode.IGNORED)
async def login(*, logger: kopf.Logger, settings: kopf.OperatorSettings, **kwargs: Any) -> kopf.AiohttpSession | None:
    found = await asyncio.to_thread(connection.find, os.environ.get("KUBECONFIG") or None)
    if found is not None:
        info: kopf.ConnectionInfo | None = found.current()
    else:
        info = await asyncio.to_thread(kopf.login_via_client, logger=logger, settings=settings, **kwargs)
    if info is None:
        return None
    limit = connection_limit()
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ssl=info.as_ssl_context()),
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
        trust_env=info.trust_env,
    )
    logger.debug("API connections limited to %s", limit or "none")
    return kopf.AiohttpSession(
        aiohttp_session=session,
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
    )
