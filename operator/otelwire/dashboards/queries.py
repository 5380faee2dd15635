"""Every PromQL expression the dashboards show, as plain strings.

Kept apart from the Grafana builders so that the queries can be read, reviewed
and tested without the SDK: ``tests/dashboards/test_queries.py`` substitutes the
dashboard variables and runs each one against a real Prometheus scraping the
operator and real OpenTelemetry-instrumented services.

Two families:

* the operator's own series, named from the collectors in
  :mod:`otelwire.metrics` (so renaming a metric there renames it here);
* a service's RED series as the OpenTelemetry SDKs' Prometheus exporters write
  them: the stable HTTP semantic convention ``http.server.request.duration``
  (histogram, unit ``s``; emitted by Go's ``otelhttp`` and by the Python
  instrumentations under ``OTEL_SEMCONV_STABILITY_OPT_IN=http``) becomes
  ``http_server_request_duration_seconds_{bucket,count,sum}`` with the labels
  ``http_request_method``, ``http_response_status_code``, ``http_route`` and
  ``url_scheme``; the Prometheus ``job`` is the service name (otelwire's
  PodMonitor sets it so).
"""

from __future__ import annotations

from prometheus_client.metrics import MetricWrapperBase

from otelwire import metrics

RATE = "$__rate_interval"
"""Grafana's rate window: at least four scrape intervals, so a rate always has samples."""


def family(collector: MetricWrapperBase) -> str:
    """The metric family name a collector exposes (a counter's series add ``_total``)."""
    return next(iter(collector.describe())).name


def documentation(collector: MetricWrapperBase) -> str:
    """The collector's help text: the panel description says what the operator counts."""
    return next(iter(collector.describe())).documentation


def string(value: str) -> str:
    """A PromQL double-quoted string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


# ----------------------------------------------------------------- the operator

RECONCILIATIONS = family(metrics.RECONCILIATIONS) + "_total"
REASSESSMENTS = family(metrics.REASSESSMENTS) + "_total"
RECONCILE_SECONDS = family(metrics.RECONCILE_SECONDS)
ADMISSIONS = family(metrics.ADMISSIONS) + "_total"
ADMISSION_SECONDS = family(metrics.ADMISSION_SECONDS)
SERVICES = family(metrics.SERVICES)
PODS = family(metrics.PODS)

OPERATOR_JOB = 'job=~"$job"'
"""Operator panels select the scrape job chosen in the ``job`` variable (default: every job)."""

JOB_VALUES = f"label_values({RECONCILE_SECONDS}_count, job)"
"""The ``job`` variable's query: an unlabelled histogram is exported from the start, so it always exists."""

NAMESPACE_VALUES = f"label_values({PODS}, namespace)"

# Gauges: only the peering leader reconciles, so a standby replica may still export the value
# it had when it last led. ``max`` over instances never double-counts; ``sum`` would.


def services_ready(ready: str) -> str:
    return f'sum(max by (ready) ({SERVICES}{{{OPERATOR_JOB}, ready="{ready}"}}))'


def services_by_ready() -> str:
    return f"max by (ready) ({SERVICES}{{{OPERATOR_JOB}}})"


def pods_by_state() -> str:
    pods = f'{PODS}{{{OPERATOR_JOB}, namespace=~"$namespace"}}'
    return f"sum by (state) (max by (namespace, service, state) ({pods}))"


def pods_uninstrumented() -> str:
    pods = f'{PODS}{{{OPERATOR_JOB}, namespace=~"$namespace", state=~"missing|outdated"}}'
    return f"sum(max by (namespace, service, state) ({pods}))"


def pods_by_service() -> str:
    return f'max by (namespace, service, state) ({PODS}{{{OPERATOR_JOB}, namespace=~"$namespace"}})'


def reconcile_errors(window: str = "1h") -> str:
    errors = f'{RECONCILIATIONS}{{{OPERATOR_JOB}, result="error"}}'
    # A counter child exists only after its first increment: no error yet is 0, not "no data".
    return f"sum(increase({errors}[{window}])) or vector(0)"


def reconciliations_by_result() -> str:
    return f"sum by (result) (rate({RECONCILIATIONS}{{{OPERATOR_JOB}}}[{RATE}]))"


def reassessments_by_result() -> str:
    return f"sum by (result) (rate({REASSESSMENTS}{{{OPERATOR_JOB}}}[{RATE}]))"


def admissions_by_result() -> str:
    return f"sum by (result) (rate({ADMISSIONS}{{{OPERATOR_JOB}}}[{RATE}]))"


def quantile(q: float, histogram: str, selector: str, by: tuple[str, ...] = ()) -> str:
    """``histogram_quantile`` over a classic Prometheus histogram, summed across instances."""
    labels = ", ".join(("le", *by))
    return f"histogram_quantile({q}, sum by ({labels}) (rate({histogram}_bucket{{{selector}}}[{RATE}])))"


# ----------------------------------------------------------------- a service's RED metrics

HTTP_SERVER_DURATION = "http_server_request_duration_seconds"
"""``http.server.request.duration`` (OpenTelemetry semantic conventions, stable HTTP) after Prometheus translation."""

STATUS_LABEL = "http_response_status_code"
ROUTE_LABEL = "http_route"
METHOD_LABEL = "http_request_method"


def job(service: str) -> str:
    return f"job={string(service)}"


def request_rate(service: str) -> str:
    return f"sum(rate({HTTP_SERVER_DURATION}_count{{{job(service)}}}[{RATE}]))"


def requests_by_route(service: str) -> str:
    return f"sum by ({ROUTE_LABEL}, {METHOD_LABEL}) (rate({HTTP_SERVER_DURATION}_count{{{job(service)}}}[{RATE}]))"


def responses_by_status(service: str) -> str:
    return f"sum by ({STATUS_LABEL}) (rate({HTTP_SERVER_DURATION}_count{{{job(service)}}}[{RATE}]))"


def error_ratio(service: str) -> str:
    """Share of requests answered 5xx (server errors, as the semantic conventions count them)."""
    errors = f'{HTTP_SERVER_DURATION}_count{{{job(service)}, {STATUS_LABEL}=~"5.."}}'
    total = f"{HTTP_SERVER_DURATION}_count{{{job(service)}}}"
    # No 5xx series yet means no errors: 0, not "no data".
    return f"(sum(rate({errors}[{RATE}])) or vector(0)) / sum(rate({total}[{RATE}]))"


def latency(service: str, q: float) -> str:
    return quantile(q, HTTP_SERVER_DURATION, job(service))


def latency_by_route(service: str, q: float) -> str:
    return quantile(q, HTTP_SERVER_DURATION, job(service), by=(ROUTE_LABEL,))


def targets_up(service: str) -> str:
    """Scrape targets of the job that answer: 0 means Prometheus does not reach the service's metrics port."""
    return f"sum(up{{{job(service)}}})"
