"""Is the collector there?  A short, cached check per endpoint, for ``CollectorReachable``.

For OTLP/HTTP a POST of an *empty* export request to ``/v1/traces`` (or
``/v1/metrics``): a collector answers 2xx, or 4xx for a request it dislikes
-- either way it is listening at the right path; 404 means the path is
wrong.  For gRPC and the Jaeger collector a TCP connect.  A Jaeger agent
speaks UDP, which cannot be probed: that is reported as Unknown, not as
success.  Results are cached per endpoint so 1,000 MonitoredServices sharing
a collector cost one probe per TTL.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from otelwire.assess.facts import ProbeResult
from otelwire.spec import endpoints
from otelwire.spec.model import MonitoredService


@dataclass(frozen=True)
class Target:
    url: str
    protocol: str  # http/protobuf | http/json | grpc | tcp | udp
    path: str = ""


def target_of(ms: MonitoredService) -> Target | None:
    tracing, metrics = ms.spec.tracing, ms.spec.metrics
    if tracing.exporter == "otlp" or metrics.exporter == "otlp":
        signal = "/v1/traces" if tracing.exporter == "otlp" else "/v1/metrics"
        return Target(tracing.otlp.resolved_endpoint, tracing.otlp.protocol, signal)
    if tracing.exporter == "jaeger" and tracing.jaeger is not None:
        collector = tracing.jaeger.resolved_collector
        if collector:
            return Target(collector, "tcp")
        if tracing.jaeger.agent is not None:
            return Target(f"udp://{tracing.jaeger.agent.host}:{tracing.jaeger.agent.port}", "udp")
    return None


def probe(target: Target, timeout: float) -> ProbeResult:
    if target.protocol == "udp":
        return ProbeResult(target.url, None, "a Jaeger agent listens on UDP, which cannot be probed")
    scheme, host, port_text, path = endpoints.split(target.url)
    host = host.strip("[]")
    port = int(port_text or (443 if scheme == "https" else 80))
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as error:
        return ProbeResult(target.url, False, f"TCP connect to {host}:{port} failed: {error}")
    if target.protocol not in ("http/protobuf", "http/json"):
        return ProbeResult(target.url, True, f"TCP connect to {host}:{port} succeeded")
    body, content_type = (
        (b"{}", "application/json") if target.protocol == "http/json" else (b"", "application/x-protobuf")
    )
    full_path = f"{path.rstrip('/')}{target.path}"
    try:
        if scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.request("POST", full_path, body=body, headers={"Content-Type": content_type})
            status = conn.getresponse().status
        finally:
            conn.close()
    except (OSError, http.client.HTTPException) as error:
        return ProbeResult(target.url, False, f"POST {full_path} failed: {error}")
    if status == 404:
        return ProbeResult(target.url, False, f"POST {full_path} answered 404: no OTLP receiver at this path")
    if 200 <= status < 500:
        return ProbeResult(target.url, True, f"OTLP/HTTP export request answered {status}")
    return ProbeResult(target.url, False, f"POST {full_path} answered {status}")


class Prober:
    """Thread-safe cache of probe results, one entry per target.

    One probe per target at a time: worker threads asking while it runs wait for
    its result instead of probing too (1,000 services sharing a collector must not
    open 1,000 connections when the entry expires).  A failure is confirmed by a
    second attempt after ``retry_pause`` before it is reported: one dropped SYN or
    a collector busy for a moment is not an outage, and reporting it would flip
    ``Ready`` of every service using that collector.
    """

    def __init__(
        self,
        timeout: float = 2.0,
        ttl: float = 30.0,
        retry_pause: float = 0.5,
        probe_once: Callable[[Target, float], ProbeResult] = probe,
    ) -> None:
        self.timeout = timeout
        self.ttl = ttl
        self.retry_pause = retry_pause
        self._probe_once = probe_once
        self._cache: dict[Target, tuple[float, ProbeResult]] = {}
        self._lock = threading.Lock()
        self._probing: dict[Target, threading.Lock] = {}

    def _fresh(self, target: Target) -> ProbeResult | None:
        with self._lock:
            cached = self._cache.get(target)
        return cached[1] if cached is not None and cached[0] > time.monotonic() else None

    def check(self, ms: MonitoredService) -> ProbeResult | None:
        target = target_of(ms)
        if target is None:
            return None
        found = self._fresh(target)
        if found is not None:
            return found
        with self._lock:
            single = self._probing.setdefault(target, threading.Lock())
        with single:
            found = self._fresh(target)  # probed by another thread while this one waited
            if found is not None:
                return found
            result = self._probe_once(target, self.timeout)
            if result.reachable is False:
                time.sleep(self.retry_pause)
                result = self._probe_once(target, self.timeout)
            with self._lock:
                self._cache[target] = (time.monotonic() + self.ttl, result)
            return result
