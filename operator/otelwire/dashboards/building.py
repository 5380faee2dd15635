"""Panel and variable builders over grafana-foundation-sdk, shared by both dashboards.

The SDK's builders know Grafana's schema (field names, enums, grid layout);
these helpers only fix otelwire's conventions on top: every Prometheus target
goes through the ``datasource`` variable, panels carry their metric's help
text as description, and panel ids are numbered once the dashboard is built.
The SDK is imported inside each function (see the package docstring).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from grafana_foundation_sdk.cog.builder import Builder
    from grafana_foundation_sdk.models.dashboard import (
        Dashboard,
        DashboardLink,
        DataSourceRef,
        Panel,
        VariableModel,
    )

PROMETHEUS_VARIABLE = "datasource"
"""Every Prometheus target reads ``${datasource}``, a datasource variable of type prometheus."""


@dataclass(frozen=True)
class Target:
    """One query of a panel: the expression and how Grafana shows it."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


@dataclass(frozen=True)
class Link:
    """A panel link (the panel's menu) that is also a data link (a click on a series)."""

    title: str
    url: str


@dataclass(frozen=True)
class Threshold:
    """A colour from ``value`` upwards (``None``: the base colour)."""

    value: float | None
    color: str


def prometheus() -> DataSourceRef:
    from grafana_foundation_sdk.models.dashboard import DataSourceRef

    return DataSourceRef(type_val="prometheus", uid="${" + PROMETHEUS_VARIABLE + "}")


def prometheus_variable() -> Builder[VariableModel]:
    from grafana_foundation_sdk.builders.dashboard import DatasourceVariable

    return DatasourceVariable(PROMETHEUS_VARIABLE).label("Prometheus").type("prometheus")


def query_variable(name: str, label: str, query: str, *, include_all: bool, description: str) -> Builder[VariableModel]:
    """A Prometheus ``label_values`` variable; "All" means the regex ``.*``."""
    from grafana_foundation_sdk.builders.dashboard import QueryVariable
    from grafana_foundation_sdk.models.dashboard import VariableRefresh, VariableSort

    variable = (
        QueryVariable(name)
        .label(label)
        .description(description)
        .datasource(prometheus())
        .query(query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    if include_all:
        variable = variable.include_all(True).all_value(".*").multi(True)
    return variable


def traces_variable(name: str, backend: str) -> Builder[VariableModel]:
    from grafana_foundation_sdk.builders.dashboard import DatasourceVariable

    return DatasourceVariable(name).label("Traces").type(backend)


def _targets(targets: Sequence[Target]) -> list[Builder[Any]]:
    from grafana_foundation_sdk.builders.prometheus import Dataquery
    from grafana_foundation_sdk.models.prometheus import PromQueryFormat

    out: list[Builder[Any]] = []
    for index, target in enumerate(targets):
        query = Dataquery().expr(target.expr).ref_id(chr(ord("A") + index)).datasource(prometheus())
        if target.legend:
            query = query.legend_format(target.legend)
        if target.instant:
            query = query.instant()
        if target.table:
            query = query.format(PromQueryFormat.TABLE)
        out.append(query)
    return out


def _links(links: Sequence[Link]) -> list[Builder[DashboardLink]]:
    from grafana_foundation_sdk.builders.dashboard import DashboardLink

    return [DashboardLink(link.title).url(link.url).target_blank(True) for link in links]


def _thresholds(steps: Sequence[Threshold]) -> Builder[Any]:
    from grafana_foundation_sdk.builders.dashboard import ThresholdsConfig
    from grafana_foundation_sdk.models.dashboard import Threshold as Step
    from grafana_foundation_sdk.models.dashboard import ThresholdsMode

    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Step(s.value, s.color) for s in steps])


def timeseries(
    title: str,
    description: str,
    targets: Sequence[Target],
    unit: str,
    *,
    width: int = 12,
    height: int = 8,
    links: Sequence[Link] = (),
    stacked: bool = False,
) -> Builder[Panel]:
    from grafana_foundation_sdk.builders.common import StackingConfig, VizLegendOptions
    from grafana_foundation_sdk.builders.timeseries import Panel as TimeseriesPanel
    from grafana_foundation_sdk.models.common import LegendDisplayMode, LegendPlacement, StackingMode

    panel = (
        TimeseriesPanel()
        .title(title)
        .description(description)
        .datasource(prometheus())
        .targets(_targets(targets))
        .unit(unit)
        .span(width)
        .height(height)
        .fill_opacity(10)
        .legend(VizLegendOptions().display_mode(LegendDisplayMode.LIST).placement(LegendPlacement.BOTTOM))
    )
    if stacked:
        panel = panel.stacking(StackingConfig().mode(StackingMode.NORMAL)).fill_opacity(60)
    if links:
        panel = panel.links(_links(links)).data_links(_links(links))
    return panel


def stat(
    title: str,
    description: str,
    target: Target,
    unit: str,
    *,
    width: int = 6,
    height: int = 4,
    thresholds: Sequence[Threshold] = (Threshold(None, "green"),),
    links: Sequence[Link] = (),
) -> Builder[Panel]:
    from grafana_foundation_sdk.builders.common import ReduceDataOptions
    from grafana_foundation_sdk.builders.stat import Panel as StatPanel
    from grafana_foundation_sdk.models.common import BigValueColorMode, BigValueGraphMode

    panel = (
        StatPanel()
        .title(title)
        .description(description)
        .datasource(prometheus())
        .targets(_targets([target]))
        .unit(unit)
        .span(width)
        .height(height)
        .graph_mode(BigValueGraphMode.AREA)
        .color_mode(BigValueColorMode.VALUE)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(_thresholds(thresholds))
    )
    if links:
        panel = panel.links(_links(links))
    return panel


def table(title: str, description: str, target: Target, *, width: int = 24, height: int = 8) -> Builder[Panel]:
    from grafana_foundation_sdk.builders.table import Panel as TablePanel
    from grafana_foundation_sdk.models.dashboard import DataTransformerConfig

    return (
        TablePanel()
        .title(title)
        .description(description)
        .datasource(prometheus())
        .targets(_targets([target]))
        .span(width)
        .height(height)
        .with_transformation(DataTransformerConfig(id_val="organize", options={"excludeByName": {"Time": True}}))
    )


def to_json(dashboard: Builder[Dashboard]) -> dict[str, Any]:
    """The dashboard as plain JSON data, panels numbered 1..n in order."""
    from grafana_foundation_sdk.cog.encoder import JSONEncoder

    data: dict[str, Any] = json.loads(json.dumps(dashboard.build(), cls=JSONEncoder))
    number = 0
    for panel in data.get("panels") or []:
        number += 1
        panel["id"] = number
        for inner in panel.get("panels") or []:
            number += 1
            inner["id"] = number
    return data
