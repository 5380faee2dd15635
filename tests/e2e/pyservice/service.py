"""Python twin of the Go sample: a service configured only by OTEL_* variables.

It is meant to run under ``opentelemetry-instrument`` (opentelemetry-distro),
which builds the tracer provider, exporter, sampler, resource and propagators
from the same variables otelwire injects into a Go service. The code below
uses only the OpenTelemetry *API* (no SDK objects, no names, no endpoints),
which is how a service stays language-neutral with respect to its config.

GET /work answers "ok", or first calls ``--downstream`` + "/work". Incoming
context is extracted from the request headers and outgoing context injected
(``traceparent``), so it joins traces with the Go service in either role. The
listen address is printed as "listening on HOST:PORT" once bound; SIGTERM
stops the server and the SDK's exit hook flushes the spans.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from opentelemetry import propagate, trace

tracer = trace.get_tracer("otelwire.e2e.pyservice")


def make_handler(downstream: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path != "/work":
                self._reply(404, b"not found\n")
                return
            # HTTP header names are case-insensitive; the propagators look up lowercase keys.
            parent = propagate.extract({k.lower(): v for k, v in self.headers.items()})
            with tracer.start_as_current_span(
                "GET /work", context=parent, kind=trace.SpanKind.SERVER, attributes={"http.route": "/work"}
            ):
                if not downstream:
                    self._reply(200, b"ok\n")
                    return
                headers: dict[str, str] = {}
                with tracer.start_as_current_span("GET", kind=trace.SpanKind.CLIENT):
                    propagate.inject(headers)
                    request = urllib.request.Request(downstream + "/work", headers=headers)
                    with urllib.request.urlopen(request, timeout=10) as response:
                        body = response.read()
                self._reply(200, body)

        def _reply(self, code: int, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--downstream", default="")
    args = parser.parse_args()

    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host, int(port)), make_handler(args.downstream))
    server.daemon_threads = True

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bound_host, bound_port = server.server_address[:2]
    print(f"listening on {bound_host!s}:{bound_port}", flush=True)
    server.serve_forever()
    server.server_close()
    # The SDK flushes on interpreter exit; be explicit so the intent is visible.
    provider = trace.get_tracer_provider()
    shutdown = getattr(provider, "shutdown", None)
    if callable(shutdown):
        shutdown()
    sys.exit(0)


if __name__ == "__main__":
    main()
