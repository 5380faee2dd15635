"""The MonitoredService status: what the operator found, in kstatus shape.

Conditions follow ``metav1.Condition`` (type, status, reason, message,
lastTransitionTime, observedGeneration) so ``kubectl wait
--for=condition=Ready``, Flux ``wait`` and Argo CD health read them without
special knowledge.  The assessor (``otelwire.assess``) produces these values;
the kopf shell writes them to the status subresource.  The models exist here
so the CRD's status schema is generated from the same place as the spec's.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field

from otelwire.spec.model import _Model

CONDITION_TYPES = (
    "Ready",
    "Reconciling",
    "Stalled",
    "ConfigValid",
    "Injected",
    "CollectorReachable",
    "ServiceNameConsistent",
    "ClockSynced",
)
REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"


class Condition(_Model):
    """One observation, in the shape of Kubernetes ``metav1.Condition``."""

    type: str = Field(max_length=316, description="Condition type, e.g. Ready, ConfigValid, Injected.")
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(
        max_length=1024,
        description="CamelCase reason for the last transition.",
        json_schema_extra={"pattern": REASON_PATTERN},
    )
    message: str = Field(default="", max_length=32768, description="What was found and what to do about it.")
    last_transition_time: str = Field(
        description="When status last changed (RFC 3339).", json_schema_extra={"format": "date-time"}
    )
    observed_generation: int = Field(default=0, ge=0, description="The .metadata.generation this was set for.")


class WorkloadCounts(_Model):
    """Pods and workloads selected by this MonitoredService."""

    matched: int = Field(default=0, ge=0, description="Pods (webhook mode) or workloads (patch mode) selected.")
    instrumented: int = Field(default=0, ge=0, description="Of those, carrying the current plan.")
    outdated: int = Field(default=0, ge=0, description="Carrying an older plan.")
    missing: int = Field(
        default=0, ge=0, description="Carrying no plan at all (e.g. created while the webhook was down)."
    )


KEPT_LIMIT = 20  # kept user values listed in status; ``conflicts.count`` has them all


class KeptValue(_Model):
    """A value the user set that otelwire kept instead of its own (spec.injection.overrideExisting: false)."""

    workload: str = Field(max_length=320, description="Where the pods come from, e.g. 'Deployment orders'.")
    container: str = Field(default="", max_length=63, description="The container, for an env var.")
    source: Literal["env", "label", "annotation"] = Field(description="What the value is: env, label or annotation.")
    name: str = Field(max_length=320, description="The variable, label or annotation (a [key] names a part of it).")
    value: str = Field(max_length=256, description="The user's value, which the pods keep.")
    wanted: str = Field(max_length=256, description="otelwire's value, which overrideExisting: true would set.")


class Conflicts(_Model):
    """The user's values kept instead of otelwire's, in the selected pods."""

    count: int = Field(default=0, ge=0, description="How many there are in all.")
    items: list[KeptValue] = Field(
        default_factory=list,
        max_length=KEPT_LIMIT,
        description=f"The first {KEPT_LIMIT}, ordered by workload, container and name.",
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )


class MonitoredServiceStatus(_Model):
    """Observed state, written only by the operator."""

    model_config = ConfigDict(extra="allow")

    observed_generation: int = Field(default=0, ge=0, description="The .metadata.generation last reconciled.")
    service_name: str = Field(default="", max_length=63, description="The service name in effect.")
    workloads: WorkloadCounts = Field(default_factory=WorkloadCounts, description="Matched and instrumented counts.")
    conflicts: Conflicts = Field(
        default_factory=Conflicts,
        description=(
            "Values the user set (env vars, labels, annotations) that otelwire kept instead of its own; "
            "each is also announced once as an Event. spec.injection.overrideExisting: true replaces them."
        ),
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=16,
        description="Ready summarises; Reconciling and Stalled follow kstatus; the rest are details.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )
    kopf: dict[str, Any] = Field(
        default_factory=dict,
        description="The operator framework's own progress and diff-base state (not for people).",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True, "type": "object"},
    )
