"""The admission benchmark's machinery, checked for correctness only -- never for timing.

``bench/admission.py --quick`` with tiny counts starts the real webhook server,
the floor and the load generator as separate processes, exactly as a full run
does; this test reads what it wrote and checks that every answer was allowed,
that patches are plain ``add`` operations leaving the user's env alone, and
that the JSON is where it should be.  A second test holds the webhook's
cached answers against the planner computed from scratch, request by request.
"""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from jsonpatch import apply_patch
from otelwire.plan.changing import json_patch
from otelwire.plan.planning import plan_for
from otelwire.plan.selecting import select_services
from otelwire.plan.workloads import owner_of_pod
from otelwire.spec.model import parse_monitored_service
from otelwire.webhook.reviewing import Reviewer

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import admission_data  # noqa: E402

# Kinds whose pods carry no OTEL_* variable of their own: their patch must be add-only and leave
# the user's env alone.  (A user's OTEL_SERVICE_NAME is replaced where the service asks for
# overrideExisting -- by design.)
ADD_ONLY_KINDS = admission_data.MATCHING - {"match-user-otel"}


def test_quick_run_answers_correctly_and_writes_json(tmp_path: Path) -> None:
    written = tmp_path / "results" / "admission.json"
    reference = BENCH / "results" / "admission.json"
    before = reference.read_bytes() if reference.exists() else None
    run = subprocess.run(
        [sys.executable, str(BENCH / "admission.py"), "--quick", "--requests", "24", "--output", str(written)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"written: {written}" in run.stdout
    result = json.loads(written.read_text())
    assert (reference.read_bytes() if reference.exists() else None) == before, "a smoke run replaced the reference"

    assert set(result["levels"]) == {"1", "8", "64"}
    for level in result["levels"].values():
        assert set(level) == {"otelwire", "floor"}
        for row in level.values():
            assert row["n"] == 24 * result["config"]["rounds"]
            assert row["failures"] == 0
            for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "rps"):
                assert row[key] > 0

    verification = result["verification"]["otelwire"]
    assert verification["errors"] == []
    for kind, seen in verification["by_kind"].items():
        assert seen["sent"] > 0, kind
        assert seen["allowed"] == seen["sent"], kind
        if kind in admission_data.MATCHING:
            assert seen["patched"] == seen["sent"], kind
        else:
            assert seen["patched"] == 0, kind
        if kind in ADD_ONLY_KINDS:
            assert seen["only_add"] == seen["patched"], kind
            assert seen["untouched"] == seen["patched"], kind

    shape = result["patch_shape"]["one-container pod, user env"]
    assert shape["only_add"] is True
    assert shape["user_content_untouched"] is True
    assert shape["operations"] > 0 and shape["bytes"] > 0
    assert {t["target"] for t in result["targets"]} >= {"p50 <= 1.2x floor at c=1", "p99 at c=8 <= 3 ms"}
    assert "otelwire" in run.stdout and "floor" in run.stdout


def _reference(index: dict[str, list[Any]], review: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """What the webhook must answer, computed from scratch with the planner (no caches)."""
    request = review["request"]
    pod = request["object"]
    namespace = request["namespace"]
    services = [ms for ms in index.get(namespace, ()) if ms.spec.injection.mode == "webhook"]
    chosen = select_services(services, namespace, pod["metadata"].get("labels") or {})
    if not chosen:
        return [], []
    try:
        plan = plan_for(chosen[0], pod, owner_of_pod(pod), namespace)
        ops, delta = json_patch(pod, plan)
    except Exception:  # the webhook allows such a pod unchanged
        return [], []
    return ops, [f"otelwire: {c}" for c in delta.conflicts if not c.overridden][:10]


def _odd_pods() -> list[tuple[str, dict[str, Any]]]:
    """Pods a real API server would not send, or rarely does, each a small edit of a plain one."""
    plain = admission_data.one_container_pod()
    edits: dict[str, Any] = {
        "plain": lambda p: None,
        "label value not a string": lambda p: p["metadata"]["labels"].update(extra=1),
        "annotations null": lambda p: p["metadata"].update(annotations=None),
        "env entry without a name": lambda p: p["spec"]["containers"][0]["env"].append({"value": "x"}),
        "env not a list": lambda p: p["spec"]["containers"][0].update(env={"A": "b"}),
        "env null": lambda p: p["spec"]["containers"][0].update(env=None),
        "container without a name": lambda p: p["spec"]["containers"].append({"image": "x"}),
        "duplicate container names": lambda p: p["spec"]["containers"].append(
            copy.deepcopy(p["spec"]["containers"][0])
        ),
        "init containers": lambda p: p["spec"].update(initContainers=[{"name": "init", "image": "x"}]),
        "init containers not a list": lambda p: p["spec"].update(initContainers="junk"),
        "no containers": lambda p: p["spec"].update(containers=[]),
        "user OTEL_RESOURCE_ATTRIBUTES": lambda p: p["spec"]["containers"][0]["env"].append(
            {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": "team=theirs,k8s.pod.name=$(OTEL_K8S_POD_NAME)"}
        ),
        "user OTEL_SERVICE_NAME from a secret": lambda p: p["spec"]["containers"][0]["env"].insert(
            0, {"name": "OTEL_SERVICE_NAME", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
        ),
        "user OTEL_SERVICE_NAME=first": lambda p: p["spec"]["containers"][0]["env"].append(
            {"name": "OTEL_SERVICE_NAME", "value": "first"}
        ),
        "user OTEL_SERVICE_NAME=second": lambda p: p["spec"]["containers"][0]["env"].append(
            {"name": "OTEL_SERVICE_NAME", "value": "second"}
        ),
        "our label already set": lambda p: p["metadata"]["labels"].update({"otelwire.io/service": "other"}),
        "our digest already set": lambda p: p["metadata"]["annotations"].update({"otelwire.io/injected": "0"}),
        "istio proxy config": lambda p: p["metadata"]["annotations"].update(
            {"proxy.istio.io/config": "holdApplicationUntilProxyStarts: true"}
        ),
        "no ports": lambda p: p["spec"]["containers"][0].pop("ports"),
        "ports null": lambda p: p["spec"]["containers"][0].update(ports=None),
        "ports not a list": lambda p: p["spec"]["containers"][0].update(ports={"http": 8080}),
        "port not a mapping": lambda p: p["spec"]["containers"][0]["ports"].append(9464),
        "metrics port declared": lambda p: p["spec"]["containers"][0]["ports"].append(
            {"name": "metrics", "containerPort": 9464, "protocol": "TCP"}
        ),
        "metrics port declared as a string": lambda p: p["spec"]["containers"][0]["ports"].append(
            {"name": "metrics", "containerPort": "9464", "protocol": "TCP"}
        ),
        "port name otel-metrics taken": lambda p: p["spec"]["containers"][0]["ports"].append(
            {"name": "otel-metrics", "containerPort": 9090, "protocol": "TCP"}
        ),
        "port name taken by an init container": lambda p: p["spec"].update(
            initContainers=[{"name": "init", "image": "x", "ports": [{"name": "otel-metrics", "containerPort": 1}]}]
        ),
        "unhashable port number": lambda p: p["spec"]["containers"][0]["ports"].append({"containerPort": [9464]}),
    }
    out = []
    for name, edit in edits.items():
        pod = copy.deepcopy(plain)
        edit(pod)
        out.append((name, pod))
    return out


def _decoded(answer: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    response = answer["response"]
    assert response["allowed"] is True
    patch = json.loads(base64.b64decode(response["patch"])) if "patch" in response else []
    return patch, list(response.get("warnings") or [])


def test_cached_answers_equal_the_planner_from_scratch() -> None:
    index = admission_data.build_index()
    reviewer = Reviewer(lambda namespace: index.get(namespace, ()))
    pool = admission_data.requests(300, seed=11)
    for _ in range(2):  # the second pass is answered from the caches
        for request in pool:
            review = json.loads(request.body)
            pristine = copy.deepcopy(review)
            answer = reviewer.review(review)
            assert review == pristine  # the request is never modified
            assert answer["response"]["uid"] == request.uid
            assert _decoded(answer) == _reference(index, review), request.kind
            assert reviewer.review_json(review) == json.dumps(answer, separators=(",", ":")).encode()
            patch = _decoded(answer)[0]
            if patch:
                apply_patch(review["request"]["object"], patch)  # applies cleanly
    assert reviewer.cache.hits > reviewer.cache.misses

    # Odd pods never get an answer cached for a plain pod with the same planned facts.
    for namespace_index, app in ((0, "svc-0"), (3, "svc-3"), (4, "svc-4")):
        namespace = admission_data.namespace_name(namespace_index)
        for _ in range(2):
            for name, pod in _odd_pods():
                pod = copy.deepcopy(pod)
                pod["metadata"].update(namespace=namespace)
                pod["metadata"]["labels"]["app"] = app
                review = admission_data.review(pod, name)
                assert _decoded(reviewer.review(review)) == _reference(index, review), (app, name)

    # Selectors of every form in one namespace: first by name wins, as select_services says.
    namespace = "selectors"
    selectors: dict[str, dict[str, Any]] = {
        "a-expressions": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]},
        "b-two-labels": {"matchLabels": {"app": "shop", "tier": "api"}},
        "c-one-label": {"matchLabels": {"app": "shop"}},
        "d-label-and-expression": {
            "matchLabels": {"team": "x"},
            "matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["shop"]}],
        },
        "e-exists": {"matchExpressions": [{"key": "canary", "operator": "Exists"}]},
        "f-patch-mode": {"matchLabels": {"app": "legacy"}},
    }
    services = []
    for name, selector in selectors.items():
        body = admission_data.service_body(namespace, 0)
        body["metadata"].update(name=name, uid=f"uid-{name}")
        body["spec"].update(serviceName=name, selector=selector)
        if name == "f-patch-mode":
            body["spec"]["injection"] = {"mode": "patch"}
        services.append(parse_monitored_service(body, namespace))
    index[namespace] = services[::-1]  # the index's order is not the answer's
    label_sets = [
        {"app": "shop"},
        {"app": "shop", "tier": "api"},
        {"app": "shop", "tier": "web"},
        {"team": "x"},
        {"team": "x", "app": "shop"},
        {"canary": "yes", "app": "legacy"},
        {"app": "legacy"},
        {"app": "other"},
        {},
    ]
    for _ in range(2):
        for labels in label_sets:
            pod = admission_data.one_container_pod()
            pod["metadata"].update(namespace=namespace, labels={**labels, "pod-template-hash": "abc"})
            review = admission_data.review(pod, "selectors")
            expected = _reference(index, review)
            assert _decoded(reviewer.review(review)) == expected, labels
            chosen = select_services(
                [ms for ms in index[namespace] if ms.spec.injection.mode == "webhook"], namespace, labels
            )
            owner = {"op": "add", "path": "/metadata/annotations/otelwire.io~1monitoredservice"}
            if chosen:
                assert {**owner, "value": chosen[0].name} in expected[0], labels
            else:
                assert expected == ([], []), labels

    # A changed MonitoredService (new object, new generation) is picked up at once.
    namespace = admission_data.namespace_name(0)
    pod = admission_data.one_container_pod()
    review = admission_data.review(pod, "changed")
    before = _decoded(reviewer.review(review))[0]
    body = admission_data.service_body(namespace, 0)
    body["metadata"]["generation"] += 1
    body["spec"]["tracing"]["sampler"] = {"type": "always_on"}
    index[namespace] = [parse_monitored_service(body, namespace), *index[namespace][1:]]
    after = _decoded(reviewer.review(review))
    assert after[0] != before
    assert after == _reference(index, review)
    # ...and a removed one too.
    index[namespace] = index[namespace][1:]
    assert _decoded(reviewer.review(review)) == _reference(index, review) == ([], [])
