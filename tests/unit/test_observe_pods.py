"""Pods as assessment reads them (``observe/pods.py``) through the informer (``kube/informing.py``):
the store, listing in pages, the watch stream, wakes."""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
from otelwire.kube import informing
from otelwire.kube.client import Kube, KubeError
from otelwire.kube.informing import Informer, _lines
from otelwire.observe.pods import PodStore, PodWatch
from otelwire.reconcile.selections import Selections
from otelwire.reconcile.waking import wake_selecting_services
from otelwire.spec.model import parse_monitored_service


def pod(
    name: str,
    labels: dict[str, str] | None = None,
    *,
    namespace: str = "shop",
    phase: str = "Pending",
    node: str | None = None,
    version: str = "1",
    **extra_meta: Any,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "shop/app:1"}]}
    if node:
        spec["nodeName"] = node
    return {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{namespace}-{name}",
            "labels": labels if labels is not None else {"app": name},
            "resourceVersion": version,
            **extra_meta,
        },
        "spec": spec,
        "status": {"phase": phase},
    }


def names(found: list[dict[str, Any]]) -> list[str]:
    return sorted(p["metadata"]["name"] for p in found)


@pytest.mark.parametrize(
    ("before", "after", "reported"),
    [
        (None, pod("a"), True),  # new
        (pod("a"), pod("a", version="2"), False),  # a new resourceVersion, the same skeleton
        (pod("a"), pod("a", managedFields=[{"manager": "kwok"}]), False),  # parts a skeleton drops
        (pod("a"), pod("a", node="node-1"), True),  # scheduled
        (pod("a", node="node-1"), pod("a", node="node-1", phase="Running"), True),  # started
        (pod("a"), pod("a", {"app": "a", "tier": "web"}), True),  # relabelled
        (pod("a"), pod("a", deletionTimestamp="2026-11-26T00:00:00Z"), True),  # terminating
    ],
)
def test_only_a_changed_skeleton_is_reported(
    before: dict[str, Any] | None, after: dict[str, Any], reported: bool
) -> None:
    store = PodStore()
    if before is not None:
        store.put(before)
    found = store.put(after)
    assert (found is not None) is reported
    if found is not None:
        assert found == ("shop", after["metadata"]["labels"])
    assert len(store) == 1


def test_pods_are_filed_under_their_namespace_and_each_label_pair() -> None:
    store = PodStore()
    store.put(pod("a", {"app": "orders", "tier": "web"}))
    store.put(pod("b", {"app": "orders"}))
    store.put(pod("c", {"app": "cart"}, namespace="bank"))
    assert names(store.get("shop")) == ["a", "b"]
    assert names(store.get(("shop", "app", "orders"))) == ["a", "b"]
    assert names(store.get(("shop", "tier", "web"))) == ["a"]
    assert store.get(("shop", "app", "cart")) == []
    # Relabelled: it leaves the buckets of the labels it lost.
    store.put(pod("a", {"app": "cart"}))
    assert names(store.get(("shop", "app", "orders"))) == ["b"]
    assert store.get(("shop", "tier", "web")) == []
    assert names(store.get(("shop", "app", "cart"))) == ["a"]
    # Kept as skeletons, never as the pods the API served.
    (kept,) = store.get(("shop", "app", "cart"))
    assert "resourceVersion" not in kept["metadata"] and "uid" not in kept["metadata"]


def test_a_deleted_pod_leaves_every_bucket_and_is_reported_once() -> None:
    store = PodStore()
    store.put(pod("a", {"app": "orders"}))
    assert store.remove(pod("a", {"app": "orders"})) == ("shop", {"app": "orders"})
    assert store.remove(pod("a", {"app": "orders"})) is None
    assert store.get("shop") == [] and store.get(("shop", "app", "orders")) == [] and len(store) == 0


def test_a_listing_replaces_its_scope_and_reports_what_changed_there() -> None:
    store = PodStore()
    store.replace(None, [pod("a"), pod("b"), pod("x", namespace="bank")])
    changed = store.replace("shop", [pod("a"), pod("c")])  # b is gone, c is new, a is unchanged
    assert sorted(changed, key=lambda c: str(c[1])) == [("shop", {"app": "b"}), ("shop", {"app": "c"})]
    assert names(store.get("shop")) == ["a", "c"]
    assert names(store.get("bank")) == ["x"], "another namespace's listing is not this one's to replace"
    store.replace(None, [])
    assert len(store) == 0


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b'{"a":1}\n{"b":2}\n'], [b'{"a":1}', b'{"b":2}']),
        ([b'{"a"', b":1}\n", b'{"b":2}'], [b'{"a":1}', b'{"b":2}']),  # split lines, no final newline
        ([b"\n\n", b'{"a":1}\n\n'], [b'{"a":1}']),  # blank lines
        ([b'{"a":', b"", b"1", b"}\n"], [b'{"a":1}']),
        ([], []),
    ],
)
def test_watch_lines_across_chunks(chunks: list[bytes], lines: list[bytes]) -> None:
    assert list(_lines(_Response(chunks=chunks))) == lines


class _Response:
    def __init__(self, data: bytes = b"", chunks: list[bytes] | None = None) -> None:
        self.data = data
        self.chunks = chunks or []
        self.closed = False
        self.status = 200

    def stream(self, amt: Any = None, decode_content: bool = False) -> Iterator[bytes]:
        yield from self.chunks

    def release_conn(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


class _Server:
    """The GETs an informer makes (``Kube.stream``), answered from a script."""

    def __init__(self, pages: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.events = events
        self.calls: list[dict[str, Any]] = []

    def stream(self, path: str, query: dict[str, str], timeout: Any) -> _Response:
        self.calls.append({"path": path, **query})
        if query.get("watch"):
            return _Response(chunks=[json.dumps(e).encode() + b"\n" for e in self.events])
        return _Response(data=json.dumps(self.pages.pop(0)).encode())


def _watch(server: _Server, changed: list[Any] | None = None, namespaces: tuple[str, ...] = ("shop",)) -> PodWatch:
    return PodWatch(
        server,  # type: ignore[arg-type]
        namespaces,
        notify=None if changed is None else changed.extend,
        page=2,
    )


def _informer(watch: PodWatch) -> Informer:
    (informer,) = watch.informers.informers
    return informer


def test_a_listing_comes_in_pages_and_the_watch_resumes_from_its_version() -> None:
    server = _Server(
        pages=[
            {"metadata": {"continue": "t1"}, "items": [pod("a"), pod("b")]},
            {"metadata": {"resourceVersion": "42"}, "items": [pod("c")]},
        ],
        events=[
            {"type": "ADDED", "object": pod("d", version="43")},
            {"type": "MODIFIED", "object": pod("a", node="n1", version="44")},
            {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "50"}}},
            {"type": "DELETED", "object": pod("b", version="51")},
        ],
    )
    changed: list[Any] = []
    watch = _watch(server, changed)
    assert not watch.synced
    assert _informer(watch)._list() == "42"
    assert watch.synced and watch.wait(0)
    assert [c.get("continue") for c in server.calls] == [None, "t1"]
    assert all(c["limit"] == "2" and c["path"] == "/api/v1/namespaces/shop/pods" for c in server.calls)
    assert names(watch.get("shop")) == ["a", "b", "c"]
    assert _informer(watch)._watch("42") == "51"
    (call,) = [c for c in server.calls if c.get("watch")]
    assert call["resourceVersion"] == "42" and call["allowWatchBookmarks"] == "true"
    assert names(watch.get("shop")) == ["a", "c", "d"]
    assert [c[1]["app"] for c in changed] == ["a", "b", "c", "d", "a", "b"]


def test_a_listing_holds_one_page_of_pods_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pods of a page are gone before the next page is asked for (only skeletons stay)."""

    class Item(dict[str, Any]):  # a decoded pod that a weak reference can follow
        pass

    alive: list[weakref.ref[Item]] = []

    def loads(raw: bytes) -> Any:
        page = json.loads(raw)
        page["items"] = [Item(item) for item in page["items"]]
        alive.extend(weakref.ref(item) for item in page["items"])
        return page

    server = _Server(
        pages=[
            {"metadata": {"continue": "t1"}, "items": [pod("a"), pod("b")]},
            {"metadata": {"continue": "t2"}, "items": [pod("c"), pod("d")]},
            {"metadata": {"resourceVersion": "42"}, "items": [pod("e")]},
        ],
        events=[],
    )
    held: list[int] = []

    class Counting(_Server):
        def stream(self, path: str, query: dict[str, str], timeout: Any) -> _Response:
            held.append(sum(ref() is not None for ref in alive))
            return super().stream(path, query, timeout)

    counting = Counting(server.pages, server.events)
    monkeypatch.setattr(informing.decoding, "loads", loads)
    watch = _watch(counting)
    assert _informer(watch)._list() == "42"
    # At most the one pod the store's loop has just filed, never the rest of the page.
    assert max(held) <= 1, f"a page's pods outlived it into the next page's request: {held}"
    assert names(watch.get(("shop", "app", "c"))) == ["c"]


def test_a_listing_reports_its_changes_with_the_skeletons_shared_labels() -> None:
    """Not with the listed pod's own dict: a listing reports once it is complete, and the
    pods' dicts would keep a part of every page alive until then."""
    store = PodStore()
    listed = pod("a")
    [(namespace, labels)] = store.replace("shop", [listed])
    assert (namespace, labels) == ("shop", {"app": "a"})
    assert labels is not listed["metadata"]["labels"]
    assert labels is store.get(("shop", "app", "a"))[0]["metadata"]["labels"]


def test_an_expired_version_in_the_stream_means_list_again() -> None:
    gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}}
    watch = _watch(_Server(pages=[], events=[{"type": "ADDED", "object": pod("a")}, gone]))
    with pytest.raises(informing.Expired):
        _informer(watch)._watch("7")
    forbidden = {"type": "ERROR", "object": {"kind": "Status", "code": 403, "reason": "Forbidden", "message": "no"}}
    with pytest.raises(RuntimeError, match="Forbidden"):
        _informer(_watch(_Server(pages=[], events=[forbidden])))._watch("7")


def test_synced_once_every_namespace_was_listed() -> None:
    watch = _watch(_Server([], []), namespaces=("shop", "bank"))
    watch.listed("shop", [pod("a")])
    assert not watch.synced
    watch.listed("bank", [])
    assert watch.synced and watch.wait(30)


def test_after_one_wait_ran_out_the_next_ones_do_not_block() -> None:
    watch = _watch(_Server([], []))
    assert not watch.wait(0.05)
    started = time.monotonic()
    assert not watch.wait(30)
    assert time.monotonic() - started < 1
    watch.listed("shop", [])
    assert watch.wait(30)


def test_changes_reach_the_event_loop_in_batches() -> None:
    loop = asyncio.new_event_loop()
    try:
        batches: list[list[Any]] = []
        watch = PodWatch(_Server([], []), ("shop",), loop=loop, notify=batches.append)  # type: ignore[arg-type]
        # Three changes before the loop gets to run: one flush on its way, taking all three.
        for name in ("a", "b", "c"):
            watch.event("ADDED", pod(name))
        assert batches == [] and len(loop._ready) == 1  # type: ignore[attr-defined]
        loop.run_until_complete(asyncio.sleep(0))
        watch.event("MODIFIED", pod("a", node="n1"))
        watch.event("MODIFIED", pod("a", node="n1", version="9"))  # no change: not reported
        loop.run_until_complete(asyncio.sleep(0))
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    assert [[c[1]["app"] for c in batch] for batch in batches] == [["a", "b", "c"], ["a"]]
    watch.event("DELETED", pod("b"))  # the loop is closed (the operator exiting): dropped, no error


class _Reassessor:
    def __init__(self) -> None:
        self.woken: list[str] = []

    def wake(self, keys: Any) -> int:
        found = sorted(keys)
        self.woken.extend(found)
        return len(found)


class _Memo:
    def __init__(self) -> None:
        self.selections = Selections()
        self.reassessor = _Reassessor()


def _service(name: str, namespace: str, selector: dict[str, Any]) -> Any:
    body = {"metadata": {"name": name, "namespace": namespace, "uid": name}, "spec": {"selector": selector}}
    return parse_monitored_service(body, namespace)


def test_a_changed_pod_wakes_the_services_selecting_it_in_its_namespace() -> None:
    memo = _Memo()
    memo.selections.put("shop", "orders", _service("orders", "shop", {"matchLabels": {"app": "orders"}}))
    memo.selections.put(
        "shop", "all", _service("all", "shop", {"matchExpressions": [{"key": "app", "operator": "Exists"}]})
    )
    memo.selections.put("bank", "orders", _service("orders", "bank", {"matchLabels": {"app": "orders"}}))
    woken = wake_selecting_services(
        memo.selections,
        memo.reassessor,  # type: ignore[arg-type]
        [("shop", {"app": "orders"}), ("shop", {"app": "orders"}), ("shop", {"tier": "web"}), ("", {"app": "x"})],
    )
    assert memo.reassessor.woken == ["shop/all", "shop/orders"] and woken == 2
    assert wake_selecting_services(memo.selections, memo.reassessor, [("elsewhere", {"app": "orders"})]) == 0  # type: ignore[arg-type]


class _Client:
    """An ``ApiClient`` answering every request with one status and body."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.body = status, body
        self.urls: list[str] = []

    def param_serialize(self, method: str, path: str, **_: Any) -> tuple[str, str, dict[str, str], Any, Any]:
        return method, path, {}, None, None

    def call_api(self, method: str, url: str, **_: Any) -> Any:
        self.urls.append(url)
        response = _Response(data=self.body)
        response.status = self.status

        class Wrapped:
            pass

        wrapped = Wrapped()
        wrapped.response = response  # type: ignore[attr-defined]
        return wrapped


def test_a_refused_listing_raises_with_the_api_servers_message() -> None:
    refused = _Client(403, b'{"kind":"Status","message":"pods is forbidden: User \\"x\\" cannot list"}')
    kube = Kube(refused)  # type: ignore[arg-type]
    with pytest.raises(KubeError, match="HTTP 403: pods is forbidden") as raised:
        kube.stream("/api/v1/namespaces/shop/pods", {"limit": "500"}, 60)
    assert raised.value.status == 403
    assert refused.urls == ["/api/v1/namespaces/shop/pods?limit=500"]
    served = _Client(200, b"{}")
    assert isinstance(Kube(served).stream("/api/v1/pods", {}, 60), _Response)  # type: ignore[arg-type]
    assert served.urls == ["/api/v1/pods"]
