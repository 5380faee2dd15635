"""The MonitoredService model: the one source of truth for fields, defaults and validation.

``model`` holds the pydantic classes (and the CEL rules that mirror their
cross-field checks), ``endpoints`` judges collector addresses, ``problems``
carries field-pathed errors, ``status`` the status shape.  Next in the flow:
``otelwire.plan``.
"""

from otelwire.spec.model import (
    API_GROUP,
    API_VERSION,
    KIND,
    KNOWN_SIDECARS,
    PLURAL,
    SHORT_NAME,
    LabelSelector,
    MonitoredService,
    MonitoredServiceSpec,
    parse_monitored_service,
    parse_spec,
)
from otelwire.spec.problems import InvalidSpec, SpecProblem
from otelwire.spec.status import Condition, MonitoredServiceStatus, WorkloadCounts

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "KIND",
    "KNOWN_SIDECARS",
    "PLURAL",
    "SHORT_NAME",
    "Condition",
    "InvalidSpec",
    "LabelSelector",
    "MonitoredService",
    "MonitoredServiceSpec",
    "MonitoredServiceStatus",
    "SpecProblem",
    "WorkloadCounts",
    "parse_monitored_service",
    "parse_spec",
]
