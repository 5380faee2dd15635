"""Pod skeletons: what the pod index keeps per pod.

Interned parts are shared between pods (10,000 pods of 1,000 services must
not keep 10,000 copies of the injected env), a skeleton equals the one built
without sharing, and planning and assessing over skeletons never modify them.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

from cel_cases import monitored_service
from jsonpatch import apply_patch
from otelwire.assess import assess
from otelwire.assess.facts import ProbeResult, pod_skeleton, shared_strings
from otelwire.plan.planning import plan_for
from otelwire.plan.workloads import owner_of_pod
from otelwire.spec import parse_monitored_service
from otelwire.webhook.reviewing import Reviewer

NS = "shop"


def injected_pod(name: str, rs_hash: str = "7d9f8c6b5") -> dict[str, Any]:
    """A pod of Deployment orders, as the API server stores it after otelwire's webhook."""
    body = monitored_service({"selector": {"matchLabels": {"app": "orders"}}}, name="orders")
    body["metadata"].update(namespace=NS, uid="uid-orders", generation=1)
    ms = parse_monitored_service(body)
    pod = {
        "metadata": {
            "name": name,
            "namespace": NS,
            "labels": {"app": "orders", "pod-template-hash": rs_hash},
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"orders-{rs_hash}", "controller": True}
            ],
        },
        "spec": {"containers": [{"name": "app", "image": "x", "env": [{"name": "LOG_LEVEL", "value": "info"}]}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    review = {"request": {"uid": "u", "namespace": NS, "object": pod}}
    answer = Reviewer(lambda ns: [ms] if ns == NS else [])
    patch = json.loads(base64.b64decode(answer.review(review)["response"]["patch"]))
    return dict(apply_patch(pod, patch))


def test_pods_of_one_workload_share_their_parts() -> None:
    one, other = pod_skeleton(injected_pod("orders-7d9f8c6b5-a")), pod_skeleton(injected_pod("orders-7d9f8c6b5-b"))
    assert one["metadata"]["name"] != other["metadata"]["name"]
    assert one["spec"]["containers"] is other["spec"]["containers"]
    assert one["metadata"]["labels"] is other["metadata"]["labels"]
    assert one["metadata"]["annotations"] is other["metadata"]["annotations"]
    assert len(one["spec"]["containers"][0]["env"]) > 10  # the injected OTEL_* env is kept...
    assert all(e["name"].startswith("OTEL_") for e in one["spec"]["containers"][0]["env"])  # ...and only it
    assert one["spec"] is other["spec"] and one["status"] is other["status"]  # same node, same state
    assert one["metadata"] is not other["metadata"]
    third = pod_skeleton(injected_pod("orders-5c4b3a2-a", rs_hash="5c4b3a2"))
    assert third["metadata"]["labels"] is not one["metadata"]["labels"]  # another ReplicaSet: its own labels


def test_shared_spec_and_status_follow_the_node_and_the_state() -> None:
    base = injected_pod("orders-7d9f8c6b5-a")
    on_node = copy.deepcopy(base)
    on_node["spec"]["nodeName"] = "node-1"
    pending = copy.deepcopy(base)
    pending["status"] = {"phase": "Pending"}
    one, placed, waiting = pod_skeleton(base), pod_skeleton(on_node), pod_skeleton(pending)
    assert placed["spec"] is not one["spec"] and placed["spec"]["nodeName"] == "node-1"
    assert "nodeName" not in one["spec"]
    assert placed["spec"]["containers"] is one["spec"]["containers"]
    assert one["status"] == {"phase": "Running", "ready": True}
    assert waiting["status"] == {"phase": "Pending", "ready": False} and waiting["status"] is not one["status"]
    with_init = copy.deepcopy(base)
    with_init["spec"]["initContainers"] = [{"name": "init", "image": "x"}]
    assert pod_skeleton(with_init)["spec"] is not one["spec"]
    assert pod_skeleton(with_init)["spec"]["initContainers"] == [{"name": "init"}]
    # Parts are remembered by digest; look-alike values stay apart.
    node_none = copy.deepcopy(base)
    node_none["spec"]["nodeName"] = "None"
    assert pod_skeleton(node_none)["spec"]["nodeName"] == "None" and "nodeName" not in one["spec"]
    odd_phase = copy.deepcopy(base)
    odd_phase["status"]["phase"] = 1
    numeric_text = copy.deepcopy(base)
    numeric_text["status"]["phase"] = "1"
    assert pod_skeleton(odd_phase)["status"]["phase"] == 1
    assert pod_skeleton(numeric_text)["status"]["phase"] == "1"
    other_env = copy.deepcopy(base)
    other_env["spec"]["containers"][0]["env"][-1]["value"] += "-changed"
    changed = pod_skeleton(other_env)
    assert changed["spec"]["containers"] is not one["spec"]["containers"]
    assert changed["spec"]["containers"][0]["env"][-1]["value"].endswith("-changed")


def test_planning_and_assessing_leave_skeletons_as_they_were() -> None:
    body = monitored_service({"selector": {"matchLabels": {"app": "orders"}}}, name="orders")
    body["metadata"].update(namespace=NS, uid="uid-orders", generation=1)
    ms = parse_monitored_service(body)
    skeletons = [pod_skeleton(injected_pod(f"orders-7d9f8c6b5-{i}")) for i in range(3)]
    before = copy.deepcopy(skeletons)
    for skeleton in skeletons:
        plan = plan_for(ms, skeleton, owner_of_pod(skeleton), NS)
        assert skeleton["metadata"]["annotations"]["otelwire.io/injected"] == plan.digest  # still current
    result = assess(ms, skeletons, probe=ProbeResult("x", True, "ok"), clock=None, previous=(), now="now")
    assert result.status["workloads"]["instrumented"] == 3
    assert skeletons == before


def test_shared_strings_is_an_equal_copy_whose_strings_are_one_object_per_value() -> None:
    value = {"a": ["x" * 3, {"b": 1, "c": None, "d": 2.5, "e": True}], "f": "y" * 3}
    before = copy.deepcopy(value)
    got = shared_strings(json.loads(json.dumps(value)))
    again = shared_strings(json.loads(json.dumps(value)))
    assert got == value == before
    assert got["a"][0] is again["a"][0] and got["f"] is again["f"]
    assert shared_strings("z") == "z" and shared_strings(3) == 3 and shared_strings([]) == []
