"""The operator in webhook mode on the real control plane: injection, status, isolation, validation.

Pods are created by the real controller manager from a Deployment, admitted by
the real API server, which calls the operator's webhook over TLS; kwok makes
them Running.  Nothing here is mocked.
"""

from __future__ import annotations

import json

import yaml
from plane import Plane
from support.rendering import render

from reconcile.harness import (
    Collector,
    Operator,
    apply_services_first,
    condition,
    deployment,
    env_of,
    monitored_service,
    msvc,
    pods,
    wait_for,
)


def _rendered_env(ms: dict, workload: dict) -> list[dict]:
    rendered = render([ms, workload]).documents[0]
    return rendered["spec"]["template"]["spec"]["containers"][0]["env"]


def _normalised(env: list[dict]) -> list[dict]:
    out = []
    for entry in env:
        entry = dict(entry)
        ref = (entry.get("valueFrom") or {}).get("fieldRef")
        if ref:
            entry["valueFrom"] = {"fieldRef": {"fieldPath": ref["fieldPath"]}}
        out.append(entry)
    return out


def test_pods_get_the_planned_env_and_status_becomes_ready(
    crd: Plane, operator: Operator, collector: Collector
) -> None:
    ns = crd.create_namespace("webhook-ready")
    ms = monitored_service("orders", ns, collector.endpoint)
    workload = deployment("orders", ns, env=[{"name": "LOG_LEVEL", "value": "debug"}])
    apply_services_first(crd, [ms, workload])
    crd.kubectl("rollout", "status", "deployment/orders", "-n", ns, "--timeout=90s")
    running = pods(crd, ns, "app=orders")
    assert len(running) == 2
    expected = _rendered_env(ms, workload)
    for pod in running:
        env = pod["spec"]["containers"][0]["env"]
        assert _normalised(env) == expected, "the webhook must inject exactly what render plans"
        assert env_of(pod["spec"]["containers"][0])["OTEL_SERVICE_NAME"]["value"] == "orders"
        assert pod["metadata"]["annotations"]["otelwire.io/injected"]
    crd.kubectl("wait", "--for=condition=Ready", "msvc/orders", "-n", ns, "--timeout=60s")
    status = msvc(crd, ns, "orders")["status"]
    assert status["serviceName"] == "orders"
    assert status["workloads"] == {"matched": 2, "instrumented": 2, "outdated": 0, "missing": 0}
    generation = msvc(crd, ns, "orders")["metadata"]["generation"]
    assert status["observedGeneration"] == generation
    for cond in status["conditions"]:
        assert cond["observedGeneration"] == generation
    assert condition({"status": status}, "CollectorReachable")["status"] == "True"
    annotations = msvc(crd, ns, "orders")["metadata"].get("annotations") or {}
    assert not [key for key in annotations if key.startswith("kopf.zalando.org")], "kopf state belongs in status"
    printed = crd.kubectl("get", "msvc", "orders", "-n", ns).stdout
    assert "orders" in printed and "True" in printed


def test_spec_change_marks_pods_outdated_until_restarted(crd: Plane, operator: Operator, collector: Collector) -> None:
    ns = crd.create_namespace("webhook-outdated")
    apply_services_first(crd, [monitored_service("billing", ns, collector.endpoint), deployment("billing", ns)])
    crd.kubectl("wait", "--for=condition=Ready", "msvc/billing", "-n", ns, "--timeout=90s")
    ready_since = condition(msvc(crd, ns, "billing"), "Ready")["lastTransitionTime"]
    crd.kubectl(
        "patch",
        "msvc",
        "billing",
        "-n",
        ns,
        "--type=merge",
        "-p",
        '{"spec":{"resourceAttributes":{"team":"payments"}}}',
    )

    def outdated() -> bool:
        obj = msvc(crd, ns, "billing")
        return obj["status"]["workloads"]["outdated"] == 2 and condition(obj, "Injected")["reason"] == "PodsOutdated"

    wait_for("2 outdated pods", outdated, 60)
    obj = msvc(crd, ns, "billing")
    assert condition(obj, "Ready")["status"] == "False"
    assert condition(obj, "Ready")["lastTransitionTime"] >= ready_since
    crd.kubectl("rollout", "restart", "deployment/billing", "-n", ns)
    crd.kubectl("rollout", "status", "deployment/billing", "-n", ns, "--timeout=90s")
    crd.kubectl("wait", "--for=condition=Ready", "msvc/billing", "-n", ns, "--timeout=90s")
    for pod in pods(crd, ns, "app=billing"):
        assert "team=payments" in env_of(pod["spec"]["containers"][0])["OTEL_RESOURCE_ATTRIBUTES"]["value"]


def test_a_monitored_service_never_touches_another_namespace(
    crd: Plane, operator: Operator, collector: Collector
) -> None:
    mine = crd.create_namespace("isolation-a")
    other = crd.create_namespace("isolation-b")
    apply_services_first(
        crd, [monitored_service("cart", mine, collector.endpoint), deployment("cart", mine, replicas=1)]
    )
    crd.apply(deployment("cart", other, replicas=1))
    crd.kubectl("rollout", "status", "deployment/cart", "-n", other, "--timeout=90s")
    crd.kubectl("wait", "--for=condition=Ready", "msvc/cart", "-n", mine, "--timeout=90s")
    for pod in pods(crd, other, "app=cart"):
        assert not any(e["name"].startswith("OTEL_") for e in pod["spec"]["containers"][0].get("env") or [])
        assert "otelwire.io/injected" not in (pod["metadata"].get("annotations") or {})


def test_user_env_wins_and_the_conflict_is_reported(crd: Plane, operator: Operator, collector: Collector) -> None:
    ns = crd.create_namespace("webhook-conflict")
    user_env = [{"name": "OTEL_SERVICE_NAME", "value": "legacy-name"}]
    apply_services_first(
        crd, [monitored_service("search", ns, collector.endpoint), deployment("search", ns, replicas=1, env=user_env)]
    )
    crd.kubectl("rollout", "status", "deployment/search", "-n", ns, "--timeout=90s")
    (pod,) = pods(crd, ns, "app=search")
    assert env_of(pod["spec"]["containers"][0])["OTEL_SERVICE_NAME"]["value"] == "legacy-name"

    def reported() -> bool:
        cond = condition(msvc(crd, ns, "search"), "ServiceNameConsistent")
        return cond.get("status") == "False" and "legacy-name" in cond.get("message", "")

    wait_for("the kept OTEL_SERVICE_NAME to be reported", reported, 60)


def test_invalid_specs_are_rejected_at_apply_or_reported(crd: Plane, operator: Operator, collector: Collector) -> None:
    ns = crd.create_namespace("webhook-invalid")
    bad = monitored_service("broken", ns, "http://localhost:4318")
    bad["spec"]["tracing"]["otlp"]["allowLoopback"] = False
    rejected = crd.kubectl("apply", "-f", "-", input=yaml.safe_dump(bad), check=False)
    assert rejected.returncode != 0
    assert "loopback endpoint" in rejected.stderr
    # A signal path in the base URL passes the schema; only the operator can explain it.
    subtle = monitored_service("subtle", ns, f"{collector.endpoint}/v1/traces")
    crd.apply(subtle)

    def invalid() -> dict:
        obj = msvc(crd, ns, "subtle")
        return condition(obj, "ConfigValid") if condition(obj, "ConfigValid").get("status") == "False" else {}

    cond = wait_for("ConfigValid=False", invalid, 60)
    assert "spec.tracing.otlp.endpoint" in cond["message"] and "/v1/traces" in cond["message"]
    obj = msvc(crd, ns, "subtle")
    assert condition(obj, "Stalled")["status"] == "True"
    assert condition(obj, "Ready")["status"] == "False"


def test_a_webhook_mode_service_has_no_finalizer_and_once_deleted_injects_nothing(
    crd: Plane, operator: Operator, collector: Collector
) -> None:
    ns = crd.create_namespace("webhook-delete")
    ms = monitored_service("billing", ns, collector.endpoint)
    apply_services_first(crd, [ms, deployment("billing", ns, replicas=1)])
    crd.kubectl("wait", "--for=condition=Ready", "msvc/billing", "-n", ns, "--timeout=90s")
    assert not msvc(crd, ns, "billing")["metadata"].get("finalizers"), "nothing to release: no finalizer"
    crd.kubectl("delete", "msvc", "billing", "-n", ns, "--timeout=30s")  # gone at once, no operator step
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe", "namespace": ns, "labels": {"app": "billing"}},
        "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
    }

    def admitted_as_written() -> bool:  # the API server calls the webhook on a server-side dry run too
        out = crd.kubectl("create", "--dry-run=server", "-o", "json", "-f", "-", input=json.dumps(pod)).stdout
        return "OTEL_SERVICE_NAME" not in out and "otelwire.io/injected" not in out

    wait_for("the webhook to forget the deleted service", admitted_as_written, timeout=30)
    crd.kubectl("delete", "pods", "-l", "app=billing", "-n", ns, "--wait=false")

    def replaced_without_injection() -> bool:
        fresh = pods(crd, ns, "app=billing")
        return bool(fresh) and all(
            "OTEL_SERVICE_NAME" not in env_of(p["spec"]["containers"][0])
            and "otelwire.io/injected" not in (p["metadata"].get("annotations") or {})
            for p in fresh
        )

    wait_for("a replacement pod admitted without injection", replaced_without_injection, timeout=90)


def test_a_kept_user_value_is_in_status_once_as_an_event_and_in_describe(
    crd: Plane, operator: Operator, collector: Collector
) -> None:
    ns = crd.create_namespace("webhook-kept")
    ms = monitored_service("kept", ns, collector.endpoint)
    workload = deployment("kept", ns, env=[{"name": "OTEL_TRACES_SAMPLER", "value": "always_on"}])
    apply_services_first(crd, [ms, workload])
    crd.kubectl("rollout", "status", "deployment/kept", "-n", ns, "--timeout=90s")
    expected = {
        "workload": "Deployment kept",
        "container": "app",
        "source": "env",
        "name": "OTEL_TRACES_SAMPLER",
        "value": "always_on",
        "wanted": "parentbased_always_on",
    }

    def listed() -> bool:
        conflicts = (msvc(crd, ns, "kept").get("status") or {}).get("conflicts") or {}
        return conflicts.get("items") == [expected] and conflicts.get("count") == 1

    wait_for("the kept OTEL_TRACES_SAMPLER in status.conflicts", listed, 60)

    def events() -> list[dict]:
        found = crd.kubectl_json("get", "events", "-n", ns, "--field-selector", "involvedObject.name=kept")["items"]
        return [e for e in found if e.get("reason") == "UserValueKept"]

    wait_for("the UserValueKept Event", events, 60)
    # Re-assessments every 2 s keep the same status: the value is announced once, not per pass.
    crd.kubectl("scale", "deployment/kept", "-n", ns, "--replicas=3")
    crd.kubectl("rollout", "status", "deployment/kept", "-n", ns, "--timeout=90s")
    wait_for("three pods counted", lambda: msvc(crd, ns, "kept")["status"]["workloads"]["matched"] == 3, 60)
    (event,) = events()
    assert event["type"] == "Warning" and event.get("count", 1) == 1
    assert "OTEL_TRACES_SAMPLER='always_on' kept instead of 'parentbased_always_on'" in event["message"]
    described = crd.kubectl("describe", "msvc", "kept", "-n", ns).stdout
    assert "OTEL_TRACES_SAMPLER" in described and "always_on" in described and "UserValueKept" in described
