"""The planner: pure functions from a MonitoredService and a pod template to what to inject.

``planning.plan_for`` builds a :class:`~otelwire.plan.parts.Plan` (the data in ``parts``) from
``selecting`` (which service, which containers), ``environment`` (the ordered
env), ``attributes`` (OTEL_RESOURCE_ATTRIBUTES) and ``workloads`` (who owns the
pod); ``changing`` compares a plan with a concrete object and yields the
minimal changes, a changed copy or a JSON patch.  Nothing here imports kopf or
a Kubernetes client.
"""

from otelwire.plan.changing import Changes, Conflict, apply, changes, json_patch
from otelwire.plan.parts import INJECTED_ANNOTATION, EnvVar, Plan, Workload
from otelwire.plan.planning import plan_for
from otelwire.plan.selecting import select_services
from otelwire.plan.workloads import owner_of_pod, template_of, workload_of

__all__ = [
    "INJECTED_ANNOTATION",
    "Changes",
    "Conflict",
    "EnvVar",
    "Plan",
    "Workload",
    "apply",
    "changes",
    "json_patch",
    "owner_of_pod",
    "plan_for",
    "select_services",
    "template_of",
    "workload_of",
]
