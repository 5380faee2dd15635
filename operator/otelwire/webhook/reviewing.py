"""Answer one pod AdmissionReview: which MonitoredService, which plan, which patch.

The hot path of the product.  Per request it does a dictionary lookup of the
pod's namespace in the MonitoredService index, a selector lookup in a
per-namespace index of those services (one bucket per ``matchLabels`` pair,
rebuilt only when the index hands out other objects), a plan lookup in a
bounded cache keyed by (MonitoredService uid and generation, the pod's
template shape), and -- per cached plan -- a lookup of the answer for the few
pod facts the patch depends on: the answer (the base64 JSON patch, the
warnings, already serialised) is computed once per cache entry by
``changing.json_patch`` and then only copied into the response.  A pod that
already sets one of the planned variables takes the uncached path, since then
the patch depends on its values.  Anything unexpected -- missing fields,
garbage, an exception -- yields an *allowed* response with no patch: the
webhook must never be the reason a pod cannot start.
"""

from __future__ import annotations

import base64
import json
import logging
import operator
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from itertools import repeat
from typing import Any

from otelwire import metrics
from otelwire.plan import changing
from otelwire.plan.parts import (
    ISTIO_PROMETHEUS_ENV,
    ISTIO_PROXY_CONFIG,
    PROMETHEUS_PORT,
    VERSION_LABELS,
    Plan,
    Workload,
)
from otelwire.plan.planning import plan_for
from otelwire.plan.workloads import owner_of_pod
from otelwire.spec.model import LabelSelector, MonitoredService

logger = logging.getLogger(__name__)

ServiceLookup = Callable[[str], Iterable[MonitoredService]]
Shape = tuple[Any, ...]
DEFAULT_API_VERSION = "admission.k8s.io/v1"
RESULTS = ("injected", "unchanged", "unmatched", "skipped", "error")
ANSWERS_PER_PLAN = 16  # distinct pod shapes remembered per cached plan
MAX_NAMESPACES = 20_000  # selector indexes kept; past that the oldest is dropped
_MISSING = object()  # a label or annotation the pod does not carry (distinct from any value)


def template_shape(pod: Mapping[str, Any], owner: Workload | None) -> Shape:
    """What, besides the MonitoredService, a plan depends on (see ``plan.planning``)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    return (
        tuple(str(c.get("name")) for c in spec.get("containers") or [] if isinstance(c, Mapping)),
        tuple(str(c.get("name")) for c in spec.get("initContainers") or [] if isinstance(c, Mapping)),
        tuple(labels.get(key) for key in VERSION_LABELS),
        labels.get("sidecar.istio.io/inject"),
        "sidecar.istio.io/status" in annotations,
        owner,
    )


_PATCH_PREFIX = b',"patchType":"JSONPatch","patch":'


class Answer:
    """One review outcome without the request's identity: the result label, the patch, the warnings.

    ``fragment`` is what follows ``"allowed":true`` in the serialised response,
    so a cached answer is never serialised again.  The patch is kept only
    there (a 2.5 KB base64 string for a typical plan, once per cached answer).
    """

    __slots__ = ("_patch_end", "fragment", "result", "warnings")

    def __init__(self, result: str, patch: str | None = None, warnings: Iterable[str] = ()) -> None:
        self.result = result
        self.warnings = tuple(warnings)[:10]
        fragment = b""
        if patch:
            fragment += _PATCH_PREFIX + json.dumps(patch).encode()
        self._patch_end = len(fragment)
        if self.warnings:
            fragment += f',"warnings":{json.dumps(list(self.warnings), separators=(",", ":"))}'.encode()
        self.fragment = fragment

    @property
    def patch(self) -> str | None:
        """The base64 JSON patch, or None when the pod is left as it is."""
        if not self._patch_end:
            return None
        return str(json.loads(self.fragment[len(_PATCH_PREFIX) : self._patch_end]))

    @classmethod
    def of(cls, ops: list[dict[str, Any]], changes: changing.Changes) -> Answer:
        warnings = [f"otelwire: {c}" for c in changes.conflicts if not c.overridden]
        if not ops:
            return cls("unchanged", None, warnings)
        patch = base64.b64encode(json.dumps(ops, separators=(",", ":")).encode()).decode()
        return cls("injected", patch, warnings)

    def as_dict(self, uid: str, api_version: str) -> dict[str, Any]:
        response: dict[str, Any] = {"uid": uid, "allowed": True}
        if self.patch:
            response["patchType"] = "JSONPatch"
            response["patch"] = self.patch
        if self.warnings:
            response["warnings"] = list(self.warnings)
        return {"apiVersion": api_version, "kind": "AdmissionReview", "response": response}


SKIPPED = Answer("skipped")
UNMATCHED = Answer("unmatched")
FAILED = Answer("error")

_PREFIX_HEAD = b'{"apiVersion":'
_PREFIX_TAIL = b',"kind":"AdmissionReview","response":{"uid":'
_DEFAULT_PREFIX = _PREFIX_HEAD + json.dumps(DEFAULT_API_VERSION).encode() + _PREFIX_TAIL


def serialise(uid: str, api_version: str, answer: Answer) -> bytes:
    """Exactly ``json.dumps(answer.as_dict(uid, api_version), separators=(",", ":"))``, encoded."""
    if api_version == DEFAULT_API_VERSION:
        prefix = _DEFAULT_PREFIX
    else:
        prefix = _PREFIX_HEAD + json.dumps(api_version).encode() + _PREFIX_TAIL
    # A uid is a UUID: quoting it is all json.dumps would do.
    quoted = f'"{uid}"' if uid.isascii() and uid.replace("-", "").isalnum() else json.dumps(uid)
    return b"".join((prefix, quoted.encode(), b',"allowed":true', answer.fragment, b"}}"))


class PodFacts:
    """What the planner and the patch read from a pod, gathered in one walk -- for plain pods only.

    A plain pod has the JSON shapes the API server sends: metadata, labels and
    annotations as dicts (string maps), a non-empty list of containers (and
    optionally init containers) that are dicts with string names, env lists of
    dicts with string names, ports lists of dicts, owner references as dicts
    with string kinds and names.  ``pod_facts`` returns None for anything else, which then takes the
    uncached path, exactly as before the caches.
    """

    __slots__ = ("annotations", "containers", "has_annotations", "has_labels", "has_metadata", "labels", "shape")

    def __init__(
        self,
        metadata: dict[str, Any] | None,
        labels: dict[str, str] | None,
        annotations: dict[str, str] | None,
        containers: tuple[list[dict[str, Any]], list[dict[str, Any]]],
        shape: tuple[Any, ...],
    ) -> None:
        self.has_metadata = metadata is not None
        self.has_labels = labels is not None
        self.has_annotations = annotations is not None
        self.labels = labels or {}
        self.annotations = annotations or {}
        self.containers = containers  # (containers, init containers)
        self.shape = shape  # what the plan depends on: ``template_shape`` with the owner's raw facts

    def container(self, init: bool, name: str) -> tuple[int, dict[str, Any]] | None:
        """Position and body of the first (init) container named ``name``, as ``changing`` finds it."""
        names = self.shape[1 if init else 0]
        if name not in names:
            return None
        position = names.index(name)
        return position, self.containers[init][position]


_STRINGS = frozenset({str})
_DICTS = frozenset({dict})
_NAME = operator.itemgetter("name")
_GET_NAME = operator.methodcaller("get", "name")
_GET_ENV = operator.methodcaller("get", "env")
_GET_PORTS = operator.methodcaller("get", "ports")


def _plain_map(value: Any) -> bool:
    """None, or a dict of strings to strings (labels, annotations as the API server sends them)."""
    return value is None or (
        type(value) is dict and set(map(type, value)) <= _STRINGS and set(map(type, value.values())) <= _STRINGS
    )


def _plain_env(env: Any) -> bool:
    """None, or a list of dicts each with a string name."""
    return env is None or (
        type(env) is list and set(map(type, env)) <= _DICTS and set(map(type, map(_GET_NAME, env))) <= _STRINGS
    )


def _plain_ports(ports: Any) -> bool:
    """None, or a list of dicts."""
    return ports is None or (type(ports) is list and set(map(type, ports)) <= _DICTS)


def _text(value: Any) -> bool:
    return value is None or type(value) is str


def pod_facts(pod: Mapping[str, Any]) -> PodFacts | None:
    """The facts of a plain pod (see :class:`PodFacts`), or None."""
    metadata = pod.get("metadata")
    if metadata is not None and type(metadata) is not dict:
        return None
    meta = metadata or {}
    spec = pod.get("spec")
    labels = meta.get("labels")
    annotations = meta.get("annotations")
    if type(spec) is not dict or not _plain_map(labels) or not _plain_map(annotations):
        return None
    containers = spec.get("containers")
    init_containers = spec.get("initContainers")
    if init_containers is None:
        init_containers = []
    if type(containers) is not list or not containers or type(init_containers) is not list:
        return None
    lists: tuple[list[dict[str, Any]], list[dict[str, Any]]] = (containers, init_containers)
    names: list[tuple[str, ...]] = []
    for items in lists:
        if not set(map(type, items)) <= _DICTS:
            return None
        found = tuple(map(_GET_NAME, items))
        if not set(map(type, found)) <= _STRINGS or not all(map(_plain_env, map(_GET_ENV, items))):
            return None
        if not all(map(_plain_ports, map(_GET_PORTS, items))):
            return None
        names.append(found)
    references = meta.get("ownerReferences")
    owners: tuple[tuple[Any, ...], ...] | None = None
    if references is not None:
        if type(references) is not list:
            return None
        facts = []
        for reference in references:
            if type(reference) is not dict or not _text(kind := reference.get("kind")):
                return None
            if not _text(name := reference.get("name")):
                return None
            facts.append((kind, name, bool(reference.get("controller"))))
        owners = tuple(facts)
    present_labels = labels or {}
    shape = (
        names[0],
        names[1],
        tuple(map(present_labels.get, VERSION_LABELS)),
        present_labels.get("sidecar.istio.io/inject"),
        "sidecar.istio.io/status" in (annotations or {}),
        owners,  # with the label below, all that ``owner_of_pod`` reads
        present_labels.get("pod-template-hash"),
    )
    return PodFacts(metadata, labels, annotations, lists, shape)


class Planned:
    """A cached plan, the env names it sets per container, and the answers computed from it."""

    __slots__ = (
        "annotation_keys",
        "answers",
        "label_keys",
        "ours",
        "plan",
        "planned_ports",
        "ports",
        "scraped",
        "wanted",
    )

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.ours = tuple(frozenset(c.names()) for c in plan.containers)
        self.wanted = tuple((c.init, c.container, ours) for c, ours in zip(plan.containers, self.ours, strict=True))
        # The containers the plan declares ports in, and those ports.
        self.ports = tuple((c.init, c.container, c.ports) for c in plan.containers if c.ports)
        self.planned_ports = tuple(port for c in plan.containers for port in c.ports)
        self.label_keys = tuple(plan.labels)
        self.annotation_keys = tuple(plan.annotations)
        self.scraped = PROMETHEUS_PORT in plan.annotations  # the answer then reads Istio's metrics merge
        self.answers: dict[tuple[Any, ...], Answer] = {}

    def _key(self, facts: PodFacts) -> tuple[Any, ...]:
        """Everything of the pod that ``changing.json_patch(pod, plan)`` reads (keep the two in step).

        The metadata flags, the current value (or absence) of each planned label
        and annotation, the Istio proxy config when the plan merges into it, and
        per planned container its position and whether it has an ``env`` list --
        plus, when that env already names a planned variable (conflicts, merges,
        moves then depend on it), the order of all its names and the exact
        content of the entries so named -- and, when the plan declares ports, see
        :meth:`_ports_key`.
        """
        containers: list[tuple[Any, ...] | None] = []
        for init, name, ours in self.wanted:
            found = facts.container(init, name)
            if found is None:
                containers.append(None)
                continue
            position, container = found
            env = container.get("env")
            if env and not ours.isdisjoint(map(_NAME, env)):
                names = tuple(map(_NAME, env))
                theirs = tuple(json.dumps(entry, sort_keys=True) for entry in env if entry["name"] in ours)
                containers.append((position, True, names, theirs))
            else:
                containers.append((position, "env" in container and env is not None))
        annotations = facts.annotations
        return (
            facts.has_metadata,
            facts.has_labels,
            facts.has_annotations,
            tuple(map(facts.labels.get, self.label_keys, repeat(_MISSING))),
            tuple(map(annotations.get, self.annotation_keys, repeat(_MISSING))),
            annotations.get(ISTIO_PROXY_CONFIG) if self.plan.proxy_config else None,
            tuple(containers),
            self._merge_key(facts) if self.scraped else None,
            self._ports_key(facts) if self.ports else None,
        )

    def _ports_key(self, facts: PodFacts) -> tuple[Any, ...]:
        """The pod's ports as ``changing.port_changes`` reads them for the planned ones.

        Per declaring container whether it has a ``ports`` list, and, in the pod's order,
        every port bearing the number or the name of a planned port, with where it is (a
        name's holder is named in the conflict).  Compared with ``==`` as ``changing`` does:
        a value need not be hashable.
        """
        lists = []
        for init, name, _ in self.ports:
            found = facts.container(init, name)
            lists.append(None if found is None else found[1].get("ports") is not None)
        relevant = tuple(
            (init, position, port.get("name"), port.get("containerPort"))
            for init in (False, True)
            for position, container in enumerate(facts.containers[init])
            for port in container.get("ports") or ()
            if any(
                port.get("containerPort") == p.container_port or port.get("name") == p.name for p in self.planned_ports
            )
        )
        return tuple(lists), relevant

    @staticmethod
    def _merge_key(facts: PodFacts) -> tuple[Any, ...] | None:
        """Istio's metrics merge as ``changing.istio_merge`` reads it: istio-proxy's place and its variable's entry.

        Without the variable, where it would be appended (istio-proxy's place, whether it has an
        env list); whether the merge is on then depends on the scrape annotations, already in the key.
        """
        proxy: tuple[Any, ...] | None = None
        for init in (False, True):
            found = facts.container(init, "istio-proxy")
            if found is not None:
                position, container = found
                env = container.get("env") or []
                names = tuple(map(_NAME, env))
                if ISTIO_PROMETHEUS_ENV in names:
                    at = names.index(ISTIO_PROMETHEUS_ENV)
                    return (init, position, at, json.dumps(env[at], sort_keys=True))
                proxy = proxy or (init, position, None, container.get("env") is not None)
        return proxy

    def answer(self, pod: Mapping[str, Any], facts: PodFacts | None) -> Answer:
        """The answer for ``pod``: cached per pod shape when ``facts`` are known, else computed."""
        if facts is None:
            return Answer.of(*changing.json_patch(pod, self.plan))
        key = self._key(facts)
        found = self.answers.get(key)
        if found is None:
            found = Answer.of(*changing.json_patch(pod, self.plan))
            if len(self.answers) >= ANSWERS_PER_PLAN:
                del self.answers[next(iter(self.answers))]
            self.answers[key] = found
        return found


class PlanCache:
    """A bounded LRU of plans keyed by (service identity, generation, template shape)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._plans: OrderedDict[tuple[Any, ...], Planned] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _get(self, key: tuple[Any, ...]) -> Planned | None:
        found = self._plans.get(key)
        if found is not None:
            self._plans.move_to_end(key)
            self.hits += 1
        return found

    def _put(self, key: tuple[Any, ...], planned: Planned) -> Planned:
        self.misses += 1
        self._plans[key] = planned
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)
        return planned

    def entry(
        self,
        ms: MonitoredService,
        pod: Mapping[str, Any],
        owner: Workload | None,
        namespace: str,
        podmonitors: bool = False,
    ) -> Planned:
        key = (ms.uid or ms.key, ms.generation, namespace, podmonitors, template_shape(pod, owner))
        return self._get(key) or self._put(key, Planned(plan_for(ms, pod, owner, namespace, podmonitors=podmonitors)))

    def entry_for(
        self, ms: MonitoredService, pod: Mapping[str, Any], namespace: str, facts: PodFacts, podmonitors: bool = False
    ) -> Planned:
        """Like :meth:`entry` for a plain pod: keyed by its facts, the owner derived only on a miss."""
        key = (ms.uid or ms.key, ms.generation, namespace, podmonitors, facts.shape)
        return self._get(key) or self._put(
            key, Planned(plan_for(ms, pod, owner_of_pod(pod), namespace, podmonitors=podmonitors))
        )

    def plan(
        self,
        ms: MonitoredService,
        pod: Mapping[str, Any],
        owner: Workload | None,
        namespace: str,
        podmonitors: bool = False,
    ) -> Plan:
        return self.entry(ms, pod, owner, namespace, podmonitors).plan


class Selection:
    """The webhook-mode MonitoredServices of one namespace, indexed for selector matching.

    Same answer as ``selecting.select_services(...)[0]``: the first by name
    whose selector matches.  Each service with ``matchLabels`` sits in the
    bucket of its first (key, value) pair, so a pod's labels pick the few
    candidates directly; services selecting by expressions only are always
    candidates.  Built from one snapshot of the index (``services``) and
    valid while the index hands out the very same objects.
    """

    __slots__ = ("buckets", "keys", "ordered", "rest", "services")

    def __init__(self, namespace: str, services: tuple[MonitoredService, ...]) -> None:
        self.services = services
        webhook = [ms for ms in services if ms.spec.injection.mode == "webhook" and ms.namespace == namespace]
        ordered = [(ms, ms.selector) for ms in sorted(webhook, key=lambda ms: ms.name)]
        # exact: a single matchLabels pair and no expressions, so being found in its bucket is a match.
        self.ordered: tuple[tuple[MonitoredService, LabelSelector, bool], ...] = tuple(
            (ms, selector, len(selector.match_labels) == 1 and not selector.match_expressions)
            for ms, selector in ordered
        )
        self.buckets: dict[tuple[str, str], list[int]] = {}
        self.rest: list[int] = []
        for position, (_, selector) in enumerate(ordered):
            if selector.match_labels:
                pair = next(iter(selector.match_labels.items()))
                self.buckets.setdefault(pair, []).append(position)
            else:
                self.rest.append(position)
        self.keys = tuple(dict.fromkeys(key for key, _ in self.buckets))

    def same(self, services: tuple[MonitoredService, ...]) -> bool:
        return len(services) == len(self.services) and all(map(operator.is_, services, self.services))

    def first(self, labels: Mapping[str, Any]) -> MonitoredService | None:
        candidates: Iterable[int]
        try:
            if not self.rest and len(self.keys) == 1:  # the usual namespace: everyone selects by one key
                value = labels.get(self.keys[0])
                candidates = self.buckets.get((self.keys[0], value), ()) if value is not None else ()
            else:
                found = list(self.rest)
                for key in self.keys:
                    value = labels.get(key)
                    if value is not None:
                        found.extend(self.buckets.get((key, value), ()))
                candidates = sorted(found) if len(found) > 1 else found
        except TypeError:  # an unhashable label value: check every service
            return next((ms for ms, selector, _ in self.ordered if selector.matches(labels)), None)
        for position in candidates:
            ms, selector, exact = self.ordered[position]
            if exact or selector.matches(labels):
                return ms
        return None


class Reviewer:
    """Turns AdmissionReview requests for pods into responses."""

    def __init__(self, lookup: ServiceLookup, excluded_namespaces: Iterable[str] = (), cache: PlanCache | None = None):
        self.lookup = lookup
        self.excluded = frozenset(excluded_namespaces)
        self.cache = cache or PlanCache()
        # The cluster runs the Prometheus Operator: pods are scraped through PodMonitors, never
        # also through annotations.  Set by the operator from its discovery of the API.
        self.podmonitors = False
        self._selections: dict[str, Selection] = {}
        self._counters = {result: metrics.ADMISSIONS.labels(result) for result in RESULTS}

    def review(self, review: Any) -> dict[str, Any]:
        """The AdmissionReview response for ``review`` (a parsed request), as a dict."""
        uid, api_version, answer = self.answer(review)
        return answer.as_dict(uid, api_version)

    def review_json(self, review: Any) -> bytes:
        """The same response, serialised: ``json.dumps(self.review(review), separators=(",", ":"))``."""
        return serialise(*self.answer(review))

    def answer(self, review: Any) -> tuple[str, str, Answer]:
        """(request uid, apiVersion, answer) for ``review``; counted and timed."""
        started = time.perf_counter()
        answer = FAILED
        api_version = DEFAULT_API_VERSION
        uid = ""
        try:
            if isinstance(review, Mapping):
                api_version = str(review.get("apiVersion") or api_version)
                request = review.get("request")
                if isinstance(request, Mapping):
                    uid = str(request.get("uid") or "")
                    answer = self._review(request)
                    return uid, api_version, answer
            answer = SKIPPED
            return uid, api_version, answer
        except Exception:
            logger.exception("admission review failed; allowing the pod unchanged")
            answer = FAILED
            return uid, api_version, answer
        finally:
            counter = self._counters.get(answer.result)
            (counter or metrics.ADMISSIONS.labels(answer.result)).inc()
            metrics.ADMISSION_SECONDS.observe(time.perf_counter() - started)

    def _selection(self, namespace: str) -> Selection | None:
        services = tuple(self.lookup(namespace))
        if not services:
            self._selections.pop(namespace, None)
            return None
        selection = self._selections.get(namespace)
        if selection is None or not selection.same(services):
            if selection is None and len(self._selections) >= MAX_NAMESPACES:
                del self._selections[next(iter(self._selections))]
            selection = self._selections[namespace] = Selection(namespace, services)
        return selection

    def _review(self, request: Mapping[str, Any]) -> Answer:
        pod = request.get("object")
        kind = request.get("kind") or {}
        if (
            not isinstance(pod, Mapping)
            or request.get("operation") not in (None, "CREATE")
            or (isinstance(kind, Mapping) and kind.get("kind") not in (None, "Pod"))
        ):
            return SKIPPED
        meta = pod.get("metadata") or {}
        if not isinstance(meta, Mapping) or not isinstance(pod.get("spec"), Mapping):
            return SKIPPED
        namespace = str(request.get("namespace") or meta.get("namespace") or "")
        if not namespace or namespace in self.excluded:
            return SKIPPED
        labels = meta.get("labels") or {}
        if not isinstance(labels, Mapping):
            return SKIPPED
        selection = self._selection(namespace)
        ms = selection.first(labels) if selection is not None else None
        if ms is None:
            return UNMATCHED
        facts = pod_facts(pod)
        if facts is None:
            return self.cache.entry(ms, pod, owner_of_pod(pod), namespace, self.podmonitors).answer(pod, None)
        return self.cache.entry_for(ms, pod, namespace, facts, self.podmonitors).answer(pod, facts)
