"""The indexed selection the operator uses per namespace answers exactly what the plain one does.

``SelectorIndex.matching`` against ``select_services``, ``owned_pods`` over an
index against the definition (the first selecting service by name owns a pod),
and the pod index's buckets against the selectors reading them: random
namespaces of services with every selector form, and pods with random labels,
checked pod by pod.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from cel_cases import monitored_service
from otelwire.assess.assessing import live, owned_pods
from otelwire.handlers.indexing import _parsed, msvc_index
from otelwire.observe.pods import pod_bucket, pod_keys
from otelwire.plan.selecting import SelectorIndex, select_services
from otelwire.spec import MonitoredService, parse_monitored_service

NS = "shop"
KEYS = ("app", "tier", "team")
VALUES = ("a", "b", "c")


def make_ms(name: str, spec: dict[str, Any], namespace: str = NS) -> MonitoredService:
    body = monitored_service(spec, name=name)
    body["metadata"]["namespace"] = namespace
    return parse_monitored_service(body)


def random_selector(rng: random.Random) -> dict[str, Any] | None:
    form = rng.randrange(5)
    if form == 0:
        return None  # the default: app.kubernetes.io/name=<service name>
    labels = {k: rng.choice(VALUES) for k in rng.sample(KEYS, rng.randint(1, 2))}
    expression = {
        "key": rng.choice(KEYS),
        "operator": rng.choice(["In", "NotIn", "Exists", "DoesNotExist"]),
    }
    if expression["operator"] in ("In", "NotIn"):
        expression["values"] = rng.sample(VALUES, 2)
    if form == 1:
        return {"matchLabels": labels}
    if form == 2:
        return {"matchExpressions": [expression]}
    return {"matchLabels": labels, "matchExpressions": [expression]}


def random_services(rng: random.Random, count: int) -> list[MonitoredService]:
    out = []
    for i in range(count):
        selector = random_selector(rng)
        spec: dict[str, Any] = {"serviceName": rng.choice(["svc-a", "svc-b"])} if selector is None else {}
        if selector is not None:
            spec["selector"] = selector
        namespace = NS if rng.random() < 0.85 else "other"
        out.append(make_ms(f"ms-{rng.randrange(1000):03d}-{i}", spec, namespace))
    rng.shuffle(out)
    return out


def random_labels(rng: random.Random) -> dict[str, str]:
    labels = {k: rng.choice(VALUES) for k in KEYS if rng.random() < 0.6}
    if rng.random() < 0.3:
        labels["app.kubernetes.io/name"] = rng.choice(["svc-a", "svc-b"])
    return labels


def pod(name: str, labels: dict[str, str], phase: str = "Running", namespace: str = NS) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels}, "status": {"phase": phase}}


def reference_owned(
    ms: MonitoredService, services: list[MonitoredService], pods: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The definition: live pods of the namespace whose first selecting service (by name) is ``ms``."""
    rivals = [s for s in services if s.key != ms.key] + [ms]
    out = []
    for p in pods:
        labels = p["metadata"].get("labels") or {}
        if p["metadata"]["namespace"] != ms.namespace or not live(p) or not ms.selector.matches(labels):
            continue
        chosen = select_services(rivals, ms.namespace, labels)
        if chosen and chosen[0].key == ms.key:
            out.append(p)
    return out


@pytest.mark.parametrize("seed", range(12))
def test_the_index_matches_like_select_services(seed: int) -> None:
    rng = random.Random(seed)
    services = random_services(rng, rng.randint(0, 40))
    index = SelectorIndex(NS, services)
    for _ in range(200):
        labels = random_labels(rng)
        assert [m.key for m in index.matching(labels)] == [m.key for m in select_services(services, NS, labels)]


@pytest.mark.parametrize("seed", range(12))
def test_owned_pods_over_an_index_follow_the_definition(seed: int) -> None:
    rng = random.Random(seed)
    services = random_services(rng, rng.randint(1, 30))
    pods = [
        pod(f"p{i}", random_labels(rng), rng.choice(["Running", "Pending", "Succeeded"]), rng.choice([NS, NS, "other"]))
        for i in range(120)
    ]
    index = SelectorIndex(NS, services)
    for ms in services:
        if ms.namespace != NS:
            continue
        expected = [p["metadata"]["name"] for p in reference_owned(ms, services, pods)]
        assert [p["metadata"]["name"] for p in owned_pods(ms, index, pods)] == expected
        assert [p["metadata"]["name"] for p in owned_pods(ms, services, pods)] == expected
        # Without itself in the index (a service the index has not seen yet): the same answer.
        others = [s for s in services if s.key != ms.key]
        assert [p["metadata"]["name"] for p in owned_pods(ms, SelectorIndex(NS, others), pods)] == expected
        # The pod index bucket a reconcile reads holds every pod the service can select.
        bucket = pod_bucket(ms)
        in_bucket = [p for p in pods if bucket in pod_keys(p["metadata"]["namespace"], p["metadata"]["labels"])]
        assert [p["metadata"]["name"] for p in owned_pods(ms, index, in_bucket)] == expected


def test_rivals_first_by_name() -> None:
    a = make_ms("a", {"selector": {"matchLabels": {"app": "x"}}})
    b = make_ms("b", {"selector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}})
    index = SelectorIndex(NS, [b, a])
    assert [m.name for m in index.matching({"app": "x"})] == ["a", "b"]
    assert [m.name for m in index.matching({"app": "y"})] == ["b"]
    x = pod("x", {"app": "x"})
    assert owned_pods(a, index, [x]) == [x]
    assert owned_pods(b, index, [x]) == []  # a comes first by name


def test_the_msvc_index_keeps_one_object_per_generation() -> None:
    body = monitored_service({"selector": {"matchLabels": {"app": "x"}}}, name="cached")
    body["metadata"].update(namespace=NS, uid="uid-cached", generation=1)
    first = asyncio.run(msvc_index(body=_Body(body), namespace=NS))
    body["status"] = {"observedGeneration": 1}  # a status update: same spec, same generation
    again = asyncio.run(msvc_index(body=_Body(body), namespace=NS))
    assert first is not None and again is not None and again[NS] is first[NS]
    body["spec"]["selector"]["matchLabels"]["app"] = "y"
    body["metadata"]["generation"] = 2
    changed = asyncio.run(msvc_index(body=_Body(body), namespace=NS))
    assert changed is not None and changed[NS].selector.match_labels == {"app": "y"}
    body["metadata"]["deletionTimestamp"] = "2026-11-26T00:00:00Z"
    assert asyncio.run(msvc_index(body=_Body(body), namespace=NS)) is None
    assert "uid-cached" not in _parsed


class _Body(dict[str, Any]):
    """Enough of kopf.Body for the index function: ``.metadata`` as a mapping."""

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self["metadata"])


@pytest.mark.parametrize("seed", range(8))
def test_puts_and_drops_keep_the_index_equal_to_a_fresh_one(seed: int) -> None:
    """The operator updates one index per namespace as services come, change and go."""
    rng = random.Random(seed)
    index = SelectorIndex(NS)
    live: dict[str, MonitoredService] = {}
    for step in range(150):
        name = f"ms-{rng.randrange(25):02d}"
        if rng.random() < 0.3:
            index.drop(name)
            live.pop(name, None)
        else:
            selector = random_selector(rng)
            spec: dict[str, Any] = {"serviceName": "svc-a"} if selector is None else {"selector": selector}
            ms = make_ms(name, spec)
            index.put(ms)
            live[name] = ms
        assert len(index) == len(live)
        labels = random_labels(rng)
        expected = [m.name for m in select_services(list(live.values()), NS, labels)]
        assert [m.name for m in index.matching(labels)] == expected, step
    assert [m.name for m in index.services] == sorted(live)


def test_selections_follow_the_index_function_and_deletions() -> None:
    from otelwire.handlers.services import forget_deleted
    from otelwire.reconcile.selections import Selections

    memo = _Memo()
    body = monitored_service({"selector": {"matchLabels": {"app": "x"}}}, name="kept")
    body["metadata"].update(namespace=NS, uid="uid-kept", generation=1)
    asyncio.run(msvc_index(body=_Body(body), namespace=NS, memo=memo))
    selections = memo.runtime.selections
    version = selections.version
    assert [m.name for m in selections.get(NS).matching({"app": "x"})] == ["kept"]
    asyncio.run(msvc_index(body=_Body(body), namespace=NS, memo=memo))  # a status update: nothing changed
    assert selections.version == version
    asyncio.run(forget_deleted(body=_Body(body), namespace=NS, memo=memo, type="DELETED"))
    assert selections.get(NS).matching({"app": "x"}) == []
    assert selections.version > version and selections.all() == []
    assert isinstance(selections, Selections)


def test_a_handler_s_status_landing_late_wakes_one_more_reassessment() -> None:
    from otelwire.reconcile.landings import Landings

    class Reassessor:
        def __init__(self) -> None:
            self.woken: list[str] = []

        def put(self, key: str, body: Any) -> None:
            pass

        def wake(self, keys: list[str]) -> None:
            self.woken.extend(keys)

    now = [0.0]
    memo = _Memo()
    runtime = memo.runtime
    runtime.landings = Landings(window=10.0, clock=lambda: now[0])
    runtime.reassessor = Reassessor()
    body = monitored_service({"selector": {"matchLabels": {"app": "x"}}}, name="late")
    body["metadata"].update(namespace=NS, uid="uid-late", generation=1)
    runtime.landings.expect(f"{NS}/late")  # the create handler returned its status to kopf
    now[0] = 30.0
    asyncio.run(msvc_index(body=_Body(body), namespace=NS, memo=memo))  # not it yet
    assert runtime.reassessor.woken == []
    body["status"] = {"observedGeneration": 1}
    asyncio.run(msvc_index(body=_Body(body), namespace=NS, memo=memo))  # it, 30 s late
    asyncio.run(msvc_index(body=_Body(body), namespace=NS, memo=memo))
    assert runtime.reassessor.woken == [f"{NS}/late"]


class _Runtime:
    """The parts of ``reconcile.runtime.Runtime`` the index and deletion handlers use."""

    landings: Any
    reassessor: Any

    def __init__(self) -> None:
        from otelwire.reconcile.books import ReadyBook, ReconcileLocks
        from otelwire.reconcile.landings import Landings
        from otelwire.reconcile.selections import Selections
        from otelwire.webhook.readiness import IndexReadiness

        self.selections = Selections()
        self.index_ready = IndexReadiness()
        self.readiness = ReadyBook()
        self.locks = ReconcileLocks()
        self.landings = Landings()
        self.reassessor = None


class _Memo:
    def __init__(self) -> None:
        self.runtime = _Runtime()


@pytest.mark.parametrize(
    ("before", "listed", "after", "ready"),
    [
        ([], [], [], True),  # nothing existed: ready at once
        (["a/x"], ["a/x"], [], True),  # indexed before the list arrived
        ([], ["a/x", "a/y"], ["a/x"], False),  # one still to come
        ([], ["a/x", "a/y"], ["a/y", "a/x"], True),
        (["b/z"], ["a/x"], ["a/x"], True),  # created after the list: not waited for
    ],
)
def test_index_readiness(before: list[str], listed: list[str], after: list[str], ready: bool) -> None:
    from otelwire.webhook.readiness import IndexReadiness

    readiness = IndexReadiness()
    for key in before:
        readiness.seen(key)
    readiness.expect(listed)
    for key in after:
        readiness.seen(key)
    assert readiness.ready.is_set() is ready


def test_pods_with_the_same_labels_share_their_index_keys() -> None:
    one = pod_keys("shop", {"app": "orders", "pod-template-hash": "7d9f"})
    other = pod_keys("shop", {"app": "orders", "pod-template-hash": "7d9f"})
    assert one == ["shop", ("shop", "app", "orders"), ("shop", "pod-template-hash", "7d9f")]
    assert all(a is b for a, b in zip(one[1:], other[1:], strict=True))
    assert pod_keys("shop", {"app": 3}) == ["shop"]  # type: ignore[dict-item]
