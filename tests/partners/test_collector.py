"""The collector rules otelwire ships, run by a real OpenTelemetry Collector.

``otelwire render --generated`` prints the rules ConfigMap the operator would
apply; its ``otelwire-aliases.yaml`` goes to the collector built in
``tests/partners/otelcol`` (contrib v0.161.0: otlp receiver, transform
processor, file exporter, otelcol-contrib's config providers) as a second
``--config``, exactly as docs/collector.md tells users to pass it.  Each test
sends one OTLP/HTTP request per signal whose resources are named by aliases
and by look-alikes, and reads what the file exporters wrote: every resource
carries the name it was sent with in a second attribute, so the output says,
per signal, which name became which.

The hostile aliases are the ones a real collector turned against us: it
expands ``${...}`` in every config source and turns ``$$`` into ``$``, so an
alias could read the collector's environment or files, rename services it
does not name, or stop the collector at start.  Everything stays on loopback.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, LogsData, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Gauge,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, TracesData
from support.rendering import render
from support.waiting import wait_for

from partners import binary

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
SENT = "otelwire.test.sent"  # the name a resource was sent with; no rule touches it
SIGNALS = ("traces", "metrics", "logs")
HOSTNAME_FILE = Path("/etc/hostname")


# ---------------------------------------------------------------- the rules, as otelwire ships them


def monitored_service(name: str, aliases: Sequence[str]) -> dict[str, object]:
    return {
        "apiVersion": "otelwire.io/v1alpha1",
        "kind": "MonitoredService",
        "metadata": {"name": name, "namespace": "shop"},
        "spec": {"aliases": list(aliases)},
    }


def shipped_rules(tmp_path: Path, services: Mapping[str, Sequence[str]]) -> Path:
    """``otelwire-aliases.yaml`` from ``otelwire render --generated``, written to a file for ``--config``."""
    manifests = [monitored_service(n, a) for n, a in services.items()]
    (configmap,) = [
        doc
        for doc in render(manifests, "--generated", cwd=REPO).of_kind("ConfigMap")
        if doc["metadata"]["name"] == "otelwire-collector-rules"
    ]
    rules = tmp_path / "otelwire-aliases.yaml"
    rules.write_text(configmap["data"]["otelwire-aliases.yaml"])
    return rules


# ---------------------------------------------------------------- the collector


def base_config(port: int, out: Path) -> dict[str, object]:
    """The user's own collector.yaml: OTLP/HTTP on loopback, one file exporter per signal, our processor."""
    exporters = {f"file/{signal}": {"path": str(out / f"{signal}.pb"), "format": "proto"} for signal in SIGNALS}
    for exporter in exporters.values():
        exporter["flush_interval"] = "100ms"
    return {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"{HOST}:{port}"}}}},
        "exporters": exporters,
        "service": {
            "telemetry": {"metrics": {"level": "none"}},  # no :8888 listener
            "pipelines": {
                signal: {
                    "receivers": ["otlp"],
                    "processors": ["transform/otelwire-aliases"],
                    "exporters": [f"file/{signal}"],
                }
                for signal in SIGNALS
            },
        },
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def resource(name: str) -> Resource:
    return Resource(
        attributes=[
            KeyValue(key="service.name", value=AnyValue(string_value=name)),
            KeyValue(key=SENT, value=AnyValue(string_value=name)),
        ]
    )


def requests(names: Sequence[str]) -> dict[str, bytes]:
    """One OTLP export request per signal, with one resource per name, serialized."""
    now = time.time_ns()
    span = Span(
        trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="probe", start_time_unix_nano=now, end_time_unix_nano=now
    )
    point = NumberDataPoint(time_unix_nano=now, as_int=1)
    record = LogRecord(time_unix_nano=now, body=AnyValue(string_value="probe"))
    traces = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource(n), scope_spans=[ScopeSpans(spans=[span])]) for n in names]
    )
    metrics = ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                resource=resource(n),
                scope_metrics=[ScopeMetrics(metrics=[Metric(name="probe", gauge=Gauge(data_points=[point]))])],
            )
            for n in names
        ]
    )
    logs = ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=resource(n), scope_logs=[ScopeLogs(log_records=[record])]) for n in names]
    )
    return {
        "traces": traces.SerializeToString(),
        "metrics": metrics.SerializeToString(),
        "logs": logs.SerializeToString(),
    }


def read_resources(path: Path, signal: str) -> list[Resource]:
    """The resources in a file exporter's ``format: proto`` output: 4-byte big-endian length, then a message."""
    data = path.read_bytes() if path.exists() else b""
    found: list[Resource] = []
    while len(data) >= 4:
        (size,) = struct.unpack(">I", data[:4])
        if len(data) < 4 + size:
            break  # a message still being written
        chunk, data = data[4 : 4 + size], data[4 + size :]
        if signal == "traces":
            found += [r.resource for r in TracesData.FromString(chunk).resource_spans]
        elif signal == "metrics":
            found += [r.resource for r in MetricsData.FromString(chunk).resource_metrics]
        else:
            found += [r.resource for r in LogsData.FromString(chunk).resource_logs]
    return found


def attribute(res: Resource, key: str) -> str | None:
    for kv in res.attributes:
        if kv.key == key:
            kind = kv.value.WhichOneof("value")
            return kv.value.string_value if kind == "string_value" else f"<{kind}>"
    return None


@dataclass(frozen=True)
class Observed:
    names: dict[str, dict[str, str | None]]  # signal -> sent name -> service.name written out
    log: str

    def warnings(self) -> list[str]:
        """Log lines at warn level or above (the console encoder puts the level in the second field)."""
        return [line for line in self.log.splitlines() if line.split("\t")[1:2] in (["warn"], ["error"])]


def run_collector(rules: Path, names: Sequence[str], env: Mapping[str, str], tmp_path: Path) -> Observed:
    """Start the collector with the user's config and ``rules``, send ``names`` in every signal, stop it."""
    otelcol = binary("otelcol", "otelcol")
    out = tmp_path / "out"
    out.mkdir()
    port = free_port()
    base = tmp_path / "collector.yaml"
    base.write_text(yaml.safe_dump(base_config(port, out)))
    log = tmp_path / "collector.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [str(otelcol), f"--config={base}", f"--config={rules}"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        )
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"the collector exited with {proc.returncode}:\n{log.read_text()}", pytrace=False)
            return "Everything is ready" in log.read_text()

        wait_for("the collector to start", ready, 30, 0.05, explain=log.read_text)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only, never a proxy
        for signal, body in requests(names).items():
            request = urllib.request.Request(
                f"http://{HOST}:{port}/v1/{signal}",
                data=body,
                headers={"Content-Type": "application/x-protobuf"},
            )
            with opener.open(request, timeout=10) as response:
                assert response.status == 200, f"{signal}: HTTP {response.status}"
        for signal in SIGNALS:

            def arrived(path: Path = out / f"{signal}.pb", signal: str = signal) -> bool:
                return len(read_resources(path, signal)) >= len(names)

            wait_for(f"{len(names)} {signal} resources", arrived, 30, 0.05, explain=log.read_text)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    observed: dict[str, dict[str, str | None]] = {}
    for signal in SIGNALS:
        written = read_resources(out / f"{signal}.pb", signal)
        assert len(written) == len(names), f"{signal}: {len(written)} resources written for {len(names)} sent"
        observed[signal] = {str(attribute(r, SENT)): attribute(r, "service.name") for r in written}
    return Observed(observed, log.read_text())


def assert_renamed(observed: Observed, expected: Mapping[str, str]) -> None:
    for signal in SIGNALS:
        assert observed.names[signal] == dict(expected), signal


# ---------------------------------------------------------------- the tests


def test_aliases_are_renamed_in_traces_metrics_and_logs_and_nothing_else_is(tmp_path: Path) -> None:
    rules = shipped_rules(
        tmp_path, {"order-service": ["order_service", "OrderService"], "billing": ["BillingService", "billing_v2"]}
    )
    aliases = {
        "order_service": "order-service",
        "OrderService": "order-service",
        "BillingService": "billing",
        "billing_v2": "billing",
    }
    untouched = ["order-service", "billing", "ORDER_SERVICE", "orderservice", "order_service2", "Billing", "", "cart"]
    observed = run_collector(rules, [*aliases, *untouched], {}, tmp_path)
    assert_renamed(observed, {**aliases, **{name: name for name in untouched}})
    # The collector rewrites a path without its context prefix, and asks the user to (at info level).
    assert [line for line in observed.log.splitlines() if "please rewrite them accordingly" in line] == []
    assert observed.warnings() == []


def test_without_rules_the_collector_starts_and_passes_everything_through(tmp_path: Path) -> None:
    # The only alias is claimed by both services, so it is left out: the operator ships the empty form.
    rules = shipped_rules(tmp_path, {"payments": ["legacy"], "refunds": ["legacy"]})
    processor = yaml.safe_load(rules.read_text())["processors"]["transform/otelwire-aliases"]
    assert all(processor[f"{s}_statements"] == [] for s in ("trace", "metric", "log")), processor
    names = ["legacy", "payments", "refunds", ""]
    observed = run_collector(rules, names, {}, tmp_path)
    assert_renamed(observed, {name: name for name in names})
    assert observed.warnings() == []


PAYMENTS_ALIASES = [
    "${PAYMENT_SVC}",
    "${env:PAYMENT_SVC}",
    "$${PAYMENT_SVC}",
    "${file:/etc/hostname}",
    "pay$$svc",
    "a$",
    "$",
    "$$",
    'we"ird',
    "back\\slash",
    "\\",
    '\\"',
    "\\u0041",
    "bell\a",
    "注文サービス",
]
BILLING_ALIASES = ["${billing:v1}", "${yaml:billing}"]
# What the collector made of the aliases above when they reached it unescaped, and other near misses.
LOOK_ALIKES = [
    "orders",
    "",
    "PAYMENT_SVC",
    "pay$svc",
    "a",
    "we",
    "back",
    "A",
    "payments",
    "billing",
    "billing:v1",
]


@pytest.mark.parametrize(
    "env",
    [{"PAYMENT_SVC": "orders"}, {"PAYMENT_SVC": ""}, {}],
    ids=["env-set", "env-empty", "env-unset"],
)
def test_hostile_aliases_are_matched_literally(tmp_path: Path, env: dict[str, str]) -> None:
    rules = shipped_rules(tmp_path, {"payments": PAYMENTS_ALIASES, "billing": BILLING_ALIASES})
    look_alikes = list(LOOK_ALIKES)
    if HOSTNAME_FILE.is_file():
        hostname = HOSTNAME_FILE.read_text()
        look_alikes += [name for name in {hostname, hostname.strip()} if name not in look_alikes]
    expected = {
        **{alias: "payments" for alias in PAYMENTS_ALIASES},
        **{alias: "billing" for alias in BILLING_ALIASES},
        **{name: name for name in look_alikes},
    }
    observed = run_collector(rules, list(expected), env, tmp_path)
    assert_renamed(observed, expected)
    assert observed.warnings() == []
