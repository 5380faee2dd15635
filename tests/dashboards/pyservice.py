"""The Python sample for the dashboard tests: a WSGI app under OpenTelemetry's own instrumentation.

Run it under ``opentelemetry-instrument`` with the variables otelwire injects
(``OTEL_SERVICE_NAME``, ``OTEL_METRICS_EXPORTER=prometheus``,
``OTEL_EXPORTER_PROMETHEUS_HOST/PORT``) plus ``OTEL_SEMCONV_STABILITY_OPT_IN=http``:
the distro builds the meter provider and starts the SDK's Prometheus exporter,
and ``OpenTelemetryMiddleware`` (opentelemetry-instrumentation-wsgi) records
``http.server.request.duration`` the way the stable HTTP semantic conventions
say.  Nothing here names a metric, so the test checks what the SDK really emits.

GET /work answers 200, GET /fail 500 (a server error for the error panels),
anything else 404.  Prints "listening on HOST:PORT" once bound; SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

StartResponse = Callable[..., Any]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    status, body = {"/work": ("200 OK", b"ok\n"), "/fail": ("500 Internal Server Error", b"failed\n")}.get(
        path, ("404 Not Found", b"not found\n")
    )
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", default="127.0.0.1:0")
    host, _, port = parser.parse_args().listen.rpartition(":")
    server: WSGIServer = make_server(host, int(port), OpenTelemetryMiddleware(app), handler_class=QuietHandler)

    def stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    print(f"listening on {host}:{server.server_port}", flush=True)
    server.serve_forever()
    server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
