"""Patch mode on the real control plane: server-side apply, field ownership, clean release.

The API server's own field-manager bookkeeping is the contract here: otelwire
owns exactly the env entries, ports, labels and annotations it applied (manager
``otelwire``), the user's fields stay theirs, and deleting the
MonitoredService removes exactly what otelwire owned.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from otelwire.plan import serverside
from plane import Plane

from reconcile.harness import Collector, Operator, deployment, env_of, monitored_service, msvc, wait_for

OTEL_METRICS = {"name": "otel-metrics", "containerPort": 9464, "protocol": "TCP"}


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


def _ports(plane: Plane, ns: str, name: str) -> list[dict[str, Any]]:
    ports: list[dict[str, Any]] = _template(_get(plane, ns, name))["spec"]["containers"][0].get("ports") or []
    return ports


def _owns_the_port(obj: dict[str, Any], manager: str) -> bool:
    """Whether ``manager``'s managedFields hold the app container's 9464/TCP ports entry."""
    port = 'k:{"containerPort":9464,"protocol":"TCP"}'
    for entry in obj["metadata"].get("managedFields") or []:
        if entry["manager"] != manager:
            continue
        containers = entry["fieldsV1"].get("f:spec", {}).get("f:template", {}).get("f:spec", {}).get("f:containers", {})
        if port in (containers.get('k:{"name":"app"}', {}).get("f:ports") or {}):
            return True
    return False


def test_patch_mode_declares_the_exporters_port_unless_the_template_does(
    crd: Plane, operator: Operator, collector: Collector
) -> None:
    """Ports merge by containerPort and protocol: otelwire owns its entry, never a user's declaration of the port."""
    ns = crd.create_namespace("patch-mode-ports")
    plain = deployment("plain", ns, replicas=1)
    declared = deployment("declared", ns, replicas=1)
    users = {"name": "metrics", "containerPort": 9464, "protocol": "TCP"}
    declared["spec"]["template"]["spec"]["containers"][0]["ports"] = [users]
    crd.apply([plain, declared])
    for name in ("plain", "declared"):
        crd.apply(
            monitored_service(
                name, ns, collector.endpoint, injection={"mode": "patch"}, metrics={"exporter": "prometheus"}
            )
        )

    def injected(name: str) -> bool:
        return bool(_template(_get(crd, ns, name))["metadata"].get("annotations", {}).get("otelwire.io/injected"))

    wait_for("both templates to carry the plan", lambda: injected("plain") and injected("declared"), 60)
    assert _ports(crd, ns, "plain") == [OTEL_METRICS]
    assert _owns_the_port(_get(crd, ns, "plain"), "otelwire")
    assert _ports(crd, ns, "declared") == [users], "the user's declaration serves, and keeps its name"
    assert not _owns_the_port(_get(crd, ns, "declared"), "otelwire")

    # A new plan is applied over a template that now declares otelwire's own port: it stays.
    for name in ("plain", "declared"):
        crd.kubectl(
            "patch", "msvc", name, "-n", ns, "--type=merge", "-p", '{"spec":{"resourceAttributes":{"team":"x"}}}'
        )

    def reapplied(name: str) -> bool:
        env = env_of(_template(_get(crd, ns, name))["spec"]["containers"][0])
        return "team=x" in env.get("OTEL_RESOURCE_ATTRIBUTES", {}).get("value", "")

    wait_for("the templates to follow the spec change", lambda: reapplied("plain") and reapplied("declared"), 60)
    assert _ports(crd, ns, "plain") == [OTEL_METRICS]
    assert _owns_the_port(_get(crd, ns, "plain"), "otelwire")
    assert _ports(crd, ns, "declared") == [users]

    # Another manager taking the port's name is a conflict the API server names by this path;
    # patch mode skips that key, as it skips an env entry owned by someone else.
    rival = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "plain", "namespace": ns},
        "spec": {
            "selector": {"matchLabels": {"app": "plain"}},
            "template": {
                "metadata": {"labels": {"app": "plain"}},
                "spec": {"containers": [{"name": "app", "ports": [{**OTEL_METRICS, "name": "rival"}]}]},
            },
        },
    }
    refused = crd.kubectl(
        "apply", "--server-side", "--field-manager=rival", "-f", "-", input=yaml.safe_dump(rival), check=False
    )
    assert refused.returncode != 0 and 'conflict with "otelwire"' in refused.stderr, refused.stderr
    (field,) = re.findall(r"(\.spec\S*\.ports\[\S*)", refused.stderr)
    assert serverside.conflict_key(field) == "port:app:9464/TCP", field

    for name in ("plain", "declared"):
        crd.kubectl("delete", "msvc", name, "-n", ns, "--timeout=60s")
    wait_for(
        "otelwire's fields to be released",
        lambda: not any("otelwire" in _managers(_get(crd, ns, n)) for n in ("plain", "declared")),
        60,
    )
    assert _ports(crd, ns, "plain") == [], "otelwire's port goes with it"
    assert _ports(crd, ns, "declared") == [users], "the user's stays"
