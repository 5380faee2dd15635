"""Links from a service's dashboard to its traces, filtered by ``service.name``.

The metric panels are keyed by the Prometheus job and the traces by the
resource attribute ``service.name``; otelwire makes both the service name, so
one literal joins them.  The link opens Grafana Explore on a traces datasource
chosen by a dashboard variable (Tempo by default, Jaeger on request), over the
time range the dashboard shows.  Grafana interpolates the ``${...}`` variables
when the link is followed; everything else is URL-encoded here.
"""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import quote

TracesBackend = Literal["tempo", "jaeger"]

TRACES_VARIABLE = "traces"
"""The dashboard variable holding the traces datasource's uid."""


def traceql(service: str) -> str:
    """The TraceQL query for every trace with a span from ``service``."""
    return "{resource.service.name=" + json.dumps(service) + "}"


def explore_query(service: str, backend: TracesBackend = "tempo") -> dict[str, Any]:
    """The Explore query object for the traces datasource."""
    datasource = {"type": backend, "uid": "${" + TRACES_VARIABLE + "}"}
    if backend == "tempo":
        return {
            "refId": "A",
            "datasource": datasource,
            "queryType": "traceql",
            "query": traceql(service),
            "limit": 20,
            "tableType": "traces",
        }
    return {"refId": "A", "datasource": datasource, "queryType": "search", "service": service}


def explore_url(service: str, backend: TracesBackend = "tempo") -> str:
    """A Grafana Explore URL listing the traces of ``service`` in the dashboard's time range."""
    panes = {
        "traces": {
            "datasource": "${" + TRACES_VARIABLE + "}",
            "queries": [explore_query(service, backend)],
            "range": {"from": "${__from}", "to": "${__to}"},
        }
    }
    encoded = quote(json.dumps(panes, separators=(",", ":")), safe="${}")
    return "/explore?schemaVersion=1&orgId=${__org}&panes=" + encoded
