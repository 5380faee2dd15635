"""The dashboards' structure, without a Prometheus: manifest in sync, ConfigMap shape, trace links.

The queries themselves are checked against a real Prometheus in test_queries.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from otelwire import metrics
from otelwire.dashboards import (
    operator_dashboard,
    operator_manifest,
    panel_queries,
    service_dashboard,
    service_dashboard_configmap,
)
from otelwire.dashboards.inspecting import substitute
from otelwire.dashboards.traces import explore_url
from otelwire.spec.model import parse_monitored_service

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "manifests" / "dashboards" / "operator-dashboard.yaml"
LINK_VARIABLES = {"traces": "tempo-uid", "__from": "1767225600000", "__to": "1767229200000", "__org": "1"}


def ms(name: str = "order-service", namespace: str = "shop", **spec: Any) -> Any:
    return parse_monitored_service({"metadata": {"name": name, "namespace": namespace}, "spec": spec})


def test_checked_in_manifest_matches_the_generator() -> None:
    assert MANIFEST.read_text() == operator_manifest(), (
        f"{MANIFEST.relative_to(REPO)} is stale: regenerate it with `make dashboards`"
    )


def test_manifest_is_a_sidecar_configmap_with_the_dashboard() -> None:
    cm = yaml.safe_load(MANIFEST.read_text())
    assert cm["kind"] == "ConfigMap"
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == "otelwire-system"
    assert json.loads(cm["data"]["otelwire-operator.json"]) == operator_dashboard()


def test_operator_dashboard_shows_every_metric_the_operator_exports() -> None:
    exprs = " ".join(query.expr for query in panel_queries(operator_dashboard()))
    families = {family.name for family in metrics.REGISTRY.collect()}
    assert families, "otelwire.metrics.REGISTRY exports nothing?"
    assert {name: name in exprs for name in sorted(families)} == dict.fromkeys(sorted(families), True)


@pytest.mark.parametrize("dashboard", [operator_dashboard(), service_dashboard("order-service", "shop")])
def test_layout_ids_and_datasources(dashboard: dict[str, Any]) -> None:
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert ids == list(range(1, len(panels) + 1))
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
            assert panel.get("description"), f"{panel['title']} has no description"
            assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])
    assert len({p["title"] for p in panels}) == len(panels)


def test_service_configmap_for_the_grafana_sidecar() -> None:
    cm = service_dashboard_configmap(ms(serviceName="orders"), "shop")
    assert cm["metadata"] == {
        "name": "otelwire-dashboard-orders",
        "namespace": "shop",
        "labels": {
            "grafana_dashboard": "1",
            "app.kubernetes.io/managed-by": "otelwire",
            "otelwire.io/service": "orders",
        },
    }
    (key,) = list(cm["data"])
    assert key.endswith("-orders.json") and key == f"{cm['metadata']['namespace']}-orders.json"
    dashboard = json.loads(cm["data"][key])
    assert dashboard == service_dashboard("orders", "shop")
    assert len(dashboard["uid"]) <= 40
    assert dashboard["uid"] != service_dashboard("orders", "staging")["uid"]
    # Every query is keyed by the Prometheus job = the service name (not metadata.name).
    assert all('job="orders"' in q.expr for q in panel_queries(dashboard))


def test_service_configmap_is_deterministic() -> None:
    assert service_dashboard_configmap(ms(), "shop") == service_dashboard_configmap(ms(), "shop")


def _panes(url: str) -> dict[str, Any]:
    parts = urlsplit(substitute(url, LINK_VARIABLES))
    assert parts.path == "/explore"
    query = parse_qs(parts.query)
    assert query["orgId"] == ["1"]
    panes: dict[str, Any] = json.loads(query["panes"][0])
    return panes


def test_trace_links_open_explore_on_the_service_name() -> None:
    dashboard = service_dashboard("order-service", "shop")
    urls = [dashboard["links"][0]["url"]]
    for panel in dashboard["panels"]:
        if panel["type"] != "row" and panel["title"] != "Scrape targets up":
            urls += [link["url"] for link in panel["links"]]
            urls += [link["url"] for link in (panel["fieldConfig"]["defaults"].get("links") or [])]
    assert len(urls) > 8 and len(set(urls)) == 1
    pane = _panes(urls[0])["traces"]
    assert pane["datasource"] == "tempo-uid"
    assert pane["range"] == {"from": "1767225600000", "to": "1767229200000"}
    assert pane["queries"][0]["query"] == '{resource.service.name="order-service"}'
    assert pane["queries"][0]["datasource"] == {"type": "tempo", "uid": "tempo-uid"}
    traces_variable = next(v for v in dashboard["templating"]["list"] if v["name"] == "traces")
    assert traces_variable["type"] == "datasource" and traces_variable["query"] == "tempo"


def test_jaeger_trace_link() -> None:
    query = _panes(explore_url("order-service", "jaeger"))["traces"]["queries"][0]
    assert query == {
        "refId": "A",
        "datasource": {"type": "jaeger", "uid": "tempo-uid"},
        "queryType": "search",
        "service": "order-service",
    }
    dashboard = service_dashboard("order-service", "shop", traces_backend="jaeger")
    assert next(v for v in dashboard["templating"]["list"] if v["name"] == "traces")["query"] == "jaeger"


def test_importing_the_package_does_not_import_the_sdk() -> None:
    code = "import sys, otelwire.dashboards; print('grafana_foundation_sdk' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_manifests_dashboards_is_a_kustomize_component(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl") or next(iter(sorted(REPO.glob(".cache/controlplane/*/bin/kubectl"))), None)
    if kubectl is None:
        pytest.fail("no kubectl for `kubectl kustomize`: run `make controlplane` (it builds one into .cache/)")
    (tmp_path / "kustomization.yaml").write_text(
        f"namespace: monitoring\ncomponents:\n  - {os.path.relpath(REPO / 'manifests' / 'dashboards', tmp_path)}\n"
    )
    out = subprocess.run([str(kubectl), "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    cm = yaml.safe_load(out.stdout)
    assert cm["metadata"]["namespace"] == "monitoring"
    assert json.loads(cm["data"]["otelwire-operator.json"])["uid"] == "otelwire-operator"
