"""A tiny OTLP receiver for the end-to-end tests: OTLP/HTTP and OTLP/gRPC on loopback.

Why not a real OpenTelemetry Collector: the tests must run on a machine that
can only reach package registries, in well under a minute, and must look at
exactly what an SDK sent (resource attributes, trace and parent span ids).
Decoding with the official ``opentelemetry-proto`` messages keeps the receiver
honest: whatever the Go or Python SDK puts on the wire is parsed by the same
generated code a collector uses.

Both listeners bind port 0 on 127.0.0.1, so parallel runs never clash, and
every request is recorded with the transport it came over, so a test can say
"these spans arrived over gRPC" or "nothing hit an unexpected HTTP path"
(an endpoint with a doubled ``/v1/traces`` would show up there).
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterable
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

HOST = "127.0.0.1"


def any_value(value: AnyValue) -> Any:
    """Convert an OTLP AnyValue into the plain Python value it holds."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    return getattr(value, kind)


def attributes(kvs: Iterable[KeyValue]) -> dict[str, Any]:
    """Convert repeated OTLP KeyValues into a dict."""
    return {kv.key: any_value(kv.value) for kv in kvs}


@dataclass(frozen=True)
class ReceivedSpan:
    """One span as it arrived, flattened with its resource."""

    transport: str  # "http" or "grpc"
    resource: dict[str, Any]
    scope: str
    name: str
    kind: str  # e.g. "SPAN_KIND_SERVER"
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]

    @property
    def service_name(self) -> str:
        return str(self.resource.get("service.name", ""))


@dataclass(frozen=True)
class ReceivedMetric:
    """One metric (name only, with its resource) as it arrived."""

    transport: str
    resource: dict[str, Any]
    name: str


@dataclass
class _Store:
    spans: list[ReceivedSpan] = field(default_factory=list)
    metrics: list[ReceivedMetric] = field(default_factory=list)
    log_records: int = 0
    http_requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, content-type


class OtlpReceiver:
    """Records every span, metric name and log count sent over OTLP/HTTP or OTLP/gRPC."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._store = _Store()
        self._http = ThreadingHTTPServer((HOST, 0), self._handler_class())
        self._http.daemon_threads = True
        self._http_thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, name="otlp-http", daemon=True
        )
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        services: list[tuple[Callable[[Any, grpc.Server], None], object]] = [
            (trace_service_pb2_grpc.add_TraceServiceServicer_to_server, _TraceServicer(self)),
            (metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server, _MetricsServicer(self)),
            (logs_service_pb2_grpc.add_LogsServiceServicer_to_server, _LogsServicer(self)),
        ]
        for add_servicer, servicer in services:
            add_servicer(servicer, self._grpc)
        self.grpc_port = self._grpc.add_insecure_port(f"{HOST}:0")
        self.http_port = int(self._http.server_address[1])

    @property
    def http_endpoint(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def grpc_endpoint(self) -> str:
        return f"http://{HOST}:{self.grpc_port}"

    def start(self) -> OtlpReceiver:
        self._http_thread.start()
        self._grpc.start()
        return self

    def stop(self) -> None:
        self._grpc.stop(grace=None)
        self._http.shutdown()
        self._http.server_close()

    def __enter__(self) -> OtlpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what arrived -------------------------------------------------------

    def spans(self) -> list[ReceivedSpan]:
        with self._lock:
            return list(self._store.spans)

    def metrics(self) -> list[ReceivedMetric]:
        with self._lock:
            return list(self._store.metrics)

    def log_records(self) -> int:
        with self._lock:
            return self._store.log_records

    def http_requests(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self._store.http_requests)

    def wait_for(self, predicate: Callable[[OtlpReceiver], bool], timeout: float = 10.0) -> bool:
        """Wait until predicate(self) holds; return whether it did before the timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
            return True

    # --- recording (called from server threads) ---------------------------

    def record_traces(self, request: trace_service_pb2.ExportTraceServiceRequest, transport: str) -> None:
        received = []
        for rs in request.resource_spans:
            resource = attributes(rs.resource.attributes)
            for ss in rs.scope_spans:
                for span in ss.spans:
                    received.append(
                        ReceivedSpan(
                            transport=transport,
                            resource=resource,
                            scope=ss.scope.name,
                            name=span.name,
                            kind=Span.SpanKind.Name(span.kind),
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex(),
                            attributes=attributes(span.attributes),
                        )
                    )
        with self._lock:
            self._store.spans.extend(received)
            self._lock.notify_all()

    def record_metrics(self, request: metrics_service_pb2.ExportMetricsServiceRequest, transport: str) -> None:
        received = [
            ReceivedMetric(transport=transport, resource=attributes(rm.resource.attributes), name=m.name)
            for rm in request.resource_metrics
            for sm in rm.scope_metrics
            for m in sm.metrics
        ]
        with self._lock:
            self._store.metrics.extend(received)
            self._lock.notify_all()

    def record_logs(self, request: logs_service_pb2.ExportLogsServiceRequest) -> None:
        count = sum(len(sl.log_records) for rl in request.resource_logs for sl in rl.scope_logs)
        with self._lock:
            self._store.log_records += count
            self._lock.notify_all()

    def record_http_request(self, method: str, path: str, content_type: str) -> None:
        with self._lock:
            self._store.http_requests.append((method, path, content_type))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                content_type = self.headers.get("Content-Type", "")
                receiver.record_http_request("POST", self.path, content_type)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding", "") == "gzip":
                    body = gzip.decompress(body)
                if not content_type.startswith("application/x-protobuf"):
                    self._reply(415, b"only application/x-protobuf", "text/plain")
                    return
                response: Any
                # Any prefix is allowed: an endpoint may carry a base path (http://host:port/otlp).
                if self.path.endswith("/v1/traces"):
                    receiver.record_traces(trace_service_pb2.ExportTraceServiceRequest.FromString(body), "http")
                    response = trace_service_pb2.ExportTraceServiceResponse()
                elif self.path.endswith("/v1/metrics"):
                    receiver.record_metrics(metrics_service_pb2.ExportMetricsServiceRequest.FromString(body), "http")
                    response = metrics_service_pb2.ExportMetricsServiceResponse()
                elif self.path.endswith("/v1/logs"):
                    receiver.record_logs(logs_service_pb2.ExportLogsServiceRequest.FromString(body))
                    response = logs_service_pb2.ExportLogsServiceResponse()
                else:
                    self._reply(404, b"unknown OTLP path", "text/plain")
                    return
                self._reply(200, response.SerializeToString(), "application/x-protobuf")

            def _reply(self, code: int, body: bytes, content_type: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep pytest output clean; requests are recorded instead

        return Handler


class _TraceServicer(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(
        self, request: trace_service_pb2.ExportTraceServiceRequest, context: grpc.ServicerContext
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        self._receiver.record_traces(request, "grpc")
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsServicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(
        self, request: metrics_service_pb2.ExportMetricsServiceRequest, context: grpc.ServicerContext
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        self._receiver.record_metrics(request, "grpc")
        return metrics_service_pb2.ExportMetricsServiceResponse()


class _LogsServicer(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, receiver: OtlpReceiver) -> None:
        self._receiver = receiver

    def Export(
        self, request: logs_service_pb2.ExportLogsServiceRequest, context: grpc.ServicerContext
    ) -> logs_service_pb2.ExportLogsServiceResponse:
        self._receiver.record_logs(request)
        return logs_service_pb2.ExportLogsServiceResponse()
