"""Every object the operator creates besides what it injects into pods, as plain manifests.

Two kinds, both pure functions of the valid MonitoredServices and the
operator's :class:`~otelwire.options.Options`:

* cluster-wide (:func:`clusterwide_objects`): the collector rules ConfigMap
  (``clusterwide.renaming``) and, when any service asks for clock sync, the
  chrony ConfigMap and DaemonSet (``clusterwide.chrony``);
* per service (:func:`companion_objects`): its PodMonitor, when the cluster runs
  the Prometheus Operator, and its dashboard ConfigMap, when it asks for one.

The operator's actuators apply exactly these (adding an ownerReference to a
companion, which needs the live object's uid), and ``otelwire render
--generated`` prints them, so a GitOps user can keep and review in git what
the operator would create.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from otelwire.clusterwide import chrony, renaming
from otelwire.companions import podmonitor
from otelwire.options import Options
from otelwire.spec.model import MonitoredService


def chrony_objects(services: Sequence[MonitoredService], options: Options) -> list[dict[str, Any]]:
    """The chrony ConfigMap and DaemonSet, or none when no service asks for clock sync."""
    plan = chrony.wanted(services)
    if plan is None:
        return []
    return chrony.objects(
        plan,
        options.chrony_namespace,
        options.chrony_image,
        options.servers,
        priority_class=options.chrony_priority_class,
    )


def alias_configmap(services: Sequence[MonitoredService], options: Options) -> dict[str, Any]:
    """The collector rules ConfigMap (its processor has no statements when no service has aliases)."""
    found = renaming.renaming(services)
    return renaming.configmap(found.rules, options.alias_configmap, options.alias_namespace)


def clusterwide_objects(services: Sequence[MonitoredService], options: Options) -> list[dict[str, Any]]:
    """The collector rules ConfigMap (when any service has aliases), then the chrony objects."""
    out: list[dict[str, Any]] = []
    if any(ms.spec.aliases for ms in services):
        out.append(alias_configmap(services, options))
    return out + chrony_objects(services, options)


def dashboard_configmap(ms: MonitoredService) -> dict[str, Any] | None:
    """``ms``'s dashboard ConfigMap, or None when it asks for none."""
    if not ms.spec.dashboard:
        return None
    from otelwire.dashboards import service_dashboard_configmap  # the SDK: imported when first wanted

    return service_dashboard_configmap(ms, ms.namespace)


def companion_objects(ms: MonitoredService, *, podmonitors: bool) -> list[dict[str, Any]]:
    """``ms``'s PodMonitor (``podmonitors``: the cluster runs the Prometheus Operator) and dashboard."""
    out: list[dict[str, Any]] = []
    monitor = podmonitor.pod_monitor(ms) if podmonitors else None
    if monitor is not None:
        out.append(monitor)
    dashboard = dashboard_configmap(ms)
    if dashboard is not None:
        out.append(dashboard)
    return out


def generated_objects(
    services: Sequence[MonitoredService], options: Options, *, podmonitors: bool
) -> list[dict[str, Any]]:
    """Everything the operator creates for ``services``: each service's companions, then the cluster-wide ones."""
    ordered = sorted(services, key=lambda ms: ms.key)
    companions = [obj for ms in ordered for obj in companion_objects(ms, podmonitors=podmonitors)]
    return companions + clusterwide_objects(ordered, options)
