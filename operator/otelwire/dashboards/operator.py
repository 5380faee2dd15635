"""The operator's own dashboard, from the metrics in :mod:`otelwire.metrics`.

What an on-call person asks of otelwire: is it reconciling (and failing how
often, how slowly), is the pod webhook answering (and injecting), and how many
MonitoredServices and pods are not where they should be.  Each panel's query
comes from :mod:`otelwire.dashboards.queries`, which names the series from the
collectors themselves.

Output: :func:`operator_manifest` is the checked-in
``manifests/dashboards/operator-dashboard.yaml`` (a ConfigMap for Grafana's
dashboard sidecar); ``tests/dashboards`` fails when the two differ and says
how to regenerate it.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from otelwire import metrics
from otelwire.dashboards import building, queries
from otelwire.dashboards.building import Target, Threshold

OPERATOR_DASHBOARD_NAME = "otelwire-operator-dashboard"
OPERATOR_DASHBOARD_UID = "otelwire-operator"
OPERATOR_NAMESPACE = "otelwire-system"
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
MANAGED_BY = {"app.kubernetes.io/managed-by": "otelwire"}

_QUANTILES = ((0.5, "p50"), (0.95, "p95"), (0.99, "p99"))


def _latency_targets(histogram: str) -> list[Target]:
    return [Target(queries.quantile(q, histogram, queries.OPERATOR_JOB), legend) for q, legend in _QUANTILES]


def operator_dashboard() -> dict[str, Any]:
    """The Grafana dashboard (JSON data) for otelwire's own Prometheus metrics."""
    from grafana_foundation_sdk.builders.dashboard import Dashboard, Row

    doc = queries.documentation
    dashboard = (
        Dashboard("otelwire operator")
        .uid(OPERATOR_DASHBOARD_UID)
        .description("Reconciliations, pod admissions and instrumentation state, from otelwire's /metrics.")
        .tags(["otelwire", "kubernetes", "operator"])
        .time("now-1h", "now")
        .refresh("30s")
        .with_variable(building.prometheus_variable())
        .with_variable(
            building.query_variable(
                "job",
                "Job",
                queries.JOB_VALUES,
                include_all=True,
                description="Prometheus job(s) scraping the operator (the ServiceMonitor's: otelwire-metrics).",
            )
        )
        .with_variable(
            building.query_variable(
                "namespace",
                "Namespace",
                queries.NAMESPACE_VALUES,
                include_all=True,
                description="Namespaces of the MonitoredServices shown in the pod panels.",
            )
        )
        .with_row(Row("Overview"))
        .with_panel(
            building.stat(
                "MonitoredServices ready",
                "MonitoredServices whose Ready condition is True.",
                Target(queries.services_ready("true"), instant=True),
                "short",
            )
        )
        .with_panel(
            building.stat(
                "MonitoredServices not ready",
                "MonitoredServices whose Ready condition is False: `kubectl get msvc -A` shows why.",
                Target(queries.services_ready("false"), instant=True),
                "short",
                thresholds=(Threshold(None, "green"), Threshold(1, "orange")),
            )
        )
        .with_panel(
            building.stat(
                "Pods without the current plan",
                "Selected pods that are missing otelwire's configuration or carry an older plan "
                "(restart their workload, or set spec.injection.restartOutdated).",
                Target(queries.pods_uninstrumented(), instant=True),
                "short",
                thresholds=(Threshold(None, "green"), Threshold(1, "orange")),
            )
        )
        .with_panel(
            building.stat(
                "Reconcile errors (1h)",
                "Reconciliations that failed with an API error in the last hour (they are retried).",
                Target(queries.reconcile_errors("1h"), instant=True),
                "short",
                thresholds=(Threshold(None, "green"), Threshold(1, "red")),
            )
        )
        .with_row(Row("Reconciliation"))
        .with_panel(
            building.timeseries(
                "Reconciliations by result",
                doc(metrics.RECONCILIATIONS),
                [Target(queries.reconciliations_by_result(), "{{result}}")],
                "ops",
            )
        )
        .with_panel(
            building.timeseries(
                "Reconcile duration",
                doc(metrics.RECONCILE_SECONDS),
                _latency_targets(queries.RECONCILE_SECONDS),
                "s",
            )
        )
        .with_panel(
            building.timeseries(
                "Re-assessments by result",
                doc(metrics.REASSESSMENTS)
                + " On a standby replica (kopf peering) none are done: it waits until it becomes the active one.",
                [Target(queries.reassessments_by_result(), "{{result}}")],
                "ops",
            )
        )
        .with_row(Row("Pod admission webhook"))
        .with_panel(
            building.timeseries(
                "Admissions by result",
                doc(metrics.ADMISSIONS),
                [Target(queries.admissions_by_result(), "{{result}}")],
                "ops",
            )
        )
        .with_panel(
            building.timeseries(
                "Admission latency",
                doc(metrics.ADMISSION_SECONDS) + " The API server gives the webhook 5 s, then admits the pod as is.",
                _latency_targets(queries.ADMISSION_SECONDS),
                "s",
            )
        )
        .with_row(Row("Instrumentation"))
        .with_panel(
            building.timeseries(
                "MonitoredServices by Ready",
                doc(metrics.SERVICES),
                [Target(queries.services_by_ready(), "ready={{ready}}")],
                "short",
            )
        )
        .with_panel(
            building.timeseries(
                "Pods by injection state",
                doc(metrics.PODS),
                [Target(queries.pods_by_state(), "{{state}}")],
                "short",
                stacked=True,
            )
        )
        .with_panel(
            building.table(
                "Pods per service",
                "Instrumented, outdated and missing pods of every MonitoredService, as last reconciled.",
                Target(queries.pods_by_service(), instant=True, table=True),
            )
        )
    )
    return building.to_json(dashboard)


def operator_dashboard_configmap(namespace: str = OPERATOR_NAMESPACE) -> dict[str, Any]:
    """The operator dashboard in a ConfigMap for Grafana's dashboard sidecar."""
    text = json.dumps(operator_dashboard(), indent=2, sort_keys=True) + "\n"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": OPERATOR_DASHBOARD_NAME,
            "namespace": namespace,
            "labels": {**DASHBOARD_LABEL, **MANAGED_BY, "app.kubernetes.io/name": "otelwire"},
        },
        "data": {"otelwire-operator.json": text},
    }


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings as ``|`` blocks, so the dashboard JSON stays reviewable in the manifest."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _represent_str)

MANIFEST_HEADER = (
    "# Generated by otelwire.dashboards.operator_manifest() -- do not edit; run `make dashboards`.\n"
    "# The operator's Grafana dashboard, for Grafana's dashboard sidecar (label grafana_dashboard: \"1\").\n"
)


def operator_manifest(namespace: str = OPERATOR_NAMESPACE) -> str:
    """The text of ``manifests/dashboards/operator-dashboard.yaml``."""
    body = yaml.dump(operator_dashboard_configmap(namespace), Dumper=_BlockDumper, sort_keys=False, width=1000)
    return MANIFEST_HEADER + body
