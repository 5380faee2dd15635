"""What the shell observed, reduced to what assessment needs.

A full Pod object is several kilobytes; the operator watches every pod of the
namespaces it serves, so it keeps only a *skeleton*: the metadata and
container fields the planner reads (names, the OTEL_* env and Istio's metrics merge, Istio and version
labels, the controller reference, otelwire's annotations) and the phase.
Planning a skeleton gives the same digest as planning the full pod, which
is what lets assessment tell current, outdated and missing pods apart.

The pods of one workload have the same labels, owner and containers, and the
injected env is the same in every pod of a service: those parts of a
skeleton are *interned* -- equal parts are one shared object -- so 10,000
pods cost a few hundred bytes each instead of one copy of their env each.
A skeleton's spec (equal for a workload's pods on one node) and status (the
phase and readiness) are shared the same way; only the metadata, with the
pod's name, is a pod's own.
Skeletons are read-only: nothing may modify one in place.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from otelwire.plan.parts import (
    INJECTED_ANNOTATION,
    ISTIO_PROMETHEUS_ENV,
    ISTIO_PROXY_CONFIG,
    OWNER_ANNOTATION,
)

_KEPT_ANNOTATIONS = (
    INJECTED_ANNOTATION,
    OWNER_ANNOTATION,
    ISTIO_PROXY_CONFIG,
    "sidecar.istio.io/status",
    "prometheus.io/scrape",
    "prometheus.io/port",
    "prometheus.io/path",
)


_T = TypeVar("_T")
_INTERNED: dict[bytes | tuple[Any, ...], Any] = {}
_INTERNED_MAX = 100_000  # distinct parts remembered; past that the table starts over (sharing only)


def _interned(value: _T) -> tuple[_T, bytes]:
    """The one shared object equal to ``value`` (plain JSON data), and the key it is remembered by.

    The key is a 128-bit digest of the canonical JSON, not the JSON itself: a pod's
    containers with their OTEL_* env are ~1.2 KB of JSON, kept once per distinct part.
    """
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    key = hashlib.blake2b(text.encode(), digest_size=16).digest()
    return remembered(key, value), key


def remembered(key: bytes | tuple[Any, ...], value: _T) -> _T:
    """The object remembered under ``key``, or ``value`` (remembered from now on): one shared copy."""
    found = _INTERNED.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    if len(_INTERNED) >= _INTERNED_MAX:
        _INTERNED.clear()
    _INTERNED[key] = value
    return value


def _intern(value: _T) -> _T:
    return _interned(value)[0]


def _shared_str(value: Any) -> Any:
    """One string object for the namespace every pod of it names (``sys.intern``)."""
    return sys.intern(value) if type(value) is str else value


def shared_strings(value: Any) -> Any:
    """A copy of decoded JSON in which equal strings are one object (``sys.intern``).

    For what is kept per object and repeats across objects: a MonitoredService's
    conditions (types, reasons, most messages, timestamps of one burst) decode
    into ~3 KB of strings per service, most equal to another service's.
    """
    if type(value) is str:
        return sys.intern(value)
    if type(value) is dict:
        return {_shared_str(key): shared_strings(item) for key, item in value.items()}
    if type(value) is list:
        return [shared_strings(item) for item in value]
    return value


def _kept(name: str) -> bool:
    """The env planning compares: OTEL_* and Istio's metrics merge (istio-proxy's scrape settings)."""
    return name.startswith("OTEL_") or name == ISTIO_PROMETHEUS_ENV


def _container(container: Mapping[str, Any]) -> dict[str, Any]:
    env = [dict(e) for e in container.get("env") or [] if isinstance(e, Mapping) and _kept(str(e.get("name", "")))]
    out: dict[str, Any] = {"name": container.get("name", "")}
    if env:
        out["env"] = env
    return out


def pod_skeleton(pod: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a pod that planning and assessment read; everything else is dropped."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    annotations = meta.get("annotations") or {}
    owners = [o for o in meta.get("ownerReferences") or [] if isinstance(o, Mapping) and o.get("controller")]
    skeleton_meta: dict[str, Any] = {
        "name": meta.get("name", ""),
        "namespace": _shared_str(meta.get("namespace", "")),
        "labels": _intern(dict(meta.get("labels") or {})),
        "annotations": _intern({k: annotations[k] for k in _KEPT_ANNOTATIONS if k in annotations}),
    }
    if owners:
        skeleton_meta["ownerReferences"] = _intern(
            [{"kind": o.get("kind"), "name": o.get("name"), "controller": True} for o in owners[:1]]
        )
    if meta.get("deletionTimestamp"):
        skeleton_meta["deletionTimestamp"] = meta["deletionTimestamp"]
    containers, containers_key = _interned([_container(c) for c in spec.get("containers") or []])
    skeleton_spec: dict[str, Any] = {"containers": containers}
    init_key = b""
    if spec.get("initContainers"):
        skeleton_spec["initContainers"], init_key = _interned([_container(c) for c in spec["initContainers"]])
    if spec.get("nodeName"):
        skeleton_spec["nodeName"] = spec["nodeName"]
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
        if isinstance(c, Mapping)
    )
    # The spec of a workload's pods on one node, and the status of most pods, are equal: shared
    # too (tuple keys, so they cannot meet the parts' digests above).
    spec_key = ("spec", containers_key, init_key, json.dumps(skeleton_spec.get("nodeName"), default=str))
    phase = status.get("phase", "")
    status_key = ("status", json.dumps(phase, default=str), ready)
    return {
        "metadata": skeleton_meta,
        "spec": remembered(spec_key, skeleton_spec),
        "status": remembered(status_key, {"phase": phase, "ready": ready}),
    }


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of checking one collector endpoint."""

    endpoint: str
    reachable: bool | None  # None: cannot be probed (a UDP agent)
    detail: str


@dataclass(frozen=True)
class PodCreationFailure:
    """Why the DaemonSet controller could not create chrony pods: its newest ``FailedCreate`` Event."""

    reason: str  # the Event's reason, e.g. FailedCreate
    message: str  # e.g. Error creating: pods "otelwire-chrony-x" is forbidden: violates PodSecurity ...


@dataclass(frozen=True)
class ClockFacts:
    """The chrony DaemonSet as observed (``assess.clocking.observe`` builds it from the API's objects).

    ``desired_nodes`` are the nodes that have a chrony pod, ``ready_nodes`` those whose pod is
    Ready (within maxSkew).  ``missing_pods`` counts the pods the DaemonSet controller wants
    and has not created; ``failure`` says why, when it reported why.
    """

    desired_nodes: tuple[str, ...]
    ready_nodes: tuple[str, ...]
    daemonset_found: bool = True
    missing_pods: int = 0
    rolling_out: bool = False  # the DaemonSet controller has not counted the current version yet
    namespace: str = ""
    failure: PodCreationFailure | None = None
