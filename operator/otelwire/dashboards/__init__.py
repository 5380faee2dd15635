"""Grafana dashboards: one for the operator itself, one per MonitoredService that asks for it.

Why generated: the dashboards are built with Grafana's own typed builders
(``grafana-foundation-sdk``) instead of hand-written JSON, so the panel, target
and variable shapes come from Grafana's schema, and every PromQL expression is a
plain string in :mod:`otelwire.dashboards.queries` that the tests run against a
real Prometheus (``tests/dashboards``).

Where the output goes:

* :func:`operator_dashboard` -> :func:`operator_manifest` -> the checked-in
  ``manifests/dashboards/operator-dashboard.yaml`` (a test keeps it in sync);
* :func:`service_dashboard_configmap` -> the kopf shell
  (``otelwire.actuate.service_objects``) server-side-applies it next to a
  MonitoredService with ``spec.dashboard: true``; Grafana's dashboard sidecar
  picks it up by the label ``grafana_dashboard: "1"``.

The SDK costs tens of milliseconds to import, so it is imported inside the
builder functions, the first time a dashboard is wanted; importing this package
is cheap and pulls in neither the SDK nor anything from kopf.
"""

from otelwire.dashboards.inspecting import PanelQuery, panel_queries
from otelwire.dashboards.operator import (
    OPERATOR_DASHBOARD_NAME,
    operator_dashboard,
    operator_dashboard_configmap,
    operator_manifest,
)
from otelwire.dashboards.service import service_dashboard, service_dashboard_configmap

__all__ = [
    "OPERATOR_DASHBOARD_NAME",
    "PanelQuery",
    "operator_dashboard",
    "operator_dashboard_configmap",
    "operator_manifest",
    "panel_queries",
    "service_dashboard",
    "service_dashboard_configmap",
]
