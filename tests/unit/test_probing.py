"""The collector prober: one probe per target at a time, cached, a failure confirmed before it counts."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from cel_cases import monitored_service
from otelwire.assess.facts import ProbeResult
from otelwire.observe.probing import Prober, Target, probe, target_of
from otelwire.spec import MonitoredService, parse_monitored_service


def make_ms(endpoint: str, name: str = "order-service") -> MonitoredService:
    body = monitored_service({"tracing": {"otlp": {"endpoint": endpoint, "allowLoopback": True}}}, name=name)
    body["metadata"]["namespace"] = "shop"
    return parse_monitored_service(body)


class Scripted:
    """A probe function answering from a script of reachable values, counting calls."""

    def __init__(self, *answers: bool, delay: float = 0.0) -> None:
        self.answers = list(answers)
        self.delay = delay
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, target: Target, timeout: float) -> ProbeResult:
        time.sleep(self.delay)
        with self.lock:
            answer = self.answers[min(self.calls, len(self.answers) - 1)]
            self.calls += 1
        return ProbeResult(target.url, answer, "ok" if answer else "refused")


ENDPOINT = "http://collector.observability.svc:4318"


@pytest.mark.parametrize(
    ("answers", "reachable", "calls"),
    [
        ((True,), True, 1),  # reachable at once
        ((False, True), True, 2),  # one failed attempt is retried, the retry decides
        ((False, False), False, 2),  # confirmed failure is reported
        ((True, False), True, 1),  # no retry after a success
    ],
)
def test_a_failure_counts_only_when_the_retry_fails_too(answers: tuple[bool, ...], reachable: bool, calls: int) -> None:
    scripted = Scripted(*answers)
    prober = Prober(timeout=0.1, ttl=60, retry_pause=0.0, probe_once=scripted)
    result = prober.check(make_ms(ENDPOINT))
    assert result is not None and result.reachable is reachable
    assert scripted.calls == calls


def test_results_are_cached_per_target_until_the_ttl() -> None:
    scripted = Scripted(True)
    prober = Prober(timeout=0.1, ttl=0.3, retry_pause=0.0, probe_once=scripted)
    one, other = make_ms(ENDPOINT), make_ms(ENDPOINT, name="cart")
    for _ in range(5):
        prober.check(one)
        prober.check(other)
    assert scripted.calls == 1  # two services, one collector: one probe
    prober.check(make_ms("http://elsewhere.observability.svc:4318"))
    assert scripted.calls == 2  # another target is probed on its own
    time.sleep(0.35)
    prober.check(one)
    assert scripted.calls == 3  # expired: probed again


def test_concurrent_checks_share_one_probe() -> None:
    scripted = Scripted(True, delay=0.2)
    prober = Prober(timeout=0.1, ttl=60, retry_pause=0.0, probe_once=scripted)
    services = [make_ms(ENDPOINT, name=f"svc-{i}") for i in range(16)]
    results: list[ProbeResult | None] = []
    threads = [threading.Thread(target=lambda ms=ms: results.append(prober.check(ms))) for ms in services]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert scripted.calls == 1
    assert len(results) == 16 and all(r is not None and r.reachable for r in results)


@pytest.fixture
def collector() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200 if self.path == "/v1/traces" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_real_probe_of_a_listening_collector(collector: str) -> None:
    target = target_of(make_ms(collector))
    assert target is not None
    result = probe(target, 1.0)
    assert result.reachable is True, result.detail


def test_real_probe_of_a_closed_port_is_confirmed_and_named() -> None:
    prober = Prober(timeout=0.5, ttl=60, retry_pause=0.0)
    port = _closed_port()
    result = prober.check(make_ms(f"http://127.0.0.1:{port}"))
    assert result is not None and result.reachable is False
    assert f"127.0.0.1:{port}" in result.detail
