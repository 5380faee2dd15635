"""Patch mode's server-side-apply bodies: which fields otelwire asks to own, and which it leaves.

How the real API server merges these bodies (ports as a list-map keyed by
``containerPort`` and ``protocol``, conflicts between managers) is tested on the
real control plane in tests/reconcile; here, what the body holds for each
template shape, and how an SSA conflict's field path becomes a ``skip`` key.
"""

from __future__ import annotations

from typing import Any

import pytest
from cel_cases import monitored_service
from otelwire.plan import serverside
from otelwire.plan.parts import Plan, Workload
from otelwire.plan.planning import plan_for
from otelwire.spec import parse_monitored_service

NS = "shop"
OURS = {"name": "otel-metrics", "containerPort": 9464, "protocol": "TCP"}


def make_plan(tmpl: dict[str, Any], spec: dict[str, Any] | None = None) -> Plan:
    body = monitored_service({"injection": {"mode": "patch"}, **(spec or {})}, name="orders")
    body["metadata"]["namespace"] = NS
    return plan_for(parse_monitored_service(body), tmpl, Workload("Deployment", "orders"), NS)


def template(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": {"app.kubernetes.io/name": "orders"}}, "spec": {"containers": list(containers)}}


def ports_in(body: dict[str, Any]) -> dict[str, list[dict[str, Any]] | None]:
    return {c["name"]: c.get("ports") for c in body["spec"]["template"]["spec"]["containers"]}


APPLY_PORTS: list[Any] = [
    # (template, ports otelwire asks to own per container)
    pytest.param(template({"name": "app"}), {"app": [OURS]}, id="none-declared"),
    pytest.param(
        template({"name": "app", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}),
        {"app": [OURS]},
        id="others-declared",
    ),
    # Declared exactly so (by otelwire's earlier apply, or by the user alike): owned (again), or
    # leaving it out of the configuration would remove it.
    pytest.param(template({"name": "app", "ports": [OURS]}), {"app": [OURS]}, id="ours-already"),
    pytest.param(
        template({"name": "app", "ports": [{"name": "otel-metrics", "containerPort": 9464}]}),
        {"app": [OURS]},
        id="ours-protocol-defaulted",
    ),
    pytest.param(
        template({"name": "app", "ports": [{"name": "metrics", "containerPort": 9464, "protocol": "TCP"}]}),
        {"app": None},
        id="users-name-serves",
    ),
    pytest.param(
        template({"name": "app", "ports": [{"containerPort": 9464, "protocol": "TCP"}]}),
        {"app": None},
        id="users-unnamed-serves",  # never named unseen
    ),
    pytest.param(
        template({"name": "app"}, {"name": "worker", "ports": [OURS]}),
        {"app": None, "worker": None},
        id="another-container-serves",
    ),
    pytest.param(
        template({"name": "app", "ports": [{"name": "otel-metrics", "containerPort": 8080, "protocol": "TCP"}]}),
        {"app": None},
        id="name-taken",
    ),
]


@pytest.mark.parametrize(("tmpl", "expected"), APPLY_PORTS)
def test_apply_body_owns_the_port_only_where_no_other_declaration_serves(
    tmpl: dict[str, Any], expected: dict[str, list[dict[str, Any]] | None]
) -> None:
    body = serverside.apply_body("Deployment", "orders", NS, make_plan(tmpl), template=tmpl)
    assert ports_in(body) == expected


def test_apply_body_declares_no_port_for_other_metrics_paths_nor_unseen() -> None:
    tmpl = template({"name": "app"})
    otlp = make_plan(tmpl, {"metrics": {"exporter": "otlp"}})
    assert ports_in(serverside.apply_body("Deployment", "orders", NS, otlp, template=tmpl)) == {"app": None}
    assert ports_in(serverside.apply_body("Deployment", "orders", NS, make_plan(tmpl))) == {"app": None}


def test_a_conflict_on_the_port_skips_it_like_an_env_entry() -> None:
    tmpl = template({"name": "app"})
    plan = make_plan(tmpl)
    field = '.spec.template.spec.containers[name="app"].ports[containerPort=9464,protocol="TCP"].name'
    key = serverside.conflict_key(field)
    assert key == "port:app:9464/TCP"
    env_key = serverside.conflict_key('.spec.template.spec.containers[name="app"].env[name="OTEL_SERVICE_NAME"].value')
    assert env_key == "app/OTEL_SERVICE_NAME"
    body = serverside.apply_body("Deployment", "orders", NS, plan, template=tmpl, skip={key, env_key})
    (app,) = body["spec"]["template"]["spec"]["containers"]
    assert "ports" not in app
    assert "OTEL_SERVICE_NAME" not in [e["name"] for e in app["env"]]
    assert len(app["env"]) == len(plan.containers[0].env) - 1  # the rest still applied


CONFLICT_KEYS: list[Any] = [
    pytest.param(
        '.spec.template.spec.initContainers[name="agent"].ports[containerPort=9091,protocol="UDP"]',
        "port:agent:9091/UDP",
        id="init-container-port",
    ),
    pytest.param(".spec.template.metadata.labels.otelwire.io/service", "label/otelwire.io/service", id="label"),
    pytest.param(".spec.replicas", None, id="not-ours"),
]


@pytest.mark.parametrize(("field", "key"), CONFLICT_KEYS)
def test_conflict_keys(field: str, key: str | None) -> None:
    assert serverside.conflict_key(field) == key
