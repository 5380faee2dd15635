"""Patch mode on the real control plane: server-side apply, field ownership, clean release.

The API server's own field-manager bookkeeping is the contract here: otelwire
owns exactly the env entries, labels and annotations it applied (manager
``otelwire``), the user's fields stay theirs, and deleting the
MonitoredService removes exactly what otelwire owned.
"""

from __future__ import annotations

from typing import Any

from plane import Plane

from reconcile.harness import Collector, Operator, deployment, env_of, monitored_service, msvc, wait_for


def _get(plane: Plane, ns: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = plane.kubectl_json("get", "deployment", name, "-n", ns, "--show-managed-fields")
    return found


def _template(obj: dict[str, Any]) -> dict[str, Any]:
    template: dict[str, Any] = obj["spec"]["template"]
    return template


def _managers(obj: dict[str, Any]) -> set[str]:
    return {m["manager"] for m in obj["metadata"].get("managedFields") or []}


def test_patch_mode_owns_only_its_fields_and_releases_them(
    crd: Plane, operator: Operator, collector: Collector
) -> None:
    ns = crd.create_namespace("patch-mode")
    user_env = [{"name": "LOG_LEVEL", "value": "info"}, {"name": "OTEL_SERVICE_NAME", "value": "user-picked"}]
    crd.apply(deployment("inventory", ns, replicas=1, env=user_env))
    crd.kubectl("rollout", "status", "deployment/inventory", "-n", ns, "--timeout=90s")
    before = _template(_get(crd, ns, "inventory"))

    ms = monitored_service("inventory", ns, collector.endpoint, injection={"mode": "patch"})
    crd.apply(ms)

    def patched() -> dict[str, Any]:
        template = _template(_get(crd, ns, "inventory"))
        return template if "OTEL_EXPORTER_OTLP_ENDPOINT" in env_of(template["spec"]["containers"][0]) else {}

    template = wait_for("the template to carry otelwire's env", patched, 60)
    env = env_of(template["spec"]["containers"][0])
    assert env["LOG_LEVEL"]["value"] == "info"
    assert env["OTEL_SERVICE_NAME"]["value"] == "user-picked", "a user-owned variable is never taken over"
    assert template["metadata"]["annotations"]["otelwire.io/injected"]
    assert template["metadata"]["labels"]["otelwire.io/service"] == "inventory"
    obj = _get(crd, ns, "inventory")
    assert "otelwire" in _managers(obj)
    owned = next(m for m in obj["metadata"]["managedFields"] if m["manager"] == "otelwire")
    assert owned["operation"] == "Apply"
    assert 'k:{"name":"LOG_LEVEL"}' not in str(owned["fieldsV1"])

    crd.kubectl("rollout", "status", "deployment/inventory", "-n", ns, "--timeout=90s")
    wait_for(
        "status to count the rolled-out pod as instrumented",
        lambda: msvc(crd, ns, "inventory").get("status", {}).get("workloads", {}).get("instrumented") == 1,
        90,
    )

    crd.kubectl(
        "patch", "msvc", "inventory", "-n", ns, "--type=merge", "-p", '{"spec":{"resourceAttributes":{"team":"stock"}}}'
    )
    wait_for(
        "the template to follow the spec change",
        lambda: (
            "team=stock"
            in env_of(_template(_get(crd, ns, "inventory"))["spec"]["containers"][0])
            .get("OTEL_RESOURCE_ATTRIBUTES", {})
            .get("value", "")
        ),
        60,
    )

    crd.kubectl("delete", "msvc", "inventory", "-n", ns, "--timeout=60s")

    def released() -> bool:
        obj = _get(crd, ns, "inventory")
        return "otelwire" not in _managers(obj)

    wait_for("otelwire's fields to be released", released, 60)
    after = _template(_get(crd, ns, "inventory"))
    assert after["spec"]["containers"][0]["env"] == before["spec"]["containers"][0]["env"]
    assert after["metadata"].get("labels") == before["metadata"].get("labels")
    assert not any(k.startswith("otelwire.io/") for k in after["metadata"].get("annotations") or {})
