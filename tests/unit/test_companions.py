"""Companions (PodMonitor, dashboard ConfigMap): applied once per content, removed only when ours.

A recording fake stands in for the API client: these are the calls the
operator makes, checked call by call; the real API's answers are covered by
tests/reconcile/test_podmonitor.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from cel_cases import monitored_service
from otelwire.actuate.service_objects import ServiceObjects
from otelwire.kube.client import KubeError
from otelwire.observe.discovery import PodMonitors
from otelwire.spec import MonitoredService, parse_monitored_service


class FakeKube:
    def __init__(self, existing: dict[str, dict[str, Any]] | None = None) -> None:
        self.objects = dict(existing or {})
        self.calls: list[tuple[str, str]] = []

    def get(self, path: str, **_: str) -> Any:
        self.calls.append(("GET", path))
        if path == "/apis/monitoring.coreos.com/v1":
            return {"resources": [{"name": "podmonitors"}]}
        if path not in self.objects:
            raise KubeError(404, {}, "GET", path)
        return self.objects[path]

    def apply(self, path: str, body: Any, *, manager: str, force: bool = False) -> Any:
        self.calls.append(("APPLY", path))
        self.objects[path] = body
        return body

    def delete(self, path: str) -> Any:
        self.calls.append(("DELETE", path))
        return self.objects.pop(path, None)


def make_ms(dashboard: bool) -> MonitoredService:
    body = monitored_service({"dashboard": dashboard, "metrics": {"exporter": "otlp"}}, name="orders")
    body["metadata"].update(namespace="shop", uid="uid-orders")
    return parse_monitored_service(body)


CM = "/api/v1/namespaces/shop/configmaps/otelwire-dashboard-orders"


def absent(kube: FakeKube) -> PodMonitors:
    """No Prometheus Operator API here (and none asked for)."""
    found = PodMonitors(kube, ttl=float("inf"))  # type: ignore[arg-type]
    found._checked = 0.0
    return found


OURS = {"metadata": {"labels": {"app.kubernetes.io/managed-by": "otelwire"}}}
THEIRS = {"metadata": {"labels": {"app.kubernetes.io/managed-by": "someone-else"}}}


def dashboard(ms: MonitoredService) -> dict[str, Any] | None:
    """What ``generated.dashboard_configmap`` gives: a ConfigMap only when the spec asks for one."""
    if not ms.spec.dashboard:
        return None
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d", "namespace": ms.namespace}}


@pytest.mark.parametrize(
    ("created", "existing", "calls", "left"),
    [
        # Just created: nothing of it can exist yet, no lookup.
        (True, {}, [], False),
        # Resumed or updated: look, and remove only what otelwire made.
        (False, {}, [("GET", CM)], False),
        (False, {CM: OURS}, [("GET", CM), ("DELETE", CM)], False),
        (False, {CM: THEIRS}, [("GET", CM)], True),
    ],
)
def test_an_unwanted_dashboard(
    created: bool, existing: dict[str, Any], calls: list[tuple[str, str]], left: bool
) -> None:
    kube = FakeKube(existing)
    companions = ServiceObjects(kube, absent(kube), dashboard=dashboard)  # type: ignore[arg-type]
    companions.sync(make_ms(dashboard=False), created=created)
    assert kube.calls == calls
    assert (CM in kube.objects) is left
    companions.sync(make_ms(dashboard=False))
    assert kube.calls == calls  # settled: never asked again


def test_a_wanted_dashboard_is_applied_once_per_content() -> None:
    kube = FakeKube()
    companions = ServiceObjects(kube, absent(kube), dashboard=dashboard)  # type: ignore[arg-type]
    for _ in range(3):
        companions.sync(make_ms(dashboard=True), created=True)
    assert kube.calls == [("APPLY", CM)]
    assert kube.objects[CM]["metadata"]["ownerReferences"][0]["uid"] == "uid-orders"
