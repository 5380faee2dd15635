"""A small synchronous Kubernetes REST client over the official client's transport.

The operator needs a handful of calls kopf does not make for it: list
workloads, server-side apply, merge patches for rollout restarts, and (for a
local run) the webhook configuration.  They go through ``kubernetes``'
``ApiClient`` (so kubeconfig, in-cluster tokens and exec plugins all work) as
raw JSON, with retries and backoff for conflicts, throttling and transient
server errors so nothing is lost when the API server hiccups.

``kubernetes`` is imported when a configuration is loaded, not with this
module: it takes about 0.4 s, and the operator serves its webhook before it
needs the API (see ``otelwire.cli.run``).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Mapping
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
    """Requests say they are otelwire's: the API server's audit log, and the field manager of any
    write that names none, read ``otelwire/<version>`` instead of the generated client's name."""
    from otelwire import __version__

    api.user_agent = f"{MANAGER}/{__version__}"
    return api


class Kube:
    """Raw JSON requests with retries."""

    def __init__(self, api: client.ApiClient, attempts: int = 5, backoff: float = 0.2) -> None:
        self.api = api
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
        from kubernetes.client.exceptions import ApiException  # imported with the ApiClient already

        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:
                response = self._call(method, path, headers, body, timeout)
                response.read()
                status = int(response.status)
                raw: Any = response.data or b""
            except ApiException as error:
                status, raw = int(error.status or 0), (error.body or b"")
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

    def _call(self, method: str, path: str, headers: Mapping[str, str], body: Any, timeout: Any) -> Any:
        """One request through the ApiClient's own path (auth, TLS, proxy); the unread response."""
        _, url, params, data, _ = self.api.param_serialize(
            method, path, header_params=dict(headers), body=body, auth_settings=["BearerToken"]
        )
        return self.api.call_api(method, url, header_params=params, body=data, _request_timeout=timeout)

    def stream(self, path: str, query: Mapping[str, str], timeout: Any) -> Any:
        """One GET, no retries (a watch loop has its own); the unread urllib3 response to read as it comes.

        An error status raises ``KubeError`` with the API server's message.
        """
        from kubernetes.client.exceptions import ApiException  # imported with the ApiClient already

        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        try:
            response = self._call("GET", path, {"Accept": "application/json"}, None, timeout)
        except ApiException as error:
            raise KubeError(int(error.status or 0), _decode(error.body or b""), "GET", path) from error
        if response.status != 200:
            raise KubeError(int(response.status), _decode(response.read() or b""), "GET", path)
        return response.response

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
