"""From a Plan and a concrete pod (or template) to the minimal changes.

One comparison, three outputs: :func:`apply` returns the changed object (render,
patch mode), :func:`json_patch` the RFC 6902 operations a mutating webhook
returns, and :attr:`Changes.conflicts` what the user's own settings kept from
us.  The rules:

* downward-API variables missing from a container are inserted at the *front*
  of its env, so every later entry (ours and the user's) can reference them;
  everything else is appended in plan order;
* an entry the user already set wins unless ``overrideExisting``, and a
  differing value is reported as a conflict;
* a user's literal ``OTEL_RESOURCE_ATTRIBUTES`` is merged key by key, theirs
  winning (ours with ``overrideExisting``), in place -- unless the user defines
  a downward-API variable it references *later* in the list, in which case it
  moves behind them (removed, then appended in plan order);
* ``proxy.istio.io/config`` is merged, never replaced;
* whenever Istio applies, ``service.istio.io/canonical-name`` and
  ``canonical-revision`` are otelwire's: Istio's injector, when it ran first,
  filled them from the ``app`` and ``version`` labels;
* on a pod Istio's injector already gave its metrics merge, the scrape
  annotations point at the sidecar: the app's scrape settings are then compared
  with (and filled into) istio-proxy's ``ISTIO_PROMETHEUS_ANNOTATIONS``, which
  is where pilot-agent reads them -- added when the injector, finding no scrape
  settings on the pod, wrote none -- the only thing otelwire ever changes in
  one of Istio's containers;
* the SDK exporter's Prometheus port is declared (appended to ``ports``) unless
  some container of the pod already declares that ``containerPort`` -- the
  user's declaration serves -- and never when another port of the pod has its
  name (a conflict, whatever ``overrideExisting`` says: a port name must name
  one port);
* nothing already equal is touched, so applying twice changes nothing.

The webhook's patch therefore holds only ``add`` operations unless the user
asked for overriding or has a resource-attribute list to merge into.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from otelwire.plan import attributes
from otelwire.plan.environment import DOWNWARD_NAMES, RESOURCE_ATTRIBUTES
from otelwire.plan.parts import (
    INJECTED_ANNOTATION,
    ISTIO_LABELS,
    ISTIO_PROMETHEUS_ENV,
    ISTIO_PROXY_CONFIG,
    OWNER_ANNOTATION,
    PROMETHEUS_ANNOTATIONS,
    PROMETHEUS_PATH,
    PROMETHEUS_PORT,
    PROMETHEUS_SCRAPE,
    ContainerPort,
    EnvVar,
    Plan,
)


@dataclass(frozen=True)
class Conflict:
    """Something the user set that differs from the plan and was kept (or overridden)."""

    where: str
    name: str
    theirs: str
    ours: str
    overridden: bool = False

    def __str__(self) -> str:
        verb = "replaced by" if self.overridden else "kept instead of"
        return f"{self.where}: {self.name}={self.theirs!r} {verb} {self.ours!r}"


@dataclass(frozen=True)
class ContainerChanges:
    index: int
    init: bool
    container: str
    has_env: bool
    prepend: tuple[EnvVar, ...] = ()
    append: tuple[EnvVar, ...] = ()
    replace: tuple[tuple[int, dict[str, Any]], ...] = ()
    remove: tuple[int, ...] = ()
    ports: tuple[ContainerPort, ...] = ()  # appended to the container's ports
    has_ports: bool = False  # the container has a ports list (else it gets one)

    @property
    def empty(self) -> bool:
        return not (self.prepend or self.append or self.replace or self.remove or self.ports)

    @property
    def list_key(self) -> str:
        return "initContainers" if self.init else "containers"


@dataclass(frozen=True)
class MergeChange:
    """A new value for istio-proxy's ``ISTIO_PROMETHEUS_ANNOTATIONS`` (Istio's metrics merge)."""

    list_key: str  # containers, or initContainers for a native sidecar
    index: int  # of istio-proxy in that list
    env_index: int | None  # of the variable in its env; None: appended (istio-proxy has none yet)
    value: str
    has_env: bool = True  # istio-proxy has an env list (where the variable is appended)

    def entry(self) -> dict[str, str]:
        return {"name": ISTIO_PROMETHEUS_ENV, "value": self.value}


@dataclass(frozen=True)
class Changes:
    containers: tuple[ContainerChanges, ...]
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    has_metadata: bool
    has_labels: bool
    has_annotations: bool
    conflicts: tuple[Conflict, ...] = field(default=())
    merge: MergeChange | None = None

    @property
    def empty(self) -> bool:
        return not self.labels and not self.annotations and self.merge is None and all(c.empty for c in self.containers)


def _describe(entry: Mapping[str, Any]) -> str:
    if entry.get("valueFrom") is not None:
        source = entry["valueFrom"]
        kind = next(iter(source), "valueFrom") if isinstance(source, Mapping) else "valueFrom"
        return f"<from {kind}>"
    return str(entry.get("value") or "")


def _container_changes(
    index: int, container: Mapping[str, Any], init: bool, wanted: tuple[EnvVar, ...], override: bool
) -> tuple[ContainerChanges, list[Conflict]]:
    name = str(container.get("name", ""))
    env = [e for e in container.get("env") or [] if isinstance(e, Mapping)]
    positions = {str(e.get("name")): i for i, e in enumerate(env)}
    prepend: list[EnvVar] = []
    append: list[EnvVar] = []
    replace: list[tuple[int, dict[str, Any]]] = []
    remove: list[int] = []
    conflicts: list[Conflict] = []
    where = f"container {name}"
    for var in wanted:
        at = positions.get(var.name)
        if at is None:
            (prepend if var.name in DOWNWARD_NAMES else append).append(var)
            continue
        existing = env[at]
        if var.same_as(existing):
            continue
        if var.name == RESOURCE_ATTRIBUTES and existing.get("valueFrom") is None:
            merged, clashes = attributes.merge(str(existing.get("value") or ""), var.value or "", override)
            for key in clashes:
                theirs = dict(attributes.parse(str(existing.get("value") or "")))[key]
                ours = dict(attributes.parse(var.value or ""))[key]
                conflicts.append(Conflict(where, f"{RESOURCE_ATTRIBUTES}[{key}]", theirs, ours, override))
            later = {str(e.get("name")) for e in env[at + 1 :]} & DOWNWARD_NAMES
            if later & attributes.references(merged):
                # $(VAR) resolves only against variables defined earlier: move it behind them.
                remove.append(at)
                append.append(EnvVar(var.name, merged))
            elif merged != (existing.get("value") or ""):
                replace.append((at, {"name": var.name, "value": merged}))
            continue
        conflicts.append(Conflict(where, var.name, _describe(existing), _describe(var.manifest()), override))
        if override:
            replace.append((at, var.manifest()))
    changes = ContainerChanges(
        index=index,
        init=init,
        container=name,
        has_env="env" in container and container.get("env") is not None,
        prepend=tuple(prepend),
        append=tuple(append),
        replace=tuple(replace),
        remove=tuple(remove),
    )
    return changes, conflicts


def _merge_proxy_config(
    existing: str | None, wanted: Mapping[str, str], override: bool
) -> tuple[str | None, list[Conflict]]:
    if not wanted:
        return None, []
    try:
        current = yaml.safe_load(existing) if existing else {}
    except yaml.YAMLError:
        current = None
    if not isinstance(current, dict):
        return None, [Conflict("annotation", ISTIO_PROXY_CONFIG, str(existing), "tracingServiceName merge", False)]
    conflicts: list[Conflict] = []
    merged = dict(current)
    for key, value in wanted.items():
        if key in current and current[key] != value:
            conflicts.append(Conflict("annotation", f"{ISTIO_PROXY_CONFIG}[{key}]", str(current[key]), value, override))
            if not override:
                continue
        merged[key] = value
    if merged == current:
        return None, conflicts
    return yaml.safe_dump(merged, sort_keys=False, default_flow_style=False).strip(), conflicts


def _map_changes(
    existing: Mapping[str, str], wanted: Mapping[str, str], where: str, override: bool, always: frozenset[str]
) -> tuple[dict[str, str], list[Conflict]]:
    out: dict[str, str] = {}
    conflicts: list[Conflict] = []
    for key, value in wanted.items():
        if key not in existing:
            out[key] = value
        elif existing[key] != value:
            if key in always or override:
                out[key] = value
            if key not in always:
                conflicts.append(Conflict(where, key, str(existing[key]), value, override))
    return out, conflicts


def _string_map(value: Any) -> bool:
    return value is None or (
        isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    )


def _containers_well_formed(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, list):
        return False
    for container in value:
        if not isinstance(container, Mapping) or not isinstance(container.get("name"), str):
            return False
        env = container.get("env")
        if env is not None and not (
            isinstance(env, list) and all(isinstance(e, Mapping) and isinstance(e.get("name"), str) for e in env)
        ):
            return False
        ports = container.get("ports")
        if ports is not None and not (isinstance(ports, list) and all(isinstance(p, Mapping) for p in ports)):
            return False
    return True


def well_formed(template: Mapping[str, Any]) -> bool:
    """True when ``template`` has the shapes the comparison relies on (the API server's pod schema).

    The webhook can be sent anything; a malformed pod gets no changes rather than a patch that
    would not apply.
    """
    meta = template.get("metadata")
    spec = template.get("spec")
    if meta is not None and not isinstance(meta, Mapping):
        return False
    if not isinstance(spec, Mapping):
        return False
    meta = meta or {}
    containers = spec.get("containers")
    return (
        isinstance(containers, list)
        and len(containers) > 0  # a pod has at least one container
        and _string_map(meta.get("labels"))
        and _string_map(meta.get("annotations"))
        and _containers_well_formed(containers)
        and _containers_well_formed(spec.get("initContainers"))
    )


# What Istio's injector writes when it turns on its metrics merge (pkg/kube/inject, applyPrometheusMerge):
# Prometheus scrapes pilot-agent's status port, which serves Envoy's, its own and the app's metrics.
ISTIO_MERGED_SCRAPE = {PROMETHEUS_SCRAPE: "true", PROMETHEUS_PORT: "15020", PROMETHEUS_PATH: "/stats/prometheus"}


@dataclass(frozen=True)
class IstioMerge:
    """Where Istio's metrics merge keeps the app's scrape settings: istio-proxy's ``ISTIO_PROMETHEUS_ANNOTATIONS``."""

    list_key: str  # containers, or initContainers for a native sidecar
    index: int  # of istio-proxy in that list
    env_index: int | None  # of the variable; None when the injector wrote none
    entry: Mapping[str, Any] | None
    has_env: bool


def istio_merge(annotations: Mapping[str, Any], spec: Mapping[str, Any]) -> IstioMerge | None:
    """Istio's metrics merge on this pod, or None (no sidecar yet, or the merge is off).

    The injector moves the pod's scrape annotations into istio-proxy's ``ISTIO_PROMETHEUS_ANNOTATIONS``
    and points the annotations at pilot-agent (:data:`ISTIO_MERGED_SCRAPE`); a pod without scrape
    annotations gets the annotations but no variable, and then pilot-agent scrapes no app at all.
    Recognised by the variable, or else by those annotations on a pod with istio-proxy (with the
    default status port: a mesh-wide ``statusPort`` change is not seen).
    """
    proxy: tuple[str, int, Mapping[str, Any]] | None = None
    for list_key in ("containers", "initContainers"):
        for index, container in enumerate(spec.get(list_key) or []):
            if not isinstance(container, Mapping) or container.get("name") != "istio-proxy":
                continue
            for env_index, entry in enumerate(container.get("env") or []):
                if isinstance(entry, Mapping) and entry.get("name") == ISTIO_PROMETHEUS_ENV:
                    return IstioMerge(list_key, index, env_index, entry, True)
            proxy = proxy or (list_key, index, container)
    if proxy is None or any(annotations.get(k) != v for k, v in ISTIO_MERGED_SCRAPE.items()):
        return None
    list_key, index, container = proxy
    return IstioMerge(list_key, index, None, None, container.get("env") is not None)


# Istio's prometheusScrapeConfiguration (pkg/kube/inject): these keys, in this order.
_MERGE_KEYS = {"scrape": PROMETHEUS_SCRAPE, "path": PROMETHEUS_PATH, "port": PROMETHEUS_PORT}


def _merge_changes(
    found: IstioMerge, wanted: Mapping[str, str], override: bool
) -> tuple[MergeChange | None, list[Conflict]]:
    """The app's scrape settings in Istio's merge: a missing or empty one is filled, the user's kept (or overridden)."""
    entry = found.entry or {}
    raw = entry.get("value") or ""
    try:
        current = json.loads(raw) if raw else {}
    except ValueError:
        current = None
    if not isinstance(current, dict) or entry.get("valueFrom") is not None:
        theirs = _describe(entry)
        return None, [Conflict("container istio-proxy", ISTIO_PROMETHEUS_ENV, theirs, "metrics merge", False)]
    merged = dict(current)
    conflicts: list[Conflict] = []
    for key, annotation in _MERGE_KEYS.items():
        ours = wanted[annotation]
        theirs = str(current.get(key) or "")
        if theirs and theirs != ours:
            conflicts.append(
                Conflict("container istio-proxy", f"{ISTIO_PROMETHEUS_ENV}[{key}]", theirs, ours, override)
            )
            if not override:
                continue
        merged[key] = ours
    if merged == current and found.entry is not None:
        return None, conflicts
    ordered = {key: merged.pop(key) for key in _MERGE_KEYS if key in merged} | merged
    value = json.dumps(ordered, separators=(",", ":"))
    return MergeChange(found.list_key, found.index, found.env_index, value, found.has_env), conflicts


def port_changes(
    spec: Mapping[str, Any], wanted: tuple[ContainerPort, ...]
) -> tuple[tuple[ContainerPort, ...], list[Conflict]]:
    """The planned ports the pod lacks, and the conflicts of those whose name another port holds.

    Any container's declaration of the ``containerPort`` serves (Prometheus's pod discovery
    finds the port number wherever it is declared), whatever its name or protocol.
    """
    declared = [
        (str(container.get("name", "")), port)
        for list_key in ("containers", "initContainers")
        for container in spec.get(list_key) or []
        for port in container.get("ports") or []
    ]
    missing: list[ContainerPort] = []
    conflicts: list[Conflict] = []
    for port in wanted:
        if any(theirs.get("containerPort") == port.container_port for _, theirs in declared):
            continue
        holder = next(((name, theirs) for name, theirs in declared if theirs.get("name") == port.name), None)
        if holder is not None:
            name, theirs = holder
            where = f"container {name}"
            conflicts.append(
                Conflict(where, f"ports[{port.name}]", str(theirs.get("containerPort")), str(port.container_port))
            )
            continue
        missing.append(port)
    return tuple(missing), conflicts


def changes(template: Mapping[str, Any], plan: Plan) -> Changes:
    """Compare ``template`` (a pod or pod template) with ``plan``; no changes for a malformed one."""
    if not well_formed(template):
        meta_ok = isinstance(template.get("metadata"), Mapping)
        return Changes((), {}, {}, "metadata" in template, meta_ok, meta_ok, ())
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    override = plan.override_existing
    all_conflicts: list[Conflict] = []
    container_changes: list[ContainerChanges] = []
    for wanted in plan.containers:
        items = spec.get("initContainers" if wanted.init else "containers") or []
        index = next((i for i, c in enumerate(items) if c.get("name") == wanted.container), None)
        if index is None:
            continue
        change, conflicts = _container_changes(index, items[index], wanted.init, wanted.env, override)
        all_conflicts.extend(conflicts)
        if wanted.ports:
            ports, conflicts = port_changes(spec, wanted.ports)
            change = dataclasses.replace(change, ports=ports, has_ports=items[index].get("ports") is not None)
            all_conflicts.extend(conflicts)
        container_changes.append(change)
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    # Ours whatever they hold: the digest and owner, and Istio's canonical labels where Istio applies.
    always = frozenset({INJECTED_ANNOTATION, OWNER_ANNOTATION, *ISTIO_LABELS})
    label_changes, conflicts = _map_changes(labels, plan.labels, "label", override, always)
    all_conflicts.extend(conflicts)
    wanted_annotations = plan.annotations
    merge: MergeChange | None = None
    found = istio_merge(annotations, spec) if PROMETHEUS_PORT in wanted_annotations else None
    if found is not None:
        # The scrape annotations are the merge's (the sidecar's port): the app's go in its env.
        wanted_annotations = {k: v for k, v in wanted_annotations.items() if k not in PROMETHEUS_ANNOTATIONS}
        merge, conflicts = _merge_changes(found, plan.annotations, override)
        all_conflicts.extend(conflicts)
    annotation_changes, conflicts = _map_changes(annotations, wanted_annotations, "annotation", override, always)
    all_conflicts.extend(conflicts)
    proxy, conflicts = _merge_proxy_config(annotations.get(ISTIO_PROXY_CONFIG), plan.proxy_config, override)
    all_conflicts.extend(conflicts)
    if proxy is not None:
        annotation_changes[ISTIO_PROXY_CONFIG] = proxy
    return Changes(
        containers=tuple(container_changes),
        labels=label_changes,
        annotations=annotation_changes,
        has_metadata=template.get("metadata") is not None,
        has_labels=bool(meta.get("labels") is not None),
        has_annotations=bool(meta.get("annotations") is not None),
        conflicts=tuple(all_conflicts),
        merge=merge,
    )


def apply(template: Mapping[str, Any], plan: Plan) -> tuple[dict[str, Any], Changes]:
    """Return a changed deep copy of ``template`` and the changes made."""
    result: dict[str, Any] = copy.deepcopy(dict(template))
    delta = changes(result, plan)
    if (delta.labels or delta.annotations) and result.get("metadata") is None:
        result["metadata"] = {}  # absent or `metadata: null`
    for field_name, values in (("labels", delta.labels), ("annotations", delta.annotations)):
        if values:
            if result["metadata"].get(field_name) is None:
                result["metadata"][field_name] = {}
            result["metadata"][field_name].update(values)
    for change in delta.containers:
        container = result["spec"][change.list_key][change.index]
        env = list(container.get("env") or [])
        for at, entry in change.replace:
            env[at] = entry
        for at in sorted(change.remove, reverse=True):
            del env[at]
        env = [v.manifest() for v in change.prepend] + env + [v.manifest() for v in change.append]
        container["env"] = env
        if change.ports:
            container["ports"] = [*(container.get("ports") or []), *(p.manifest() for p in change.ports)]
    if delta.merge is not None:
        proxy = result["spec"][delta.merge.list_key][delta.merge.index]
        if delta.merge.env_index is None:
            proxy["env"] = [*(proxy.get("env") or []), delta.merge.entry()]
        else:
            proxy["env"][delta.merge.env_index]["value"] = delta.merge.value
    return result, delta


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _env_ops(change: ContainerChanges, base: str) -> list[dict[str, Any]]:
    """The operations on one container's env list (``base`` is its path)."""
    if not change.has_env:
        entries = [v.manifest() for v in (*change.prepend, *change.append)]
        return [{"op": "add", "path": base, "value": entries}] if entries else []
    ops = [
        {"op": "add", "path": f"{base}/{position}", "value": var.manifest()}
        for position, var in enumerate(change.prepend)
    ]
    shift = len(change.prepend)
    for at, entry in change.replace:
        ops.append({"op": "replace", "path": f"{base}/{at + shift}", "value": entry})
    for at in sorted(change.remove, reverse=True):
        ops.append({"op": "remove", "path": f"{base}/{at + shift}"})
    for var in change.append:
        ops.append({"op": "add", "path": f"{base}/-", "value": var.manifest()})
    return ops


def json_patch(template: Mapping[str, Any], plan: Plan, prefix: str = "") -> tuple[list[dict[str, Any]], Changes]:
    """RFC 6902 operations turning ``template`` into ``apply(template, plan)``.

    Only ``add`` operations unless a value must be replaced (overrideExisting,
    a merged OTEL_RESOURCE_ATTRIBUTES or proxy config, a stale digest) or a
    user's OTEL_RESOURCE_ATTRIBUTES moved behind the variables it references.
    """
    delta = changes(template, plan)
    ops: list[dict[str, Any]] = []
    meta = template.get("metadata") or {}
    if not delta.has_metadata and (delta.labels or delta.annotations):
        ops.append({"op": "add", "path": f"{prefix}/metadata", "value": {}})
    for field_name, present, values, existing in (
        ("labels", delta.has_labels, delta.labels, meta.get("labels") or {}),
        ("annotations", delta.has_annotations, delta.annotations, meta.get("annotations") or {}),
    ):
        if not values:
            continue
        if not present:
            ops.append({"op": "add", "path": f"{prefix}/metadata/{field_name}", "value": dict(values)})
            continue
        for key, value in values.items():
            op = "replace" if key in existing else "add"
            ops.append({"op": op, "path": f"{prefix}/metadata/{field_name}/{_escape(key)}", "value": value})
    for change in delta.containers:
        ops.extend(_env_ops(change, f"{prefix}/spec/{change.list_key}/{change.index}/env"))
        ports = f"{prefix}/spec/{change.list_key}/{change.index}/ports"
        if change.ports and not change.has_ports:
            ops.append({"op": "add", "path": ports, "value": [p.manifest() for p in change.ports]})
        elif change.ports:
            ops.extend({"op": "add", "path": f"{ports}/-", "value": p.manifest()} for p in change.ports)
    if delta.merge is not None:
        merge = delta.merge
        base = f"{prefix}/spec/{merge.list_key}/{merge.index}/env"
        if merge.env_index is not None:
            ops.append({"op": "replace", "path": f"{base}/{merge.env_index}", "value": merge.entry()})
        elif merge.has_env:
            ops.append({"op": "add", "path": f"{base}/-", "value": merge.entry()})
        else:
            ops.append({"op": "add", "path": base, "value": [merge.entry()]})
    return ops, delta
