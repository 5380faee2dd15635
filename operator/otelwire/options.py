"""The operator's options: one frozen dataclass, its defaults in one place.

``otelwire run`` turns its flags into ``OTELWIRE_*`` environment variables, so
that ``kopf run -m otelwire.handlers`` is configured the same way, and the
operator reads them back with :meth:`Options.from_env`.  ``otelwire render
--generated`` reads the same defaults to print what the operator would create.
Pure: no kopf, no API client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

OPERATOR_NAMESPACE = "otelwire-system"
# Clock sync needs CAP_SYS_TIME, which Pod Security admits only at the privileged level: the
# chrony DaemonSet has a namespace of its own at that level (manifests/default), so the
# operator's namespace stays restricted.
CHRONY_NAMESPACE = "otelwire-chrony"
CHRONY_IMAGE = "ghcr.io/otelwire/chrony:4.3-bookworm"
CHRONY_SERVERS = "0.pool.ntp.org,1.pool.ntp.org,2.pool.ntp.org,3.pool.ntp.org"
ALIAS_CONFIGMAP = "otelwire-collector-rules"


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    return float(raw) if raw else default


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    return default if raw in (None, "") else raw.lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Options:
    reassess_interval: float = 60.0
    operator_namespace: str = OPERATOR_NAMESPACE
    webhook_enabled: bool = True
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 9443
    webhook_cert_dir: str = ""  # in-cluster: a mounted Secret with tls.crt / tls.key
    webhook_register: str = "auto"  # auto: register a URL webhook when running outside a cluster
    webhook_config_name: str = "otelwire-local"
    probe_timeout: float = 2.0
    probe_ttl: float = 30.0
    restart_min_interval: float = 300.0
    chrony_namespace: str = CHRONY_NAMESPACE
    chrony_image: str = CHRONY_IMAGE
    chrony_servers: str = CHRONY_SERVERS
    chrony_priority_class: str = ""  # none by default: see docs/clock.md, "Priority"
    alias_configmap: str = ALIAS_CONFIGMAP
    alias_namespace: str = OPERATOR_NAMESPACE
    metrics_port: int = 8080
    list_chunk_size: int = 100  # objects per page of kopf's and the pod watch's lists (0: one response per list)
    worker_idle_timeout: float = 1.0  # seconds an object's kopf worker waits for its next event
    peering_lifetime: int | None = None  # seconds a replica's peering record stays valid (None: kopf's 60)
    watch_namespaces: tuple[str, ...] = ()  # served namespaces (empty: the whole cluster); kopf patterns allowed
    api_connections: int | None = None  # kopf's connection bound (0: unbounded; None: from the namespaces served)

    @property
    def namespace_patterns(self) -> bool:
        """Whether a served namespace is a kopf pattern (``*``, ``?``, ``[``, ``!``): kopf resolves those."""
        return any(any(c in ns for c in "*?[!") for ns in self.watch_namespaces)

    @property
    def servers(self) -> list[str]:
        """``chrony_servers`` as a list."""
        return [s.strip() for s in self.chrony_servers.split(",") if s.strip()]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Options:
        env = os.environ if environ is None else environ
        d = cls()
        namespace = env.get("OTELWIRE_NAMESPACE") or d.operator_namespace
        lifetime = env.get("OTELWIRE_PEERING_LIFETIME")
        return cls(
            reassess_interval=_float(env, "OTELWIRE_REASSESS_INTERVAL", d.reassess_interval),
            operator_namespace=namespace,
            webhook_enabled=_bool(env, "OTELWIRE_WEBHOOK", d.webhook_enabled),
            webhook_host=env.get("OTELWIRE_WEBHOOK_HOST") or d.webhook_host,
            webhook_port=int(env.get("OTELWIRE_WEBHOOK_PORT") or d.webhook_port),
            webhook_cert_dir=env.get("OTELWIRE_WEBHOOK_CERT_DIR", d.webhook_cert_dir),
            webhook_register=env.get("OTELWIRE_WEBHOOK_REGISTER") or d.webhook_register,
            webhook_config_name=env.get("OTELWIRE_WEBHOOK_CONFIG_NAME") or d.webhook_config_name,
            probe_timeout=_float(env, "OTELWIRE_PROBE_TIMEOUT", d.probe_timeout),
            probe_ttl=_float(env, "OTELWIRE_PROBE_TTL", d.probe_ttl),
            restart_min_interval=_float(env, "OTELWIRE_RESTART_MIN_INTERVAL", d.restart_min_interval),
            chrony_namespace=env.get("OTELWIRE_CHRONY_NAMESPACE") or d.chrony_namespace,
            chrony_image=env.get("OTELWIRE_CHRONY_IMAGE") or d.chrony_image,
            chrony_servers=env.get("OTELWIRE_CHRONY_SERVERS") or d.chrony_servers,
            chrony_priority_class=env.get("OTELWIRE_CHRONY_PRIORITY_CLASS", d.chrony_priority_class),
            alias_configmap=env.get("OTELWIRE_ALIAS_CONFIGMAP") or d.alias_configmap,
            alias_namespace=env.get("OTELWIRE_ALIAS_NAMESPACE") or namespace,
            metrics_port=int(env.get("OTELWIRE_METRICS_PORT") or d.metrics_port),
            list_chunk_size=max(0, int(env.get("OTELWIRE_LIST_CHUNK_SIZE") or d.list_chunk_size)),
            worker_idle_timeout=max(0.1, _float(env, "OTELWIRE_WORKER_IDLE_TIMEOUT", d.worker_idle_timeout)),
            peering_lifetime=max(1, int(lifetime)) if lifetime else None,
            watch_namespaces=tuple(ns for ns in env.get("OTELWIRE_WATCH_NAMESPACES", "").split(",") if ns),
            api_connections=max(0, int(connections)) if (connections := env.get("OTELWIRE_API_CONNECTIONS")) else None,
        )
