"""Every panel query of both dashboards, run against a real Prometheus scraping real targets.

Prometheus (Debian's binary, loopback, temp storage, 1 s scrapes) scrapes the
operator's ``/metrics`` under the job the ServiceMonitor gives it
(``otelwire-metrics``) and two sample services under job = service name, as
otelwire's PodMonitor does: the Go sample (``otelhttp``) and a Python WSGI app
(OpenTelemetry's WSGI instrumentation), both exporting through their SDK's
Prometheus exporter with the env otelwire plans (see :mod:`samples`).  Each
panel target, with the dashboard variables substituted as Grafana would, must
parse and return at least one series.  Everything is torn down by the
module fixture's ExitStack, pass or fail.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
from otelwire import metrics
from otelwire.dashboards import PanelQuery, operator_dashboard, panel_queries, service_dashboard_configmap
from otelwire.dashboards import queries as q

from .prometheus import Prometheus, free_port
from .samples import OperatorActivity, Service, Traffic, get, go_service, monitored_service, python_service

OPERATOR_JOB = "otelwire-metrics"  # the job name the ServiceMonitor (Service otelwire-metrics) gives
GO, PY = "orders-go", "orders-py"
RATE_INTERVAL = "5s"  # what Grafana's $__rate_interval is at a 1 s scrape interval (4 x 1 s, rounded up)
VARIABLES = {"job": OPERATOR_JOB, "namespace": ".*", "__rate_interval": RATE_INTERVAL}
QUERY_TIMEOUT = 30.0


def _dashboards() -> dict[str, dict[str, Any]]:
    out = {"operator": operator_dashboard()}
    for name in (GO, PY):
        cm = service_dashboard_configmap(monitored_service(name), "shop")
        out[name] = json.loads(cm["data"][f"shop-{name}.json"])
    return out


DASHBOARDS = _dashboards()
CASES = [
    pytest.param(name, query, id=f"{name}:{query.panel}:{query.ref_id}")
    for name, dashboard in DASHBOARDS.items()
    for query in panel_queries(dashboard)
]


@dataclass
class Stack:
    prometheus: Prometheus
    services: dict[str, Service]
    traffic: Traffic

    def series(self, expr: str, timeout: float = QUERY_TIMEOUT) -> list[dict[str, Any]]:
        """The instant result of ``expr`` once it has one; AssertionError on a parse error or none in time."""
        deadline = time.monotonic() + timeout
        while True:
            answer = self.prometheus.query(expr)
            assert answer.get("status") == "success", f"{expr}\n  -> {answer.get('errorType')}: {answer.get('error')}"
            result: list[dict[str, Any]] = answer["data"]["result"]
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no series for {expr} after {timeout}s\n  targets: {self.prometheus.targets()}"
                    f"\n  traffic errors: {self.traffic.errors[-3:]}"
                )
            time.sleep(0.25)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from e2e.harness import build_go_service  # the e2e suite's Go sample, built into .cache/e2e

    workdir: Path = tmp_path_factory.mktemp("dashboards")
    with contextlib.ExitStack() as cleanup:
        go_ms = monitored_service(GO, metrics_port=free_port())
        py_ms = monitored_service(PY, metrics_port=free_port())
        activity = OperatorActivity([go_ms, py_ms])
        activity.reconcile(go_ms)
        activity.admit(go_ms)

        port = free_port()
        server, _ = prometheus_client.start_http_server(port, addr="127.0.0.1", registry=metrics.REGISTRY)
        cleanup.callback(server.server_close)
        cleanup.callback(server.shutdown)

        services: dict[str, Service] = {}
        for ms, start in (
            (go_ms, lambda ms: go_service(build_go_service(), ms, workdir)),
            (py_ms, lambda ms: python_service(ms, workdir)),
        ):
            service = start(ms)
            cleanup.callback(service.stop)
            services[ms.service_name] = service
        addresses = {name: service.wait_listening() for name, service in services.items()}

        def requests(name: str, paths: tuple[str, ...]) -> list[Any]:
            return [lambda path=path: get(f"http://{addresses[name]}{path}") for path in paths]

        traffic = Traffic(
            [
                *requests(GO, ("/work", "/work", "/work", "/missing")),
                *requests(PY, ("/work", "/work", "/fail", "/missing")),
                lambda: activity.admit(go_ms),
                lambda: activity.admit(go_ms, namespace="elsewhere"),  # unmatched
                lambda: activity.reconcile(py_ms),
            ]
        )
        cleanup.callback(traffic.stop)

        jobs = {OPERATOR_JOB: f"127.0.0.1:{port}"}
        jobs |= {ms.service_name: f"127.0.0.1:{ms.spec.metrics.prometheus.port}" for ms in (go_ms, py_ms)}
        prometheus = Prometheus(workdir, jobs)
        cleanup.callback(prometheus.stop)
        prometheus.wait_ready()
        yield Stack(prometheus, services, traffic)


def test_every_target_is_scraped(stack: Stack) -> None:
    deadline = time.monotonic() + QUERY_TIMEOUT
    while (health := stack.prometheus.targets()) != {OPERATOR_JOB: "up", GO: "up", PY: "up"}:
        assert time.monotonic() < deadline, f"targets: {health}\n{stack.prometheus.log()}"
        time.sleep(0.2)


@pytest.mark.parametrize(("dashboard", "query"), CASES)
def test_panel_query_returns_series(stack: Stack, dashboard: str, query: PanelQuery) -> None:
    expr = query.substituted(VARIABLES)
    assert "$" not in expr, f"unsubstituted variable in {expr}"
    stack.series(expr)


def test_every_dashboard_has_queries() -> None:
    assert {name: len(panel_queries(d)) > 5 for name, d in DASHBOARDS.items()} == dict.fromkeys(DASHBOARDS, True)


def test_variable_queries_find_the_jobs_and_namespaces(stack: Stack) -> None:
    stack.series(f"{q.RECONCILE_SECONDS}_count")
    # label_values(metric, label), as Grafana's Prometheus datasource asks it.
    assert stack.prometheus.label_values("job", f"{q.RECONCILE_SECONDS}_count") == [OPERATOR_JOB]
    stack.series(q.PODS)
    assert stack.prometheus.label_values("namespace", q.PODS) == ["shop"]


def _value(series: dict[str, Any]) -> float:
    return float(series["value"][1])


def _substituted(expr: str) -> str:
    return PanelQuery("", "", expr, True).substituted(VARIABLES)


def test_red_panels_see_what_the_services_did(stack: Stack) -> None:
    # The Python sample answers 500 on /fail (a quarter of its traffic), the Go one never does.
    stack.series(_substituted(q.request_rate(PY)))
    deadline = time.monotonic() + QUERY_TIMEOUT
    while not _value(stack.series(_substituted(q.error_ratio(PY)))[0]) > 0:
        assert time.monotonic() < deadline, "the Python sample's 500s never showed in the error ratio"
        time.sleep(0.5)
    assert _value(stack.series(_substituted(q.error_ratio(GO)))[0]) == 0  # 'or vector(0)': no 5xx is 0, not empty
    routes = {s["metric"].get("http_route") for s in stack.series(_substituted(q.requests_by_route(GO)))}
    assert "/work" in routes, routes  # otelhttp takes http.route from Go 1.22's ServeMux pattern
    codes = {
        s["metric"].get("http_response_status_code") for s in stack.series(_substituted(q.responses_by_status(PY)))
    }
    assert {"200", "404", "500"} <= codes, codes
    p95 = _value(stack.series(_substituted(q.latency(GO, 0.95)))[0])
    assert math.isfinite(p95) and 0 < p95 < 10, p95


def test_operator_panels_see_what_the_operator_did(stack: Stack) -> None:
    results = {s["metric"]["result"] for s in stack.series(_substituted(q.admissions_by_result()))}
    assert {"injected", "unmatched"} <= results, results
    missing = _value(stack.series(_substituted(q.pods_uninstrumented()))[0])
    assert missing == 2, missing  # one pod without the plan, for each of the two services


def test_the_check_fails_on_a_wrong_metric_name_and_on_a_syntax_error(stack: Stack) -> None:
    with pytest.raises(AssertionError, match="no series"):
        stack.series('sum(rate(http_server_duration_milliseconds_count{job="orders-go"}[5s]))', timeout=2)
    with pytest.raises(AssertionError, match="bad_data"):
        stack.series("sum(rate(http_server_request_duration_seconds_count[5s])", timeout=2)
