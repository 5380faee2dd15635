"""Parsing and judging collector endpoints, without any I/O.

Endpoints are where most silent tracing failures start: OTLP left at
``localhost:4318`` inside a pod (which is the pod itself), the gRPC and HTTP
ports swapped, a Jaeger *collector* URL given where the *agent* host belongs.
The functions here normalise what a user wrote into the form SDKs read from
``OTEL_EXPORTER_OTLP_ENDPOINT`` and raise ``ValueError`` with a sentence that
explains the mistake; the pydantic model (``otelwire.spec.model``) calls them,
so ``render``, the webhook and the operator all judge endpoints the same way.
Loopback hosts raise :class:`LoopbackHost` and ports of the wrong protocol or
component :class:`PortMismatch` (both ``ValueError``), so the model can report
those two with the message of the CEL rule the API server applies.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final

OTLP_HTTP_PORT: Final = 4318
OTLP_GRPC_PORT: Final = 4317
JAEGER_AGENT_PORTS: Final = (5775, 6831, 6832)
JAEGER_COLLECTOR_PORTS: Final = {
    14268: "Jaeger collector HTTP",
    14250: "Jaeger collector gRPC",
    4317: "OTLP gRPC",
    4318: "OTLP HTTP",
    16686: "Jaeger query UI",
}

# host is a DNS name, an IPv4 address or a bracketed IPv6 address.
HOST_PATTERN: Final = r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)"
# A path: no ASCII whitespace and no '$', spelt out (not \s: Go's RE2, which judges the CRD, and
# Python's re disagree on \v and on Unicode spaces).
PATH_PATTERN: Final = r"(/[^\t\n\v\f\r\x20$]*)?"
OTLP_ENDPOINT_PATTERN: Final = rf"^(https?://)?{HOST_PATTERN}:[0-9]{{1,5}}{PATH_PATTERN}$"
URL_PATTERN: Final = rf"^https?://{HOST_PATTERN}(:[0-9]{{1,5}})?{PATH_PATTERN}$"
HOSTNAME_PATTERN: Final = rf"^{HOST_PATTERN}$"
# Used by CEL rules too (RE2 syntax): a loopback or unspecified host at the start of an endpoint.
LOOPBACK_CEL_REGEX: Final = r"(?i)^(https?://)?(localhost|[A-Za-z0-9.-]*\.localhost|127\.[0-9.]+|0\.0\.0\.0|\[::1?\]|\[0*:0*:0*:0*:0*:0*:0*:0*1?\])(:|/|$)"

_SPLIT = re.compile(
    r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?(?P<host>\[[^\]]*\]|[^:/]*)(?::(?P<port>[^/]*))?(?P<path>/.*)?$"
)


class LoopbackHost(ValueError):
    """The host is loopback (or unspecified): inside a pod that is the pod itself."""


class PortMismatch(ValueError):
    """The port belongs to another protocol or component (OTLP gRPC vs HTTP, Jaeger agent vs collector)."""


@dataclass(frozen=True)
class Endpoint:
    """A parsed ``scheme://host:port/path``."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.path}"


def is_loopback(host: str) -> bool:
    """True for hosts that, inside a pod, mean the pod itself."""
    bare = host.strip("[]").lower()
    if bare == "localhost" or bare.endswith(".localhost"):
        return True
    if re.fullmatch(r"127\.[0-9.]+", bare):
        return True  # also the short forms resolvers accept, like 127.1 (the CEL rule agrees)
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _as_the_api_server_reads(raw: str, pattern: str, explanation: str) -> None:
    """Refuse ``raw`` unless it matches, whole, the pattern the CRD gives the API server.

    Called after the checks that explain a mistake, for what only the pattern refuses: a trailing
    newline, an upper-case scheme, digits other than 0-9, whitespace or '$' in the path.
    """
    if re.fullmatch(pattern, raw) is None:
        raise ValueError(f"{raw!r} {explanation}")


_URL_EXPLANATION = (
    "is not a URL the API server accepts: a lower-case http:// or https://, a host of ASCII letters, "
    "digits, '.' and '-' (or a bracketed IPv6 address), a port of digits 0-9, no whitespace or '$' in the path"
)


def split(raw: str) -> tuple[str | None, str, str | None, str]:
    """Split an endpoint into (scheme, host, port text, path) without judging it."""
    match = _SPLIT.match(raw.strip())
    if not match:
        raise ValueError(f"cannot parse {raw!r} as host:port or scheme://host:port[/path]")
    return match["scheme"], match["host"], match["port"], match["path"] or ""


def _port(text: str | None, raw: str, hint: str) -> int:
    if text is None or text == "":
        raise ValueError(f"{raw!r} has no port; {hint}")
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{raw!r} has an invalid port {text!r}; ports are 1-65535")
    return int(text)


def parse_otlp(raw: str, protocol: str, allow_loopback: bool) -> Endpoint:
    """Normalise an OTLP endpoint for ``protocol`` or explain what is wrong with it."""
    scheme, host, port_text, path = split(raw)
    if scheme is None:
        scheme = "http"
    scheme = scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(
            f"scheme {scheme!r} is not supported; OTLP endpoints are http:// or https:// "
            f"(plain-text gRPC uses http://host:{OTLP_GRPC_PORT})"
        )
    if not host:
        raise ValueError(f"{raw!r} has no host; use e.g. http://otel-collector.observability.svc:4318")
    default = OTLP_GRPC_PORT if protocol == "grpc" else OTLP_HTTP_PORT
    port = _port(port_text, raw, f"add the collector's port, usually :{default} for {protocol}")
    if is_loopback(host) and not allow_loopback:
        raise LoopbackHost(
            f"host {host!r} is loopback: inside a pod that is the pod itself, not the collector; "
            "use the collector Service's DNS name (e.g. otel-collector.observability.svc), "
            "or set tracing.otlp.allowLoopback: true if a collector sidecar runs in the same pod"
        )
    if protocol == "grpc" and port == OTLP_HTTP_PORT:
        raise PortMismatch(
            f"port {OTLP_HTTP_PORT} is OTLP/HTTP but protocol is grpc; use port {OTLP_GRPC_PORT} "
            "or protocol http/protobuf"
        )
    if protocol.startswith("http/") and port == OTLP_GRPC_PORT:
        raise PortMismatch(
            f"port {OTLP_GRPC_PORT} is OTLP/gRPC but protocol is {protocol}; use port {OTLP_HTTP_PORT} or protocol grpc"
        )
    path = path.rstrip("/")
    if re.search(r"/v1/(traces|metrics|logs)$", path):
        raise ValueError(
            f"path {path!r} names a signal, but OTEL_EXPORTER_OTLP_ENDPOINT is a base URL and SDKs "
            "append /v1/traces themselves; remove the path"
        )
    if protocol == "grpc" and path:
        raise ValueError(f"gRPC endpoints take no path; remove {path!r}")
    _as_the_api_server_reads(raw, OTLP_ENDPOINT_PATTERN, _URL_EXPLANATION)
    return Endpoint(scheme, host.lower(), port, path)


def check_jaeger_agent_host(host: str, allow_loopback: bool) -> str:
    """The Jaeger agent is a host and a UDP port, never a URL."""
    if "://" in host or "/" in host or ":" in host.strip("[]"):
        raise ValueError(
            f"{host!r} is not a plain host: the Jaeger agent receives spans over UDP at host + port "
            "(6831 compact, 6832 binary), with no scheme or path; an http:// URL belongs in "
            "tracing.jaeger.collectorEndpoint (the collector, HTTP 14268 /api/traces)"
        )
    if is_loopback(host) and not allow_loopback:
        raise LoopbackHost(
            f"host {host!r} is loopback: inside a pod that is the pod itself; use the agent's "
            "Service or node address, or set tracing.jaeger.allowLoopback: true for an agent sidecar"
        )
    _as_the_api_server_reads(
        host,
        HOSTNAME_PATTERN,
        "is not a host the API server accepts: ASCII letters, digits, '.' and '-', or a bracketed IPv6 address",
    )
    return host


def check_jaeger_agent_port(port: int) -> int:
    if port in JAEGER_COLLECTOR_PORTS:
        raise PortMismatch(
            f"port {port} is the {JAEGER_COLLECTOR_PORTS[port]} port, not the agent's: the agent "
            "listens on UDP 6831 (compact thrift) or 6832 (binary thrift); to send to a collector "
            "over HTTP set tracing.jaeger.collectorEndpoint instead"
        )
    return port


def check_jaeger_collector(raw: str, allow_loopback: bool) -> str:
    """The Jaeger collector endpoint is an http(s) URL, never the agent's UDP port."""
    scheme, host, port_text, path = split(raw)
    if scheme is None or scheme.lower() not in ("http", "https"):
        raise ValueError(
            f"{raw!r} is not an http(s) URL: the Jaeger collector takes spans over HTTP, e.g. "
            "http://jaeger-collector.observability.svc:14268/api/traces; a bare host and UDP port "
            "belongs in tracing.jaeger.agent"
        )
    if not host:
        raise ValueError(f"{raw!r} has no host; use e.g. http://jaeger-collector.observability.svc:14268/api/traces")
    # A URL may leave the port out (80/443, e.g. a collector behind an ingress), as the CRD's pattern allows.
    port = None if port_text is None else _port(port_text, raw, "the Jaeger collector's HTTP port is usually 14268")
    if port in JAEGER_AGENT_PORTS:
        raise PortMismatch(
            f"port {port} is the Jaeger agent's UDP port; the collector listens on HTTP 14268 "
            "(/api/traces); set tracing.jaeger.agent for the agent instead"
        )
    if is_loopback(host) and not allow_loopback:
        raise LoopbackHost(
            f"host {host!r} is loopback: inside a pod that is the pod itself; use the collector "
            "Service's DNS name, or set tracing.jaeger.allowLoopback: true"
        )
    _as_the_api_server_reads(raw, URL_PATTERN, _URL_EXPLANATION)
    authority = host.lower() if port is None else f"{host.lower()}:{port}"
    return f"{scheme.lower()}://{authority}{path or '/api/traces'}"
