"""OTEL_RESOURCE_ATTRIBUTES: which attributes, in which order, encoded how.

The OpenTelemetry spec reads ``key1=value1,key2=value2`` with values
percent-encoded (W3C baggage octets).  Kubernetes facts come from the
downward-API variables the env builder defines first, referenced as
``$(OTEL_K8S_POD_NAME)``; those references are written verbatim, every literal
value is encoded so a stray ``$(``, ``,`` or ``=`` in a user's value can neither
trigger Kubernetes expansion nor split the list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote

from otelwire.plan.parts import Workload

# Characters safe to leave literal in a value: unreserved URI characters.
_SAFE = "-._~"

WORKLOAD_ATTRIBUTE = {
    "Deployment": "k8s.deployment.name",
    "StatefulSet": "k8s.statefulset.name",
    "DaemonSet": "k8s.daemonset.name",
    "ReplicaSet": "k8s.replicaset.name",
    "Job": "k8s.job.name",
    "CronJob": "k8s.cronjob.name",
}


def encode(value: str) -> str:
    """Percent-encode a literal attribute value."""
    return quote(value, safe=_SAFE)


def ref(variable: str) -> str:
    """A Kubernetes dependent-variable reference, resolved by the kubelet."""
    return f"$({variable})"


def references(text: str) -> set[str]:
    """The variables ``text`` refers to as ``$(VAR)`` (``$$`` is the kubelet's escape for ``$``)."""
    return set(re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)", text.replace("$$", "")))


def render(pairs: Iterable[tuple[str, str]]) -> str:
    return ",".join(f"{key}={value}" for key, value in pairs)


def parse(text: str) -> list[tuple[str, str]]:
    """Split an OTEL_RESOURCE_ATTRIBUTES value into (key, raw value) pairs, keeping order."""
    pairs: list[tuple[str, str]] = []
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if sep:
            pairs.append((key.strip(), value.strip()))
    return pairs


def decoded(text: str) -> dict[str, str]:
    """The attributes an SDK would see (used by assessment and tests)."""
    return {key: unquote(value) for key, value in parse(text)}


def merge(theirs: str, ours: str, ours_win: bool) -> tuple[str, list[str]]:
    """Merge two attribute lists key by key; return the merged text and the clashing keys."""
    mine = dict(parse(ours))
    merged: dict[str, str] = {}
    clashes: list[str] = []
    for key, value in parse(theirs):
        if key in mine and mine[key] != value:
            clashes.append(key)
            merged[key] = mine[key] if ours_win else value
        else:
            merged[key] = value
    for key, value in mine.items():
        merged.setdefault(key, value)
    return render(merged.items()), clashes


def resource_attributes(
    *,
    container: str,
    namespace: str,
    workload: Workload | None,
    version: str | None,
    extra: Mapping[str, str],
    pod_name_var: str,
    namespace_var: str,
    node_name_var: str,
    pod_uid_var: str,
) -> str:
    pairs: dict[str, str] = {
        "k8s.namespace.name": ref(namespace_var),
        "k8s.pod.name": ref(pod_name_var),
        "k8s.pod.uid": ref(pod_uid_var),
        "k8s.node.name": ref(node_name_var),
        "k8s.container.name": encode(container),
    }
    if workload is not None:
        attribute = WORKLOAD_ATTRIBUTE.get(workload.kind)
        if attribute:
            pairs[attribute] = encode(workload.name)
        # No k8s.replicaset.name for a Deployment's pods: the Deployment's pod template cannot know
        # it, and a pod must plan (and digest) exactly like the template it was made from.
    pairs["service.namespace"] = encode(namespace)
    if version:
        pairs["service.version"] = encode(version)
    pairs["service.instance.id"] = f"{ref(namespace_var)}.{ref(pod_name_var)}.{encode(container)}"
    for key, value in extra.items():
        pairs[key] = encode(value)
    return render(pairs.items())
