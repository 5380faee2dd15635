"""Run doctor's checks over a set of manifests, through the same planner render uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from otelwire.doctor.checks import check_container, check_pod
from otelwire.doctor.findings import Finding
from otelwire.plan import changing, selecting, workloads
from otelwire.plan.planning import plan_for
from otelwire.plan.rendering import is_monitored_service, parse_services
from otelwire.spec.model import KIND, KNOWN_SIDECARS


def diagnose(bodies: Sequence[Mapping[str, Any]], default_namespace: str = "default") -> list[Finding]:
    """Findings for every workload (and every invalid MonitoredService) in ``bodies``."""
    services, errors = parse_services(bodies, default_namespace)
    findings = [
        Finding(
            line.split(": ", 1)[0],
            None,
            "invalid-monitoredservice",
            "error",
            line.split(": ", 1)[1] if ": " in line else line,
            "fix the field named",
        )
        for line in errors
    ]
    for body in bodies:
        if is_monitored_service(body):
            continue
        template = workloads.template_of(body)
        if template is None:
            continue
        meta = body.get("metadata") or {}
        namespace = str(meta.get("namespace") or default_namespace)
        resource = f"{body.get('kind')} {namespace}/{meta.get('name', '<unnamed>')}"
        labels = (template.get("metadata") or {}).get("labels") or {}
        chosen = selecting.select_services(services, namespace, labels)
        effective: Mapping[str, Any] = template
        if chosen:
            plan = plan_for(chosen[0], template, workloads.workload_of(body), namespace)
            effective, delta = changing.apply(template, plan)
            for conflict in delta.conflicts:
                in_container = conflict.where.startswith("container ")
                text = str(conflict).removeprefix(f"{conflict.where}: ") if in_container else str(conflict)
                if conflict.overridden:
                    # overrideExisting asked for exactly this: worth knowing, not a problem.
                    findings.append(
                        Finding(
                            resource,
                            conflict.where.removeprefix("container ") if in_container else None,
                            "conflict",
                            "info",
                            f"{text} (overrideExisting)",
                            "remove the setting from the manifest, it no longer has any effect",
                        )
                    )
                    continue
                findings.append(
                    Finding(
                        resource,
                        conflict.where.removeprefix("container ") if in_container else None,
                        "conflict",
                        "warning",
                        f"{text}: the user's setting wins",
                        "remove it from the manifest or set spec.injection.overrideExisting",
                    )
                )
        else:
            findings.append(
                Finding(
                    resource,
                    None,
                    "not-monitored",
                    "info",
                    f"no {KIND} selects this workload",
                    "apply a MonitoredService for it",
                )
            )
        findings.extend(check_pod(resource, effective))
        workload = workloads.workload_of(body)
        for container in (effective.get("spec") or {}).get("containers") or []:
            if isinstance(container, Mapping) and container.get("name") not in KNOWN_SIDECARS:
                findings.extend(
                    check_container(
                        resource,
                        workload.name if workload else None,
                        effective,
                        container,
                        monitored=bool(chosen),
                    )
                )
    return findings
