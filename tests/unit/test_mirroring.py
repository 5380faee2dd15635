"""The webhook's MonitoredService mirror (``observe/mirror.py``): listing, events, fallback."""

from __future__ import annotations

from typing import Any

from kubernetes import client
from otelwire.kube.client import Kube
from otelwire.observe.mirror import Mirror
from otelwire.spec.model import MonitoredService


def _body(name: str, namespace: str, uid: str, generation: int = 1, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "otelwire.io/v1alpha1",
        "kind": "MonitoredService",
        "metadata": {"name": name, "namespace": namespace, "uid": uid, "generation": generation},
        "spec": {"selector": {"matchLabels": {"app": name}}, **spec},
    }


def _names(found: Any) -> list[str]:
    return sorted(ms.name for ms in found)


def _mirror(fallback: dict[str, list[MonitoredService]] | None = None, namespaces: tuple[str, ...] = ()) -> Mirror:
    known = fallback or {}
    return Mirror(Kube(client.ApiClient(client.Configuration())), lambda ns: known.get(ns, []), namespaces)


def test_until_listed_the_fallback_answers() -> None:
    sentinel: list[MonitoredService] = []
    mirror = _mirror({"shop": sentinel})
    assert mirror.get("shop") is sentinel
    assert not mirror.synced and not mirror.wait(0)
    mirror.replace(None, [_body("orders", "shop", "u1")])
    assert mirror.synced and mirror.wait(0)
    assert _names(mirror.get("shop")) == ["orders"]
    assert list(mirror.get("elsewhere")) == []


def test_events_add_change_and_remove_services() -> None:
    mirror = _mirror()
    mirror.replace(None, [_body("orders", "shop", "u1"), _body("cart", "shop", "u2"), _body("ledger", "bank", "u3")])
    assert _names(mirror.get("shop")) == ["cart", "orders"]
    mirror.update("MODIFIED", _body("orders", "shop", "u1", generation=2))
    assert {ms.name: ms.generation for ms in mirror.get("shop")} == {"orders": 2, "cart": 1}
    mirror.update("DELETED", _body("cart", "shop", "u2"))
    mirror.update("ADDED", _body("search", "bank", "u4"))
    assert _names(mirror.get("shop")) == ["orders"]
    assert _names(mirror.get("bank")) == ["ledger", "search"]
    mirror.update("DELETED", _body("orders", "shop", "u1"))
    assert list(mirror.get("shop")) == []


def test_an_invalid_service_is_left_out_as_the_index_does() -> None:
    mirror = _mirror()
    mirror.replace(None, [_body("orders", "shop", "u1")])
    mirror.update("MODIFIED", _body("orders", "shop", "u1", serviceName="$(BROKEN)"))
    assert list(mirror.get("shop")) == []


def test_a_relist_replaces_what_was_known_and_an_unchanged_namespace_keeps_its_view() -> None:
    mirror = _mirror()
    mirror.replace(None, [_body("orders", "shop", "u1"), _body("ledger", "bank", "u2")])
    bank = mirror.get("bank")
    mirror.update("ADDED", _body("cart", "shop", "u3"))
    assert mirror.get("bank") is bank, "the webhook's per-namespace caches key on the view it was handed"
    mirror.replace(None, [_body("cart", "shop", "u3")])
    assert _names(mirror.get("shop")) == ["cart"]
    assert list(mirror.get("bank")) == []


def test_namespaced_scopes_are_listed_separately() -> None:
    mirror = _mirror(namespaces=("shop", "bank"))
    mirror.replace("shop", [_body("orders", "shop", "u1")])
    assert not mirror.synced, "bank is not listed yet"
    mirror.replace("bank", [_body("ledger", "bank", "u2")])
    assert mirror.synced
    mirror.replace("shop", [])
    assert list(mirror.get("shop")) == [] and _names(mirror.get("bank")) == ["ledger"]
