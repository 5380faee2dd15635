"""A small synchronous Kubernetes REST client: raw JSON, retries, and the transport under it.

The operator needs a handful of calls kopf does not make for it: list
workloads, server-side apply, merge patches for rollout restarts, and (for a
local run) the webhook configuration.  ``Kube`` sends them as raw JSON, with
retries and backoff for conflicts, throttling and transient server errors so
nothing is lost when the API server hiccups, through a ``Transport``:

* ``connection.HttpTransport`` -- urllib3 with the pod's service account or the
  kubeconfig's token, client certificate or password (``connector``, what
  ``otelwire run`` uses: it never imports the ``kubernetes`` package, ~7.5 MB);
* ``ClientTransport`` -- the ``kubernetes`` client's ``ApiClient``, for a
  kubeconfig that needs an auth plugin, and for the offline CLI's ``doctor``
  (``load_config``).  ``kubernetes`` is imported only then (about 0.4 s).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from otelwire import decoding

if TYPE_CHECKING:
    from kubernetes import client

logger = logging.getLogger(__name__)
RETRIABLE = frozenset({409, 429, 500, 502, 503, 504})
MANAGER = "otelwire"  # field manager and user agent of otelwire's requests


class KubeError(Exception):
    def __init__(self, status: int, body: Any, method: str, path: str) -> None:
        self.status = status
        self.body = body
        reason = body.get("message") if isinstance(body, Mapping) else str(body)[:300]
        super().__init__(f"{method} {path}: HTTP {status}: {reason}")


def load_config(kubeconfig: str | None = None) -> client.ApiClient:
    """In-cluster credentials when there, else the kubeconfig (``--kubeconfig`` or KUBECONFIG)."""
    from kubernetes import client, config

    configuration = client.Configuration()
    if kubeconfig is None:
        try:
            config.load_incluster_config(client_configuration=configuration)
            return _named(client.ApiClient(configuration))
        except config.ConfigException:
            pass
    config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    return _named(client.ApiClient(configuration))


def _named(api: client.ApiClient) -> client.ApiClient:
    """Requests say they are otelwire's (``user_agent``), not the generated client's."""
    api.user_agent = user_agent()
    return api


def connector(kubeconfig: str | None = None) -> Callable[[], Transport]:
    """What ``otelwire run`` sends its requests through, as a maker of transports that each keep
    their own connections: urllib3 with the pod's service account or the kubeconfig's credentials
    (``connection``), or the ``kubernetes`` client when the kubeconfig needs a plugin only it
    runs.  The credentials are found once; a token file is still read for each request."""
    from otelwire.handlers.connection import HttpTransport, find

    found = find(kubeconfig)
    if found is None:
        return lambda: ClientTransport(load_config(kubeconfig))
    return lambda: HttpTransport(found)


def connect(kubeconfig: str | None = None) -> Transport:
    """One transport (``connector``)."""
    return connector(kubeconfig)()


def user_agent() -> str:
    """``otelwire/<version>``: what the API server's audit log, and the field manager of any
    write that names none, read for otelwire's requests."""
    from otelwire import __version__

    return f"{MANAGER}/{__version__}"


class Transport(Protocol):
    def send(self, method: str, path: str, headers: Mapping[str, str], body: Any, timeout: Any) -> Any:
        """One request (``body``: JSON data or None); the unread urllib3 response, whatever its status."""


class TransportError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body


class ClientTransport:
    """Requests through the ``kubernetes`` client's ``ApiClient`` (auth plugins, its TLS and proxy)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    def send(self, method: str, path: str, headers: Mapping[str, str], body: Any, timeout: Any) -> Any:
        from kubernetes.client.exceptions import ApiException  # imported with the ApiClient already

        _, url, params, data, _ = self.api.param_serialize(
            method, path, header_params=dict(headers), body=body, auth_settings=["BearerToken"]
        )
        try:
            return self.api.call_api(method, url, header_params=params, body=data, _request_timeout=timeout).response
        except ApiException as error:
            raise TransportError(int(error.status or 0), error.body or b"") from error


class Kube:
    """Raw JSON requests with retries."""

    def __init__(self, transport: Transport | client.ApiClient, attempts: int = 5, backoff: float = 0.2) -> None:
        self.transport: Transport = transport if hasattr(transport, "send") else ClientTransport(transport)
        self.attempts = attempts
        self.backoff = backoff

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        retry_conflicts: bool = True,
        timeout: float = 30.0,
    ) -> Any:
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.transport.send(method, path, headers, body, timeout)
                try:
                    status, raw = int(response.status), response.data or b""
                finally:
                    response.release_conn()
            except TransportError as error:
                status, raw = error.status, error.body
            except Exception as error:  # connection refused, timeouts, TLS resets
                status, raw = 0, str(error).encode()
            payload = _decode(raw)
            if 200 <= status < 300:
                return payload
            retriable = status in RETRIABLE or status == 0
            if status == 409 and not retry_conflicts:
                retriable = False
            if not retriable or attempt == self.attempts:
                raise KubeError(status, payload, method, path)
            logger.info(
                "%s %s: HTTP %s, retrying in %.1fs (%d/%d)", method, path, status, delay, attempt, self.attempts
            )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")

    def stream(self, path: str, query: Mapping[str, str], timeout: Any) -> Any:
        """One GET, no retries (a watch loop has its own); the unread urllib3 response to read as it comes.

        An error status raises ``KubeError`` with the API server's message.
        """
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        try:
            response = self.transport.send("GET", path, {"Accept": "application/json"}, None, timeout)
        except TransportError as error:
            raise KubeError(error.status, _decode(error.body), "GET", path) from error
        if response.status != 200:
            body = response.data or b""
            response.release_conn()
            raise KubeError(int(response.status), _decode(body), "GET", path)
        return response

    def get(self, path: str, **query: str) -> Any:
        return self.request("GET", path, query=query or None)

    def apply(self, path: str, body: Mapping[str, Any], *, manager: str, force: bool = False) -> Any:
        query = {"fieldManager": manager}
        if force:
            query["force"] = "true"
        return self.request(
            "PATCH",
            path,
            json.loads(json.dumps(body)),
            query=query,
            content_type="application/apply-patch+yaml",
            retry_conflicts=False,
        )

    def merge_patch(self, path: str, body: Mapping[str, Any], *, manager: str = MANAGER) -> Any:
        """A JSON merge patch, its fields recorded as ``manager``'s in ``managedFields``."""
        return self.request(
            "PATCH", path, body, query={"fieldManager": manager}, content_type="application/merge-patch+json"
        )

    def delete(self, path: str) -> Any:
        try:
            return self.request("DELETE", path)
        except KubeError as error:
            if error.status == 404:
                return None
            raise


class Expired(Exception):
    """A watch's ``410 Gone``: its resourceVersion is too old, list again."""


def watch_query(version: str, seconds: int) -> dict[str, str]:
    """The query of one watch request from ``version``, with bookmarks, ended by the server after ``seconds``."""
    return {"watch": "true", "resourceVersion": version, "allowWatchBookmarks": "true", "timeoutSeconds": str(seconds)}


def watch_events(response: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """(type, object) of each event of a streaming watch response; ``Expired`` on ``410 Gone``."""
    for line in _lines(response):
        event = decoding.loads(line)
        kind, found = str(event.get("type") or ""), event.get("object") or {}
        if kind == "ERROR":
            if found.get("code") == 410:
                raise Expired(found.get("message") or "resource version too old")
            raise RuntimeError(f"{found.get('reason')}: {found.get('message')}")
        yield kind, found


def _lines(response: Any) -> Iterator[bytes]:
    """The non-empty newline-separated lines of a streaming watch response."""
    parts: list[bytes] = []
    for chunk in response.stream(amt=None, decode_content=False):
        while chunk:
            end = chunk.find(b"\n")
            if end < 0:
                parts.append(chunk)
                break
            parts.append(chunk[:end])
            line = b"".join(parts)
            parts.clear()
            if line.strip():
                yield line
            chunk = chunk[end + 1 :]
    tail = b"".join(parts)
    if tail.strip():
        yield tail


def _decode(raw: Any) -> Any:
    if isinstance(raw, bytes | bytearray):
        raw = raw.decode("utf-8", "replace")
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return raw


WORKLOAD_PATHS = {
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "StatefulSet": "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "DaemonSet": "/apis/apps/v1/namespaces/{ns}/daemonsets",
}


def workload_path(kind: str, namespace: str, name: str | None = None) -> str:
    base = WORKLOAD_PATHS[kind].format(ns=namespace)
    return f"{base}/{name}" if name else base
