"""Where the API server is and who otelwire is to it, loaded once by the ``kubernetes`` package.

Every request of ``otelwire run`` -- kopf's session (``handlers.login``), the
reconciles' client, the pod informer, a standby's mirror -- and of ``otelwire
doctor`` starts from one :class:`ApiConfig`.  It is loaded by the ``kubernetes``
package's own loaders, so a kubeconfig means what it means to that well-kept
client: merged ``KUBECONFIG`` files with file names relative to the file naming
them, tokens and token files, client certificates, ``exec`` credential plugins
(EKS, GKE, AKS) and auth providers with their refresh, ``tls-server-name`` and
``proxy-url``; in a pod, the service account's token (re-read as the kubelet
rotates it), its CA, and the API server at ``KUBERNETES_SERVICE_HOST``/``PORT``.

Two rules are otelwire's: the first file of ``KUBECONFIG`` that sets
``current-context`` wins (kubectl's rule; the ``kubernetes`` package would take
the last), and a user that impersonates another (``as``, ``as-groups``, ...) is
refused with a clear error -- the ``kubernetes`` package would silently act as
the impersonating user instead.  Which source wins: ``--kubeconfig`` or
``$KUBECONFIG``, else the pod's service account, else ``~/.kube/config``.

Why this package and not a kubeconfig reader of our own: docs/decisions.md
("One API client") has the measurement.  Next in the flow: ``kube.client``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from kubernetes import client

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
# Kept-alive connections per client: the reconciles' client serves kopf's handler threads and
# the re-assessment threads at once (12); urllib3 closes, and logs a warning for, any beyond.
CONNECTIONS = 16
IMPERSONATION = ("as", "as-groups", "as-uid", "as-user-extra")


class ConfigError(Exception):
    """No usable configuration; the message says what is missing or refused."""


@dataclass(frozen=True)
class ApiConfig:
    """A loaded configuration: where the server is, the credentials, and where they came from."""

    configuration: client.Configuration
    source: str  # "in-cluster", or the kubeconfig file(s) and context
    default_namespace: str | None = None

    @property
    def server(self) -> str:
        return str(self.configuration.host)

    def refreshed(self) -> client.Configuration:
        """The configuration with its credentials as they are now (a rotated token, a renewed exec token)."""
        hook = self.configuration.refresh_api_key_hook
        if hook is not None:
            hook(self.configuration)
        return self.configuration

    def api_client(self, connections: int = CONNECTIONS) -> client.ApiClient:
        """A client with its own connection pool (a watch holds a connection for minutes)."""
        from kubernetes import client

        from otelwire import __version__

        configuration = copy.copy(self.configuration)
        configuration.connection_pool_maxsize = connections
        configuration.retries = False  # ``kube.client`` retries, and says so; urllib3 would retry unseen
        api = client.ApiClient(configuration)
        api.user_agent = f"otelwire/{__version__}"
        return api


def in_cluster(environ: Mapping[str, str] | None = None, root: Path | None = None) -> bool:
    """Whether this process runs in a pod: the kubelet's variables and a mounted token."""
    env = os.environ if environ is None else environ
    mounted = (SERVICE_ACCOUNT if root is None else root) / "token"
    return bool(env.get("KUBERNETES_SERVICE_HOST") and env.get("KUBERNETES_SERVICE_PORT")) and mounted.exists()


def load(kubeconfig: str | None = None, environ: Mapping[str, str] | None = None) -> ApiConfig:
    """The configuration of ``kubeconfig`` (or ``$KUBECONFIG``), else in-cluster, else ``~/.kube/config``."""
    from kubernetes import client, config

    env = os.environ if environ is None else environ
    named = kubeconfig or env.get("KUBECONFIG") or None
    configuration = client.Configuration()
    if named is None and in_cluster(env):
        try:
            config.load_incluster_config(client_configuration=configuration)
        except config.ConfigException as error:
            raise ConfigError(f"in-cluster configuration: {error}") from None
        namespace_file = SERVICE_ACCOUNT / "namespace"
        namespace = namespace_file.read_text(encoding="utf-8").strip() if namespace_file.exists() else None
        return ApiConfig(configuration, "in-cluster", namespace or None)
    listed = named or "~/.kube/config"
    context, user, namespace = _current(listed)
    impersonating = sorted(key for key in IMPERSONATION if key in user)
    if impersonating:
        raise ConfigError(
            f"the user of context {context!r} impersonates another ({', '.join(impersonating)}), which otelwire "
            "does not do: use a kubeconfig whose user is the identity the operator should act as"
        )
    try:
        config.load_kube_config(
            config_file=listed, context=context, client_configuration=configuration, persist_config=False
        )
    except (config.ConfigException, OSError, KeyError, ValueError) as error:
        raise ConfigError(f"kubeconfig {listed} (context {context!r}): {error}") from None
    return ApiConfig(configuration, f"{listed} (context {context})", namespace)


def _current(listed: str) -> tuple[str, Mapping[str, Any], str | None]:
    """The current context's name, user entry and namespace, with kubectl's merge rules: the first
    file to set ``current-context`` wins, and so does the first file to name a context or user."""
    paths = [Path(p.strip()).expanduser() for p in listed.split(os.pathsep) if p.strip()]
    current: str | None = None
    contexts: dict[str, Mapping[str, Any]] = {}
    users: dict[str, Mapping[str, Any]] = {}
    for path in paths:
        if not path.exists():
            if len(paths) == 1:
                raise ConfigError(f"kubeconfig {path} does not exist")
            continue  # KUBECONFIG may name files that are not there
        try:
            found = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"kubeconfig {path}: {error}") from None
        if not isinstance(found, dict):
            raise ConfigError(f"kubeconfig {path}: not a mapping")
        current = current or found.get("current-context") or None
        for section, field, into in (("contexts", "context", contexts), ("users", "user", users)):
            for item in found.get(section) or []:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    into.setdefault(item["name"], item.get(field) or {})
    if current is None:
        raise ConfigError(f"no current-context in {listed}")
    context = contexts.get(current)
    if context is None:
        raise ConfigError(f"kubeconfig names context {current!r}, which it does not define")
    user = users.get(str(context.get("user") or ""), {})
    namespace = context.get("namespace")
    return current, user, str(namespace) if namespace else None
