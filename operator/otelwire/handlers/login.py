"""kopf's API session, from otelwire's own configuration, with a bounded connection pool.

kopf logs in through this handler alone (``otelwire run`` gives kopf a registry
with only otelwire's handlers), so kopf and every other request of the operator
act as the same identity: the :class:`~otelwire.kube.config.ApiConfig` the start-up
loaded, its credentials read again at every login -- kopf logs in again when the
API server answers 401: a rotated service-account token, an exec plugin's token
that expired (the loader runs the plugin again).  ``tls-server-name`` is honoured by verifying the server's
certificate against that name (:class:`ServerName`).

kopf's own session would use ``aiohttp.TCPConnector(limit=0)``: no bound on
concurrent connections, so 1,000 MonitoredServices arriving at once open 1,000
TLS connections with a 256 KiB read buffer each.  Here requests beyond the bound
wait for a free connection; watch streams hold one each, so the bound leaves room
for them on top of the requests.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
import kopf

from otelwire.handlers.indexing import runtime_of
from otelwire.kube.config import ApiConfig, load
from otelwire.options import Options

REQUEST_CONNECTIONS = 16  # concurrent non-watch requests: kopf's 8 workers' patches, its Events, peering
STREAMS_PER_NAMESPACE = 3  # MonitoredServices, and a margin (peering, namespaces); pods: ``observe.pods``


def connection_limit(options: Options) -> int:
    """``OTELWIRE_API_CONNECTIONS`` if set (0: unbounded), else room for the watch streams plus the requests."""
    if options.api_connections is not None:
        return options.api_connections
    if options.namespace_patterns:
        return 0  # patterns: the number of watch streams is unknown, never starve one
    return REQUEST_CONNECTIONS + STREAMS_PER_NAMESPACE * max(1, len(options.watch_namespaces))


class ServerName(ssl.SSLContext):
    """An SSL context that sends ``server_name`` (SNI) and verifies the certificate against it,
    whatever host the connection goes to: a kubeconfig's ``tls-server-name``."""

    server_name = ""

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        kwargs["server_hostname"] = self.server_name
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        kwargs["server_hostname"] = self.server_name
        return super().wrap_socket(*args, **kwargs)


def connection_info(config: ApiConfig) -> kopf.ConnectionInfo:
    """kopf's view of ``config``, with the credentials as they are now."""
    configuration = config.refreshed()
    header = configuration.get_api_key_with_prefix("BearerToken") or ""
    scheme, _, token = header.partition(" ") if " " in header else ("", "", header)
    return kopf.ConnectionInfo(
        server=config.server,
        ca_path=configuration.ssl_ca_cert or None,
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme or None,
        token=token or None,
        certificate_path=configuration.cert_file or None,
        private_key_path=configuration.key_file or None,
        default_namespace=config.default_namespace,
        proxy_url=configuration.proxy or None,
    )


def ssl_context(config: ApiConfig, info: kopf.ConnectionInfo) -> ssl.SSLContext:
    context = info.as_ssl_context()
    server_name = config.configuration.tls_server_name
    if not server_name:
        return context
    named = ServerName(ssl.PROTOCOL_TLS_CLIENT)
    named.server_name = server_name
    if info.insecure:
        named.check_hostname = False
        named.verify_mode = ssl.CERT_NONE
    else:
        named.load_verify_locations(cafile=info.ca_path) if info.ca_path else named.load_default_certs()
    if info.certificate_path and info.private_key_path:
        named.load_cert_chain(info.certificate_path, info.private_key_path)
    return named


def session(
    config: ApiConfig,
    options: Options,
    info: kopf.ConnectionInfo | None = None,
    context: ssl.SSLContext | None = None,
) -> kopf.AiohttpSession:
    """kopf's session for ``config`` (on the event loop: aiohttp binds to it).  ``info`` and
    ``context``, when given, were made beforehand in a thread (an exec plugin may run)."""
    info = info or connection_info(config)
    limit = connection_limit(options)
    client = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ssl=context or ssl_context(config, info)),
        headers=info.as_http_headers(),
        proxy=info.proxy_url,
    )
    return kopf.AiohttpSession(
        aiohttp_session=client,
        server=info.server,
        default_namespace=info.default_namespace,
        priority=info.priority,
        expiration=info.expiration,
    )


@kopf.on.login(errors=kopf.ErrorsMode.IGNORED)
async def login(*, memo: kopf.Memo, **_: Any) -> kopf.AiohttpSession | None:
    """kopf's session, as the same identity as every other request (``handlers.login``)."""
    runtime = runtime_of(memo)
    config = runtime.config if runtime is not None else await asyncio.to_thread(load)
    options = runtime.options if runtime is not None else Options.from_env()
    info = await asyncio.to_thread(connection_info, config)  # may run an exec plugin
    context = await asyncio.to_thread(ssl_context, config, info)
    return session(config, options, info, context)
