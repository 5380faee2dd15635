"""Prometheus job = service name: a PodMonitor per MonitoredService where the Prometheus Operator runs.

The Prometheus Operator's own CRDs (release v0.85.0, taken from its Go module by
``tests/partners/promop``; ``make partners``) are server-side-applied to the
plane, so what otelwire writes meets the real schema: pruning, enums, ranges.
The PodMonitor that ``otelwire render --generated --podmonitors`` prints and the
one the running operator creates must both be accepted unchanged, and a pod the
webhook admits while PodMonitors are served must carry no ``prometheus.io/*``
annotation (one scrape path per pod: a cluster discovering both would scrape it
twice) and must declare the port the PodMonitor selects.

The proof that such a pod is scraped at all: a real Prometheus (v3.5.0, the one the
Prometheus Operator v0.85.0 deploys, built by ``tests/partners/prometheus``) runs the
scrape configuration the Prometheus Operator's own generator writes for the
PodMonitor the operator created (``tests/partners/promop``'s ``promcfg``), with
Kubernetes discovery against this plane, and must find the pod as exactly one
target at that port -- and drop a pod that does not declare it.

CRDs are cluster-scoped and the plane is shared by the whole session: the
operator of every later module would discover PodMonitors and plan no scrape
annotations.  So this module deletes the CRDs it applied and waits until
discovery no longer serves ``monitoring.coreos.com/v1`` before the next module
runs.  On an existing cluster (``OTELWIRE_E2E_KUBECONFIG``) that already has
them, the CRDs are neither replaced nor deleted.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from dashboards.prometheus import Prometheus, free_port
from partners import binary, files
from plane import Plane
from support.rendering import render

from reconcile.harness import (
    ROOT,
    Collector,
    Operator,
    apply_services_first,
    condition,
    deployment,
    env_of,
    monitored_service,
    msvc,
    pods,
    running_operator,
    wait_for,
)

GROUP_VERSION = "/apis/monitoring.coreos.com/v1"
CRDS = {  # CRD name -> the file the Prometheus Operator ships it in
    "podmonitors.monitoring.coreos.com": "monitoring.coreos.com_podmonitors.yaml",
    "servicemonitors.monitoring.coreos.com": "monitoring.coreos.com_servicemonitors.yaml",
}
PROMOP_VERSION = "0.85.0"
SERVICE_MONITOR = ROOT / "manifests" / "components" / "monitoring" / "servicemonitor.yaml"


def _served(plane: Plane) -> set[str]:
    """The resources discovery lists under monitoring.coreos.com/v1 (empty when the group is gone)."""
    result = plane.kubectl("get", "--raw", GROUP_VERSION, check=False)
    if result.returncode != 0:
        return set()
    return {r["name"] for r in json.loads(result.stdout).get("resources") or []}


@pytest.fixture(scope="module")
def prometheus_operator_crds(crd: Plane) -> Iterator[Path]:
    folder = files("promop") / "example" / "prometheus-operator-crd"
    existing = {name for name in CRDS if crd.kubectl("get", "crd", name, check=False).returncode == 0}
    mine = [name for name in CRDS if name not in existing]
    try:
        for name in mine:
            # Server-side: a client-side apply would copy the whole schema into an annotation.
            crd.kubectl("apply", "--server-side", "--field-manager=otelwire-tests", "-f", str(folder / CRDS[name]))
        for name in CRDS:
            crd.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
        # The operator asks discovery, which lags Established by a moment.
        wait_for("discovery to serve podmonitors", lambda: {"podmonitors", "servicemonitors"} <= _served(crd), 60)
        yield folder
    finally:
        if mine:
            crd.kubectl("delete", "crd", *mine, "--ignore-not-found", "--wait=true", "--timeout=120s")
            wait_for(
                "discovery to stop serving monitoring.coreos.com/v1",
                lambda: not ({"podmonitors", "servicemonitors"} & _served(crd)),
                120,
            )


@pytest.fixture(scope="module")
def operator(
    crd: Plane, prometheus_operator_crds: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Operator]:
    """Started after the CRDs are served: the operator discovers PodMonitors at start-up."""
    running = Operator(crd, Path(tmp_path_factory.mktemp("operator"))).start()
    yield running
    running.stop()


def _podmonitor(plane: Plane, ns: str, name: str) -> dict[str, Any] | None:
    result = plane.kubectl("get", "podmonitor", name, "-n", ns, "-o", "json", check=False)
    return plane.kubectl_json("get", "podmonitor", name, "-n", ns) if result.returncode == 0 else None


def _rendered_podmonitor(ms: dict[str, Any]) -> dict[str, Any]:
    """The PodMonitor ``otelwire render --generated --podmonitors`` prints for ``ms``."""
    (found,) = render([ms], "--generated", "--podmonitors").of_kind("PodMonitor")
    return dict(found)


def _strict_dry_run(plane: Plane, obj: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    """Server-side apply as a dry run; unknown or duplicate fields are errors, not warnings."""
    return plane.kubectl(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--validate=strict",
        "--field-manager=otelwire-tests",
        "-f",
        "-",
        input=yaml.safe_dump(obj),
        check=False,
    )


def _scrape_annotations(pod: dict[str, Any]) -> dict[str, str]:
    annotations = pod["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k.startswith("prometheus.io/")}


def test_without_podmonitors_the_pods_carry_the_scrape_annotations(
    crd: Plane, collector: Collector, tmp_path: Path
) -> None:
    """The contrast, before this module applies the CRDs: no PodMonitors, so annotations are the scrape path.

    Runs first (pytest keeps file order), so it also fails when an earlier module left the CRDs
    behind -- or on an existing cluster that runs the Prometheus Operator, where no contrast exists.
    """
    assert not ({"podmonitors", "servicemonitors"} & _served(crd)), "PodMonitors are served before this module"
    ns = crd.create_namespace("podmonitor-none")
    with running_operator(crd, tmp_path):
        apply_services_first(
            crd,
            [
                monitored_service("stars", ns, collector.endpoint, metrics={"exporter": "prometheus"}),
                deployment("stars", ns, replicas=1),
            ],
        )
        crd.kubectl("rollout", "status", "deployment/stars", "-n", ns, "--timeout=90s")
    (pod,) = pods(crd, ns, "app=stars")
    assert pod["metadata"]["annotations"].get("otelwire.io/injected"), "the webhook admitted this pod"
    assert _scrape_annotations(pod) == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9464",
        "prometheus.io/path": "/metrics",
    }


def test_the_crds_are_the_prometheus_operators(crd: Plane, prometheus_operator_crds: Path) -> None:
    stored = crd.kubectl_json("get", "crd", "podmonitors.monitoring.coreos.com")
    assert stored["metadata"]["annotations"]["operator.prometheus.io/version"] == PROMOP_VERSION
    schema = stored["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert "x-kubernetes-preserve-unknown-fields" not in schema, "a schema, not a stand-in"
    endpoint = schema["properties"]["spec"]["properties"]["podMetricsEndpoints"]["items"]["properties"]
    assert endpoint["portNumber"]["type"] == "integer"


def test_the_rendered_podmonitor_is_accepted_by_the_real_schema(
    crd: Plane, prometheus_operator_crds: Path, collector: Collector
) -> None:
    ns = crd.create_namespace("podmonitor-schema")
    ms = monitored_service("ratings", ns, collector.endpoint, metrics={"exporter": "prometheus"})
    rendered = _rendered_podmonitor(ms)
    result = _strict_dry_run(crd, rendered)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr
    # The schema is in force: what otelwire must never write is refused, with the field named.
    endpoint = rendered["spec"]["podMetricsEndpoints"][0]
    for field, value, says in (
        ("portNumber", 70000, "portNumber"),
        ("portNumbr", 9464, ".spec.podMetricsEndpoints[0].portNumbr: field not declared in schema"),
        ("relabelings", [{"targetLabel": "job", "replacement": "x", "action": "Rename"}], "action"),
    ):
        wrong = json.loads(json.dumps(rendered))
        wrong["spec"]["podMetricsEndpoints"][0] = {**endpoint, field: value}
        refused = _strict_dry_run(crd, wrong)
        assert refused.returncode != 0 and says in refused.stderr, (field, refused.stderr)


def test_the_shipped_servicemonitor_is_accepted_by_the_real_schema(crd: Plane, prometheus_operator_crds: Path) -> None:
    ns = crd.create_namespace("servicemonitor-schema")
    shipped = yaml.safe_load(SERVICE_MONITOR.read_text())
    shipped["metadata"]["namespace"] = ns  # otelwire-system need not exist here
    result = _strict_dry_run(crd, shipped)
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr, result.stderr


def test_the_podmonitor_names_the_job_after_the_service_and_follows_the_spec(
    crd: Plane, operator: Operator, collector: Collector
) -> None:
    ns = crd.create_namespace("podmonitor")
    ms = monitored_service("reviews", ns, collector.endpoint, metrics={"exporter": "prometheus"})
    crd.apply(ms)
    found = wait_for("the PodMonitor", lambda: _podmonitor(crd, ns, "otelwire-reviews"), 60, explain=operator.tail)
    assert found["spec"]["jobLabel"] == "otelwire.io/service"
    assert found["spec"]["selector"] == {"matchLabels": {"otelwire.io/service": "reviews"}}
    assert found["spec"]["podMetricsEndpoints"][0]["portNumber"] == 9464
    # Stored as render prints it: the real schema pruned or defaulted nothing.
    rendered = _rendered_podmonitor(ms)
    assert found["spec"] == rendered["spec"]
    assert found["metadata"]["labels"] == rendered["metadata"]["labels"]
    (owner,) = found["metadata"]["ownerReferences"]
    assert owner["kind"] == "MonitoredService" and owner["uid"] == msvc(crd, ns, "reviews")["metadata"]["uid"]
    assert "PodMonitor or dashboard not applied" not in operator.log_path.read_text(errors="replace")
    crd.kubectl("patch", "msvc", "reviews", "-n", ns, "--type=merge", "-p", '{"spec":{"metrics":{"exporter":"otlp"}}}')
    wait_for(
        "the PodMonitor to go with the Prometheus path", lambda: _podmonitor(crd, ns, "otelwire-reviews") is None, 60
    )


def test_pods_the_podmonitor_selects_get_no_scrape_annotations(
    crd: Plane, operator: Operator, collector: Collector
) -> None:
    """One scrape path per pod: the PodMonitor selects the pod, and no annotation offers it again."""
    ns = crd.create_namespace("podmonitor-pods")
    ms = monitored_service("details", ns, collector.endpoint, metrics={"exporter": "prometheus"})
    apply_services_first(crd, [ms, deployment("details", ns)])
    crd.kubectl("rollout", "status", "deployment/details", "-n", ns, "--timeout=90s")
    running = pods(crd, ns, "app=details")
    assert len(running) == 2
    for pod in running:
        meta = pod["metadata"]
        assert meta["annotations"].get("otelwire.io/injected"), "the webhook admitted this pod"
        env = env_of(pod["spec"]["containers"][0])
        assert env["OTEL_METRICS_EXPORTER"]["value"] == "prometheus"
        assert env["OTEL_EXPORTER_PROMETHEUS_PORT"]["value"] == "9464"
        assert _scrape_annotations(pod) == {}, f"{meta['name']} would be scraped twice"
    monitor = wait_for("the PodMonitor", lambda: _podmonitor(crd, ns, "otelwire-details"), 60, explain=operator.tail)
    # The port the PodMonitor keeps targets by is declared where the SDK's exporter listens.
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    for pod in running:
        (app,) = pod["spec"]["containers"]
        assert app["ports"] == [{"name": "otel-metrics", "containerPort": endpoint["portNumber"], "protocol": "TCP"}]
    selector = ",".join(f"{k}={v}" for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    assert {p["metadata"]["name"] for p in pods(crd, ns, selector)} == {p["metadata"]["name"] for p in running}
    # The operator judges the pods by the same plan the webhook used: none is outdated.
    crd.kubectl("wait", "--for=condition=Ready", "msvc/details", "-n", ns, "--timeout=60s")
    status = msvc(crd, ns, "details")["status"]
    assert status["workloads"] == {"matched": 2, "instrumented": 2, "outdated": 0, "missing": 0}
    assert condition({"status": status}, "Injected")["status"] == "True"


def _scrape_config(monitor: dict[str, Any], kubeconfig: Path, proxy: str) -> dict[str, Any]:
    """What the Prometheus Operator writes for ``monitor``, as its config reloader hands it over, aimed at this plane.

    Generated by the operator's own code (``promcfg``); then what its config reloader
    substitutes (``$(SHARD)``, ``$(POD_NAME)``), and two changes for a test outside a
    cluster: discovery authenticates with the plane's kubeconfig instead of a ServiceAccount,
    and scrapes go through a proxy on a closed loopback port -- the pods' IPs are kwok's
    fakes, and Prometheus talks to nothing but loopback.
    """
    generated = subprocess.run(
        [str(binary("promop", "promcfg"))], input=json.dumps(monitor), capture_output=True, text=True, check=True
    ).stdout
    config: dict[str, Any] = yaml.safe_load(generated.replace("$(SHARD)", "0").replace("$(POD_NAME)", "prometheus-0"))
    for job in config["scrape_configs"]:
        for discovery in job["kubernetes_sd_configs"]:
            assert "api_server" not in discovery  # in a cluster: the in-cluster config
            discovery["kubeconfig_file"] = str(kubeconfig)
        job["proxy_url"] = proxy
    return config


def _discovered(prometheus: Prometheus, namespace: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(active, dropped) targets of pods in ``namespace``."""
    data = prometheus.discovery()
    mine = [
        [t for t in data[key] if t["discoveredLabels"].get("__meta_kubernetes_namespace") == namespace]
        for key in ("activeTargets", "droppedTargets")
    ]
    return mine[0], mine[1]


def test_prometheus_scrapes_the_pods_the_podmonitor_selects_at_its_port(
    crd: Plane, operator: Operator, collector: Collector, tmp_path: Path
) -> None:
    """The real proof: Prometheus, configured as the Prometheus Operator configures it, finds the pod's port.

    Pod discovery yields one target per declared container port, and a target without a
    port number for a container that declares none; the PodMonitor's ``portNumber`` keeps
    only targets with that number. A pod as otelwire admitted it before it declared the
    exporter's port (everything else alike) is discovered and dropped: scraped by nothing.
    """
    server = urlsplit(yaml.safe_load(crd.kubeconfig.read_text())["clusters"][0]["cluster"]["server"])
    assert server.hostname in ("127.0.0.1", "localhost", "::1"), f"the API server {server.netloc} is not on loopback"
    ns = crd.create_namespace("podmonitor-scrape")
    ms = monitored_service("ratings", ns, collector.endpoint, metrics={"exporter": "prometheus"})
    apply_services_first(crd, [ms, deployment("ratings", ns, replicas=1)])
    crd.kubectl("rollout", "status", "deployment/ratings", "-n", ns, "--timeout=90s")
    (pod,) = pods(crd, ns, "app=ratings")
    monitor = wait_for("the PodMonitor", lambda: _podmonitor(crd, ns, "otelwire-ratings"), 60, explain=operator.tail)
    port = monitor["spec"]["podMetricsEndpoints"][0]["portNumber"]
    # The same pod without the port, selected by the PodMonitor but not by the MonitoredService
    # (its app label differs), so the webhook leaves it as it is.
    (app,) = pod["spec"]["containers"]
    before = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "ratings-without-port",
            "namespace": ns,
            "labels": {**pod["metadata"]["labels"], "app": "ratings-before"},
            "annotations": pod["metadata"]["annotations"],
        },
        "spec": {"containers": [{"name": "app", "image": app["image"], "env": app["env"]}]},
    }
    crd.apply([before])
    wait_for(
        "the pod without the port to run",
        lambda: crd.kubectl_json("get", "pod", "ratings-without-port", "-n", ns).get("status", {}).get("podIP"),
        60,
    )
    stored = crd.kubectl_json("get", "pod", "ratings-without-port", "-n", ns)
    assert "ports" not in stored["spec"]["containers"][0], "the webhook left it alone"

    config = _scrape_config(monitor, crd.kubeconfig, f"http://127.0.0.1:{free_port()}")
    (job,) = config["scrape_configs"]
    keep = {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_number"], "regex": port}
    assert keep in job["relabel_configs"], "the rule that drops a pod without the port"
    prometheus = Prometheus(tmp_path, {}, binary=binary("prometheus", "prometheus"), config=config)
    try:
        prometheus.wait_ready()

        def both_discovered() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
            active, dropped = _discovered(prometheus, ns)
            names = {t["discoveredLabels"].get("__meta_kubernetes_pod_name") for t in active + dropped}
            return (active, dropped) if {pod["metadata"]["name"], "ratings-without-port"} <= names else None

        active, dropped = wait_for("Prometheus to discover both pods", both_discovered, 60, explain=prometheus.log)
        ip = crd.kubectl_json("get", "pod", pod["metadata"]["name"], "-n", ns)["status"]["podIP"]
        (target,) = active
        assert target["scrapePool"] == job["job_name"]
        assert target["discoveredLabels"]["__meta_kubernetes_pod_name"] == pod["metadata"]["name"]
        assert target["discoveredLabels"]["__meta_kubernetes_pod_container_port_name"] == "otel-metrics"
        assert target["labels"] == {
            "container": "app",
            "instance": f"{ip}:{port}",
            "job": "ratings",
            "namespace": ns,
            "pod": pod["metadata"]["name"],
        }
        assert target["scrapeUrl"] == f"http://{ip}:{port}/metrics"
        (without,) = [
            t for t in dropped if t["discoveredLabels"]["__meta_kubernetes_pod_name"] == "ratings-without-port"
        ]
        assert "__meta_kubernetes_pod_container_port_number" not in without["discoveredLabels"]
        assert without["discoveredLabels"]["__meta_kubernetes_pod_label_otelwire_io_service"] == "ratings"
    finally:
        prometheus.stop()
