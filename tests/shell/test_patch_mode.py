"""Fast tests of the shell's API calls against kmock (an HTTP-level Kubernetes mock).

What a mock is enough for: the request sequence and bodies otelwire sends --
retries on transient errors, how patch mode reacts to a server-side-apply
conflict, what release applies.  How the real API server merges those bodies is
tested on the real control plane (tests/reconcile).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import kmock
import pytest
from kubernetes import client
from otelwire.actuate import patching as applying
from otelwire.kube.client import Kube, KubeError
from otelwire.spec import parse_monitored_service

pytestmark = pytest.mark.kmock(cls=kmock.RawHandler)
DEPLOYMENTS = "/apis/apps/v1/namespaces/shop/deployments"


def kube_for(server: Any, attempts: int = 5) -> Kube:
    configuration = client.Configuration()
    configuration.host = str(server.url).rstrip("/")
    return Kube(client.ApiClient(configuration), attempts=attempts, backoff=0.01)


def deployment(
    name: str = "orders", annotations: dict[str, str] | None = None, managed: bool = False
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "shop"}
    if managed:
        meta["managedFields"] = [{"manager": "otelwire", "operation": "Apply"}]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": annotations or {}},
                "spec": {"containers": [{"name": "app", "env": [{"name": "OTEL_SERVICE_NAME", "value": "mine"}]}]},
            }
        },
    }


def service(mode: str = "patch") -> Any:
    return parse_monitored_service(
        {
            "metadata": {"name": "orders", "namespace": "shop"},
            "spec": {"selector": {"matchLabels": {"app": "orders"}}, "injection": {"mode": mode}},
        }
    )


def serve_workloads(server: Any, *items: dict[str, Any]) -> None:
    server[f"get {DEPLOYMENTS}"] << {"items": list(items)}
    server["get /apis/apps/v1/namespaces/shop/statefulsets"] << {"items": []}
    server["get /apis/apps/v1/namespaces/shop/daemonsets"] << {"items": []}


def body_of(request: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(request.text if hasattr(request, "text") else request.body)
    return loaded


async def test_transient_errors_are_retried_until_the_apply_lands(kmock: kmock.RawHandler) -> None:
    path = f"{DEPLOYMENTS}/orders"
    kmock[f"patch {path}"][:2] << 503 << {"message": "etcd leader changed"}
    kmock[f"patch {path}"] << {"kind": "Deployment"}
    result = await asyncio.to_thread(kube_for(kmock).apply, path, {"kind": "Deployment"}, manager="otelwire")
    assert result == {"kind": "Deployment"}
    assert len(kmock["patch"]) == 3


async def test_persistent_server_errors_surface_after_the_last_attempt(kmock: kmock.RawHandler) -> None:
    kmock[f"get {DEPLOYMENTS}"] << 500 << {"message": "internal"}
    with pytest.raises(KubeError, match="HTTP 500"):
        await asyncio.to_thread(kube_for(kmock, attempts=3).get, DEPLOYMENTS)
    assert len(kmock["get"]) == 3


async def test_an_ssa_conflict_keeps_the_users_field_and_applies_the_rest(kmock: kmock.RawHandler) -> None:
    serve_workloads(kmock, deployment())
    conflict = {
        "kind": "Status",
        "message": "Apply failed with 1 conflict",
        "details": {
            "causes": [
                {
                    "reason": "FieldManagerConflict",
                    "field": '.spec.template.spec.containers[name="app"].env[name="OTEL_SERVICE_NAME"].value',
                }
            ]
        },
    }
    kmock[f"patch {DEPLOYMENTS}/orders"][:1] << 409 << conflict
    kmock[f"patch {DEPLOYMENTS}/orders"] << {"kind": "Deployment"}
    outcome = await asyncio.to_thread(applying.apply_patch_mode, kube_for(kmock), service(), [service()])
    assert outcome.applied == ["Deployment orders"]
    assert outcome.conflicts and "app/OTEL_SERVICE_NAME" in outcome.conflicts[0]
    first, second = kmock["patch"][0], kmock["patch"][1]
    first_env = [e["name"] for e in body_of(first)["spec"]["template"]["spec"]["containers"][0]["env"]]
    second_env = [e["name"] for e in body_of(second)["spec"]["template"]["spec"]["containers"][0]["env"]]
    assert "OTEL_SERVICE_NAME" in first_env
    assert "OTEL_SERVICE_NAME" not in second_env
    assert set(first_env) - set(second_env) == {"OTEL_SERVICE_NAME"}
    assert "force=true" not in str(second.url)


async def test_release_applies_an_empty_config_only_where_otelwire_applied(kmock: kmock.RawHandler) -> None:
    ours = deployment("orders", {"otelwire.io/monitoredservice": "orders"}, managed=True)
    someone_elses = deployment("billing", {"otelwire.io/monitoredservice": "billing"}, managed=True)
    never_patched = deployment("cart")
    serve_workloads(kmock, ours, someone_elses, never_patched)
    kmock[f"patch {DEPLOYMENTS}/orders"] << {"kind": "Deployment"}
    released = await asyncio.to_thread(applying.release, kube_for(kmock), service())
    assert released == ["Deployment orders"]
    (request,) = list(kmock["patch"])
    assert body_of(request) == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "orders", "namespace": "shop"},
    }
