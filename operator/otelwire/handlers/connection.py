"""Where the API server is and how otelwire proves who it is, without the ``kubernetes`` package.

``otelwire run`` makes every request -- kopf's session (``connecting``), the
reconciles' ``kube.Kube``, the pod watch and a standby's mirror -- from one
:class:`Connection`:

* in a pod: the service account's token, CA and namespace, and the API server
  the kubelet names in ``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT``
  (as client-go's in-cluster configuration does);
* else the kubeconfig's current context (``--kubeconfig``, else ``KUBECONFIG``
  with its merge rules, else ``~/.kube/config``) when its user authenticates
  with a token, a token file, a client certificate or a password.

A kubeconfig whose user needs more -- an ``exec`` plugin (EKS, GKE, AKS), an
``auth-provider``, impersonation -- raises :class:`NeedsClient`, and the caller
falls back to the ``kubernetes`` client, which runs the plugins (and, as
before this module, does not impersonate).  The split is about memory:
importing ``kubernetes`` costs ~7.5 MB of the operator's RSS
(docs/benchmarks-cluster.md, "Memory").  A token file is read again for each
request: the kubelet rotates bound service-account tokens in place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import kopf
import urllib3
import yaml

from otelwire.handlers.kube import user_agent

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
# Kept-alive connections per transport: the reconciles' client serves kopf's handler threads and
# the re-assessment threads at once (12); urllib3 closes, and logs a warning for, any beyond.
CONNECTIONS = 16


class NeedsClient(Exception):
    """The kubeconfig's user authenticates in a way only the ``kubernetes`` client implements."""


class ConfigError(Exception):
    """No usable configuration: no kubeconfig, no current context, or one that names nothing."""


@dataclass(frozen=True)
class Connection:
    """An API server and credentials; ``token_file``, when set, is read for every request."""

    info: kopf.ConnectionInfo
    token_file: str | None = None

    def current(self) -> kopf.ConnectionInfo:
        """The connection info with the token as the token file holds it now."""
        if not self.token_file:
            return self.info
        return replace(self.info, token=Path(self.token_file).read_text(encoding="utf-8").strip() or None)

    def headers(self) -> dict[str, str]:
        return self.current().as_http_headers()


def find(kubeconfig: str | None = None) -> Connection | None:
    """``kubeconfig``'s files, else the pod's service account, else ``~/.kube/config``; None when
    the kubeconfig needs the ``kubernetes`` client.  ``ConfigError`` when there is nothing usable."""
    try:
        return (in_cluster() if not kubeconfig else None) or from_kubeconfig(kubeconfig)
    except NeedsClient:
        return None


def in_cluster(environ: Mapping[str, str] | None = None, root: Path | None = None) -> Connection | None:
    """The pod's service account, or None outside a pod."""
    env = os.environ if environ is None else environ
    root = SERVICE_ACCOUNT if root is None else root
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "")
    token = root / "token"
    if not host or not port or not token.exists():
        return None
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    ca = root / "ca.crt"
    namespace = root / "namespace"
    info = kopf.ConnectionInfo(
        server=f"https://{host}:{port}",
        ca_path=str(ca) if ca.exists() else None,
        default_namespace=(namespace.read_text(encoding="utf-8").strip() or None) if namespace.exists() else None,
    )
    return Connection(info, token_file=str(token))


def from_kubeconfig(path: str | None = None, environ: Mapping[str, str] | None = None) -> Connection:
    """The current context of ``path``, else of ``KUBECONFIG``'s files merged, else ``~/.kube/config``.

    As kubectl merges: the first file to set ``current-context`` wins, and so does the first
    file to name a context, cluster or user.  Relative file names in a file are relative to it.
    """
    env = os.environ if environ is None else environ
    listed = path or env.get("KUBECONFIG") or "~/.kube/config"
    paths = [Path(p.strip()).expanduser() for p in listed.split(os.pathsep) if p.strip()]
    current: str | None = None
    named: dict[str, dict[str, tuple[Path, dict[str, Any]]]] = {"contexts": {}, "clusters": {}, "users": {}}
    for file in paths:
        if not file.exists():
            if len(paths) == 1:
                raise ConfigError(f"kubeconfig {file} does not exist")
            continue  # KUBECONFIG may name files that are not there
        try:
            config = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"kubeconfig {file}: {error}") from None
        if not isinstance(config, dict):
            raise ConfigError(f"kubeconfig {file}: not a mapping")
        current = current or config.get("current-context") or None
        for section, field in (("contexts", "context"), ("clusters", "cluster"), ("users", "user")):
            for item in config.get(section) or []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    named[section].setdefault(item["name"], (file.parent, item.get(field) or {}))
    if current is None:
        raise ConfigError(f"no current-context in {os.pathsep.join(map(str, paths))}")
    context = _entry(named, "contexts", current)[1]
    base, cluster = _entry(named, "clusters", str(context.get("cluster") or ""))
    user_base, user = _entry(named, "users", str(context.get("user") or "")) if context.get("user") else (base, {})
    if user.get("exec") or user.get("auth-provider"):
        raise NeedsClient(f"the user of context {current!r} authenticates with a plugin")
    if any(key.startswith("as") for key in user):  # as, as-groups, as-uid, as-user-extra
        raise NeedsClient(f"the user of context {current!r} impersonates another")
    if not cluster.get("server"):
        raise ConfigError(f"cluster {context.get('cluster')!r} of context {current!r} has no server")
    token_file = user.get("tokenFile")
    try:
        info = _info(base, user_base, cluster, user, context, token_file)
    except ValueError as error:  # kopf's own checks: a CA both as a file and as data, and such
        raise ConfigError(f"context {current!r}: {error}") from None
    return Connection(info, token_file=_file(user_base, token_file))


def _info(
    base: Path, user_base: Path, cluster: dict[str, Any], user: dict[str, Any], context: dict[str, Any], token_file: Any
) -> kopf.ConnectionInfo:
    return kopf.ConnectionInfo(
        server=str(cluster["server"]).rstrip("/"),
        ca_path=_file(base, cluster.get("certificate-authority")),
        ca_data=cluster.get("certificate-authority-data"),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        certificate_path=_file(user_base, user.get("client-certificate")),
        certificate_data=user.get("client-certificate-data"),
        private_key_path=_file(user_base, user.get("client-key")),
        private_key_data=user.get("client-key-data"),
        username=user.get("username"),
        password=user.get("password"),
        token=None if token_file else user.get("token"),
        default_namespace=context.get("namespace"),
        proxy_url=cluster.get("proxy-url"),
    )


def _entry(
    named: dict[str, dict[str, tuple[Path, dict[str, Any]]]], section: str, name: str
) -> tuple[Path, dict[str, Any]]:
    found = named[section].get(name)
    if found is None:
        raise ConfigError(f"kubeconfig names {section[:-1]} {name!r}, which it does not define")
    return found


def _file(base: Path, name: Any) -> str | None:
    if not name:
        return None
    path = Path(str(name)).expanduser()
    return str(path if path.is_absolute() else base / path)


class HttpTransport:
    """Requests over urllib3 (the ``kubernetes`` client's own HTTP layer) from a :class:`Connection`."""

    def __init__(self, connection: Connection, connections: int = CONNECTIONS) -> None:
        info = connection.info
        self.connection = connection
        self.server = info.server
        options: dict[str, Any] = {"num_pools": 2, "maxsize": connections, "ssl_context": info.as_ssl_context()}
        if info.insecure:
            options.update(cert_reqs="CERT_NONE", assert_hostname=False)
        self.pool: urllib3.PoolManager = (
            urllib3.ProxyManager(info.proxy_url, **options) if info.proxy_url else urllib3.PoolManager(**options)
        )
        self.user_agent = user_agent()

    def send(self, method: str, path: str, headers: Mapping[str, str], body: Any, timeout: Any) -> Any:
        """One request; the unread response, whatever its status."""
        sent = {**headers, "User-Agent": self.user_agent, **self.connection.headers()}
        return self.pool.request(
            method,
            self.server + path,
            body=None if body is None else json.dumps(body).encode(),
            headers=sent,
            timeout=_timeout(timeout),
            preload_content=False,
            retries=False,
            redirect=False,
        )


def _timeout(timeout: Any) -> urllib3.Timeout:
    if isinstance(timeout, tuple):
        connect, read = timeout
        return urllib3.Timeout(connect=connect, read=read)
    return urllib3.Timeout(total=timeout)
