"""otelwire's requests to the API server: raw JSON through the ``kubernetes`` package's HTTP client.

The operator needs a handful of calls kopf does not make for it: list
workloads and pods, server-side apply, merge patches for status and rollout
restarts, and (for a local run) its webhook configuration.  :class:`Kube`
sends them as raw JSON -- no generated model classes (``CoreV1Api`` alone costs
20 MB of RSS) -- through an ``ApiClient`` from :mod:`otelwire.kube.config`,
with retries and backoff for conflicts, throttling, transient server errors
and refused connections, so nothing is lost when the API server hiccups; a
``401`` refreshes the credentials once (a rotated token).  ``stream`` is one
request left unread, for the informer's lists and watches
(:mod:`otelwire.kube.informing`).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

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


class Kube:
    """Raw JSON requests with retries, through one ``ApiClient`` (one connection pool)."""

    def __init__(
        self,
        api: client.ApiClient,
        attempts: int = 5,
        backoff: float = 0.2,
        refresh: Callable[[], object] | None = None,
    ) -> None:
        self.api = api
        self.attempts = attempts
        self.backoff = backoff
        self.refresh = refresh  # renews the credentials after a 401

    def send(self, method: str, path: str, headers: Mapping[str, str], body: Any, timeout: Any) -> Any:
        """One request (``body``: JSON data or None); the unread urllib3 response, whatever its status."""
        from kubernetes.client.exceptions import ApiException  # imported with the ApiClient already

        _, url, params, data, _ = self.api.param_serialize(
            method, path, header_params=dict(headers), body=body, auth_settings=["BearerToken"]
        )
        try:
            return self.api.call_api(method, url, header_params=params, body=data, _request_timeout=timeout).response
        except ApiException as error:  # raised by the client for a few statuses, and for TLS failures
            return _Failed(int(error.status or 0), error.body or str(error.reason or "").encode())

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
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.send(method, path, headers, body, timeout)
                try:
                    status, raw = int(response.status), response.data or b""
                finally:
                    response.release_conn()
            except Exception as error:  # connection refused, timeouts, TLS resets
                status, raw = 0, str(error).encode()
            payload = _decode(raw)
            if 200 <= status < 300:
                return payload
            if status == 401 and not refreshed and self.refresh is not None:
                refreshed = True  # a rotated token: read the credentials again, once
                self.refresh()
                continue
            retriable = status in RETRIABLE or status == 0
            if status == 409 and not retry_conflicts:
                retriable = False
            if not retriable or attempt >= self.attempts:
                raise KubeError(status, payload, method, path)
            logger.info(
                "%s %s: HTTP %s, retrying in %.1fs (%d/%d)", method, path, status, delay, attempt, self.attempts
            )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def stream(self, path: str, query: Mapping[str, str], timeout: Any) -> Any:
        """One GET, no retries (the informer has its own); the unread response to read as it comes.

        An error status raises ``KubeError`` with the API server's message.
        """
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        response = self.send("GET", path, {"Accept": "application/json"}, None, timeout)
        if response.status != 200:
            body = response.data or b""
            response.release_conn()
            raise KubeError(int(response.status), _decode(body), "GET", path)
        return response

    def get(self, path: str, **query: str) -> Any:
        return self.request("GET", path, query=query or None)

    def apply(self, path: str, body: Mapping[str, Any], *, manager: str = MANAGER, force: bool = False) -> Any:
        """Server-side apply of ``body`` as ``manager``; a conflict (409) is the caller's to judge."""
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
        """Delete; None when it was already gone."""
        try:
            return self.request("DELETE", path)
        except KubeError as error:
            if error.status == 404:
                return None
            raise


class _Failed:
    """An error response the client raised instead of returning, in a response's shape."""

    def __init__(self, status: int, data: bytes | str) -> None:
        self.status = status
        self.data = data.encode() if isinstance(data, str) else data

    def release_conn(self) -> None:
        pass


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


def connect(kubeconfig: str | None = None, attempts: int = 5) -> Kube:
    """A client from ``kubeconfig`` (``kube.config.load``'s order), with its own connections."""
    from otelwire.kube.config import load

    found = load(kubeconfig)
    return Kube(found.api_client(), attempts=attempts, refresh=found.refreshed)
