"""Reading a built dashboard back: which panel asks Prometheus what.

Used by the tests that run every query against a real Prometheus, and handy
for reviewing a generated dashboard (``python -c`` over
:func:`panel_queries`).  Works on the plain JSON, so it also reads a
dashboard loaded from a ConfigMap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PanelQuery:
    """One target of one panel."""

    panel: str
    ref_id: str
    expr: str
    instant: bool

    def substituted(self, variables: Mapping[str, str]) -> str:
        """The expression with ``$name`` / ``${name}`` replaced (unknown variables are left alone)."""
        return substitute(self.expr, variables)


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """Grafana-style variable interpolation, enough for ``$name`` and ``${name}``."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", replace, text)


def _panels(panels: Any) -> Iterator[Mapping[str, Any]]:
    for panel in panels or []:
        if not isinstance(panel, Mapping):
            continue
        yield panel
        yield from _panels(panel.get("panels"))


def panel_queries(dashboard: Mapping[str, Any]) -> list[PanelQuery]:
    """Every Prometheus target of every panel (rows included), in dashboard order."""
    out: list[PanelQuery] = []
    for panel in _panels(dashboard.get("panels")):
        for target in panel.get("targets") or []:
            if isinstance(target, Mapping) and target.get("expr"):
                out.append(
                    PanelQuery(
                        panel=str(panel.get("title", "")),
                        ref_id=str(target.get("refId", "")),
                        expr=str(target["expr"]),
                        instant=bool(target.get("instant")),
                    )
                )
    return out
