"""The admission reviewer (``otelwire.webhook.reviewing``), held against the planner.

The reviewer answers from caches: a plan per (MonitoredService, generation, namespace,
pod shape) and, per plan, an answer per the few pod facts the patch reads.  Nothing it
answers may differ from the planner run from scratch.  Each case below is a namespace
of :data:`INDEX` and a pod; for each,

* the response's patch, base64-decoded, equals ``changing.json_patch`` of the plan
  ``plan_for`` makes with the service ``select_services`` picks (the first by name of
  the namespace's webhook-mode services), its warnings are that patch's unresolved
  conflicts, and the patch applies to the pod;
* the response carries the request's uid, ``allowed: true``, and ``patchType:
  JSONPatch`` exactly when there is a patch;
* a second review of an identical pod is served from the caches and gives the same
  bytes; a third with another uid differs in the uid only.

All cases also go through *one* reviewer, twice and in both orders, so that a cache
key missing a fact the patch reads hands a pod the answer of another and fails here.
Malformed requests, and bodies that are not reviews or not JSON, get what the modules
document: an allowed review without a patch (a 400 for a body that is not JSON) --
never an exception.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp.test_utils as aiohttp_testing
import pytest
from cel_cases import monitored_service
from jsonpatch import apply_patch
from otelwire import metrics
from otelwire.plan.changing import json_patch
from otelwire.plan.planning import plan_for
from otelwire.plan.selecting import select_services
from otelwire.plan.workloads import owner_of_pod
from otelwire.spec import MonitoredService, parse_monitored_service
from otelwire.webhook.reviewing import DEFAULT_API_VERSION, RESULTS, Reviewer
from otelwire.webhook.serving import MUTATE_PATH, build_app
from support.builders import container, lit

NS = "shop"
APP = {"app.kubernetes.io/name": "order-service"}
HASH = "7d9f8c6b5"
SIDECAR_STATUS = {"sidecar.istio.io/status": '{"containers":["istio-proxy"]}'}
THEIR_VARS = ("OTEL_SERVICE_NAME", "OTEL_TRACES_EXPORTER", "OTEL_PROPAGATORS", "OTEL_TRACES_SAMPLER")
MERGED_SCRAPE = {  # what Istio's injector writes when it merges the app's metrics into its own
    "prometheus.io/scrape": "true",
    "prometheus.io/port": "15020",
    "prometheus.io/path": "/stats/prometheus",
}


# ---------------------------------------------------------------- builders


def service(name: str = "order-service", namespace: str = NS, generation: int = 1, **spec: Any) -> MonitoredService:
    body = monitored_service(spec, name=name)
    body["metadata"].update(namespace=namespace, uid=f"uid-{namespace}-{name}", generation=generation)
    return parse_monitored_service(body)


def pod(
    *containers: dict[str, Any],
    labels: dict[str, Any] | None = None,
    annotations: dict[str, Any] | None = None,
    init: Iterable[dict[str, Any]] = (),
    owner: str | None = "ReplicaSet",
) -> dict[str, Any]:
    """A pod as the API server sends it to the webhook: by default one a Deployment's ReplicaSet made."""
    meta: dict[str, Any] = {"generateName": f"order-service-{HASH}-", "namespace": NS}
    meta["labels"] = {**APP, "pod-template-hash": HASH} if labels is None else labels
    if annotations is not None:
        meta["annotations"] = annotations
    if owner == "ReplicaSet":
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"order-service-{HASH}", "controller": True}
        ]
    elif owner is not None:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": owner, "name": "order-service", "controller": True}
        ]
    spec: dict[str, Any] = {"containers": list(containers) or [container()]}
    if init := list(init):
        spec["initContainers"] = init
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def proxy(merge: dict[str, str] | None = None, env: bool = True, **extra: Any) -> dict[str, Any]:
    """Istio's sidecar; ``merge``: the app's scrape settings it took over (ISTIO_PROMETHEUS_ANNOTATIONS)."""
    entries = [lit("ISTIO_META_WORKLOAD_NAME", "order-service")]
    if merge is not None:
        entries.append(lit("ISTIO_PROMETHEUS_ANNOTATIONS", json.dumps(merge, separators=(",", ":"))))
    return container("istio-proxy", entries if env else None, **extra)


def request(obj: Any, uid: str = "uid-1", namespace: str | None = NS, **fields: Any) -> dict[str, Any]:
    """An AdmissionReview request for a pod CREATE, as the API server sends it."""
    body: dict[str, Any] = {
        "uid": uid,
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "operation": "CREATE",
        "object": obj,
        **fields,
    }
    if namespace is not None:
        body["namespace"] = namespace
    return {"apiVersion": DEFAULT_API_VERSION, "kind": "AdmissionReview", "request": body}


# ---------------------------------------------------------------- the namespaces and their services

INDEX: dict[str, list[MonitoredService]] = {
    NS: [service()],
    "override": [service(namespace="override", injection={"overrideExisting": True})],
    "otlp-metrics": [service(namespace="otlp-metrics", metrics={"exporter": "otlp"})],
    "mesh-off": [service(namespace="mesh-off", istio={"mode": "disabled"})],
    "mesh-on": [service(namespace="mesh-on", istio={"mode": "enabled"})],
    "picky": [service(namespace="picky", injection={"containers": ["app", "migrate"]})],
    # Several select the same pods; the index's order is not the answer's (first by name wins).
    "several": [
        service("d-legacy", "several", injection={"mode": "patch"}, selector={"matchLabels": APP}),
        service("c-tier", "several", serviceName="tier-api", selector={"matchLabels": {"tier": "api"}}),
        service("b-orders", "several", serviceName="orders-b", selector={"matchLabels": APP}),
        service(
            "a-orders",
            "several",
            serviceName="orders-a",
            selector={
                "matchExpressions": [
                    {"key": "app.kubernetes.io/name", "operator": "In", "values": ["order-service", "cart"]}
                ]
            },
        ),
    ],
    "patch-only": [service(namespace="patch-only", injection={"mode": "patch"})],
    "quiet": [],
    # A service of another namespace handed out for this one must never select its pods.
    "stray": [service(namespace=NS)],
}


@dataclass(frozen=True)
class Case:
    namespace: str
    pod: dict[str, Any]
    podmonitors: bool = False

    def obj(self) -> dict[str, Any]:
        """A fresh copy of the pod, in the case's namespace."""
        found = copy.deepcopy(self.pod)
        found["metadata"]["namespace"] = self.namespace
        return found


CASES: dict[str, Case] = {
    # Env the pod already has.
    "bare": Case(NS, pod()),
    "user-env": Case(NS, pod(container(env=[lit("LOG_LEVEL", "info")]))),
    "empty-env": Case(NS, pod(container(env=[]))),
    "env-null": Case(NS, pod({**container(), "env": None})),
    "envfrom-only": Case(NS, pod(container(envFrom=[{"configMapRef": {"name": "app-config"}}]))),
    "user-otel-service-name": Case(NS, pod(container(env=[lit("OTEL_SERVICE_NAME", "theirs")]))),
    "user-otel-service-name-other": Case(NS, pod(container(env=[lit("OTEL_SERVICE_NAME", "other")]))),
    "user-otel-service-name-moved": Case(
        NS, pod(container(env=[lit("LOG_LEVEL", "info"), lit("OTEL_SERVICE_NAME", "theirs")]))
    ),
    "user-otel-from-secret": Case(
        NS,
        pod(container(env=[{"name": "OTEL_SERVICE_NAME", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])),
    ),
    "user-resource-attributes": Case(
        NS, pod(container(env=[lit("OTEL_RESOURCE_ATTRIBUTES", "team=theirs,k8s.pod.name=$(OTEL_K8S_POD_NAME)")]))
    ),
    "more-conflicts-than-warnings": Case(  # a response carries 10 warnings at most
        NS,
        pod(*(container(name, env=[lit(var, "theirs") for var in THEIR_VARS]) for name in ("app", "worker", "sender"))),
    ),
    "override-user-otel-service-name": Case("override", pod(container(env=[lit("OTEL_SERVICE_NAME", "theirs")]))),
    "override-bare": Case("override", pod()),
    # Metadata the pod already has.
    "no-annotations": Case(NS, pod(annotations=None)),
    "empty-annotations": Case(NS, pod(annotations={})),
    "our-annotation-taken": Case(NS, pod(annotations={"otelwire.io/monitoredservice": "other"})),
    "our-label-taken": Case(NS, pod(labels={**APP, "pod-template-hash": HASH, "otelwire.io/service": "other"})),
    "version-label": Case(NS, pod(labels={**APP, "pod-template-hash": HASH, "app.kubernetes.io/version": "1.2.3"})),
    "version-labels-disagree": Case(
        NS, pod(labels={**APP, "pod-template-hash": HASH, "app.kubernetes.io/version": "1.2.3", "version": "v2"})
    ),
    "user-scrape-annotations": Case(
        NS, pod(annotations={"prometheus.io/scrape": "true", "prometheus.io/port": "8080"})
    ),
    # Owners.
    "no-owner": Case(NS, pod(labels=dict(APP), owner=None)),
    "statefulset": Case(NS, pod(labels=dict(APP), owner="StatefulSet")),
    "daemonset": Case(NS, pod(labels=dict(APP), owner="DaemonSet")),
    # Containers.
    "several-containers": Case(
        NS, pod(container(), container("worker", env=[lit("QUEUE", "orders")]), container("linkerd-proxy"))
    ),
    "init-not-named": Case(NS, pod(container(), init=[container("migrate")])),
    "picky-named": Case("picky", pod(container(), container("worker"), init=[container("migrate")])),
    "picky-none-named": Case("picky", pod(container("worker"))),
    "ports-declared": Case(NS, pod(container(ports=[{"name": "http", "containerPort": 8080, "protocol": "TCP"}]))),
    "metrics-port-declared": Case(
        NS, pod(container(ports=[{"name": "metrics", "containerPort": 9464, "protocol": "TCP"}]))
    ),
    "metrics-port-name-taken": Case(
        NS,
        pod(container(), container("worker", ports=[{"name": "otel-metrics", "containerPort": 8080}])),
    ),
    # Istio: sidecar signals, and its metrics merge with istio-proxy present.
    "inject-label-true": Case(NS, pod(labels={**APP, "pod-template-hash": HASH, "sidecar.istio.io/inject": "true"})),
    "inject-label-false": Case(NS, pod(labels={**APP, "pod-template-hash": HASH, "sidecar.istio.io/inject": "false"})),
    "sidecar-status": Case(NS, pod(container(), proxy(), annotations=dict(SIDECAR_STATUS))),
    # Istio's status annotation alone says "injected" as well (its proxy listed under another name).
    "sidecar-status-only": Case(NS, pod(annotations=dict(SIDECAR_STATUS))),
    "sidecar-status-mesh-off": Case("mesh-off", pod(container(), proxy(), annotations=dict(SIDECAR_STATUS))),
    "mesh-on-without-sidecar": Case("mesh-on", pod()),
    "proxy-config": Case(
        NS,
        pod(
            container(),
            proxy(),
            annotations={**SIDECAR_STATUS, "proxy.istio.io/config": "holdApplicationUntilProxyStarts: true"},
        ),
    ),
    "merge-empty": Case(
        NS,
        pod(
            container(),
            proxy({"scrape": "", "path": "", "port": ""}),
            annotations={**SIDECAR_STATUS, **MERGED_SCRAPE},
        ),
    ),
    "merge-users-values": Case(
        NS,
        pod(
            container(),
            proxy({"scrape": "true", "path": "/custom", "port": "8080"}),
            annotations={**SIDECAR_STATUS, **MERGED_SCRAPE},
        ),
    ),
    "merge-users-values-override": Case(
        "override",
        pod(
            container(),
            proxy({"scrape": "true", "path": "/custom", "port": "8080"}),
            annotations={**SIDECAR_STATUS, **MERGED_SCRAPE},
        ),
    ),
    "merge-ours": Case(
        NS,
        pod(
            container(),
            proxy({"scrape": "true", "path": "/metrics", "port": "9464"}),
            annotations={**SIDECAR_STATUS, **MERGED_SCRAPE},
        ),
    ),
    "merge-not-json": Case(
        NS,
        pod(
            container(),
            container("istio-proxy", env=[lit("ISTIO_PROMETHEUS_ANNOTATIONS", "{not json")]),
            annotations={**SIDECAR_STATUS, **MERGED_SCRAPE},
        ),
    ),
    "merge-without-variable": Case(NS, pod(container(), proxy(), annotations={**SIDECAR_STATUS, **MERGED_SCRAPE})),
    "merge-proxy-without-env": Case(
        NS, pod(container(), proxy(env=False), annotations={**SIDECAR_STATUS, **MERGED_SCRAPE})
    ),
    "merge-native-sidecar": Case(
        NS,
        pod(
            container(),
            init=[container("istio-init"), proxy(restartPolicy="Always")],
            annotations={**SIDECAR_STATUS, **MERGED_SCRAPE},
        ),
    ),
    "merge-otlp-metrics": Case(
        "otlp-metrics",
        pod(
            container(),
            proxy({"scrape": "", "path": "", "port": ""}),
            annotations={**SIDECAR_STATUS, **MERGED_SCRAPE},
        ),
    ),
    "merge-podmonitors": Case(
        NS,
        pod(
            container(),
            proxy({"scrape": "", "path": "", "port": ""}),
            annotations={**SIDECAR_STATUS, **MERGED_SCRAPE},
        ),
        podmonitors=True,
    ),
    "podmonitors-bare": Case(NS, pod(), podmonitors=True),
    # Several services select; only webhook-mode ones of the pod's namespace count.
    "several-first-by-name": Case("several", pod()),
    "several-expression-only": Case("several", pod(labels={"app.kubernetes.io/name": "cart"})),
    "several-other-label": Case("several", pod(labels={"tier": "api"})),
    "several-none": Case("several", pod(labels={"tier": "web"})),
    # Nobody selects the pod.
    "namespace-without-services": Case("quiet", pod()),
    "patch-mode-only": Case("patch-only", pod()),
    "service-of-another-namespace": Case("stray", pod()),
    "no-labels": Case(NS, pod(labels={})),
    # Pods a real API server would rarely send; most take the reviewer's uncached path.
    "label-value-not-a-string": Case(NS, pod(labels={**APP, "pod-template-hash": HASH, "replicas": 3})),
    "env-entry-without-name": Case(NS, pod(container(env=[{"value": "x"}]))),
    "duplicate-container-names": Case(NS, pod(container(), container())),
}


def chosen_service(case: Case) -> MonitoredService | None:
    """The service that owns the case's pod: the first by name of the namespace's webhook-mode ones."""
    webhook = [ms for ms in INDEX[case.namespace] if ms.spec.injection.mode == "webhook"]
    chosen = select_services(webhook, case.namespace, case.pod["metadata"].get("labels") or {})
    return chosen[0] if chosen else None


def planner_answer(case: Case) -> tuple[list[dict[str, Any]], list[str]]:
    """(JSON patch, warnings) the planner gives for the case's pod, from scratch: no reviewer, no cache."""
    pod = case.obj()
    chosen = chosen_service(case)
    if chosen is None:
        return [], []
    plan = plan_for(chosen, pod, owner_of_pod(pod), case.namespace, podmonitors=case.podmonitors)
    ops, changes = json_patch(pod, plan)
    return ops, [f"otelwire: {c}" for c in changes.conflicts if not c.overridden][:10]


def new_reviewer(**kwargs: Any) -> Reviewer:
    return Reviewer(lambda namespace: tuple(INDEX.get(namespace, ())), **kwargs)


def decoded(answer: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
    """The response's (JSON patch, warnings), checking the response's frame on the way."""
    assert answer["apiVersion"] == DEFAULT_API_VERSION
    assert answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert set(response) <= {"uid", "allowed", "patchType", "patch", "warnings"}, response
    assert response["allowed"] is True
    ops: list[dict[str, Any]] = []
    if "patch" in response:
        assert response["patchType"] == "JSONPatch"
        ops = json.loads(base64.b64decode(response["patch"], validate=True))
        assert ops, "an empty patch is sent as no patch"
    else:
        assert "patchType" not in response
    warnings = response.get("warnings", [])
    assert warnings or "warnings" not in response, "no warnings are sent as no key"
    return ops, warnings


def review_case(reviewer: Reviewer, case: Case, uid: str = "uid-1") -> bytes:
    """Review the case's pod (a fresh copy) and check the answer against the planner's."""
    reviewer.podmonitors = case.podmonitors
    review = request(case.obj(), uid, case.namespace)
    pristine = copy.deepcopy(review)
    answer = reviewer.review(review)
    assert review == pristine, "the request was modified"
    assert answer["response"]["uid"] == uid
    ops, warnings = decoded(answer)
    assert (ops, warnings) == planner_answer(case)
    if ops:
        apply_patch(case.obj(), ops)  # the API server would accept it: every path's parent exists
    raw = reviewer.review_json(review)
    assert raw == json.dumps(answer, separators=(",", ":")).encode()
    return raw


# ---------------------------------------------------------------- the table


@pytest.mark.parametrize("case", [pytest.param(case, id=name) for name, case in CASES.items()])
def test_the_reviewer_answers_what_the_planner_plans(case: Case) -> None:
    reviewer = new_reviewer()
    first = review_case(reviewer, case)
    hits = reviewer.cache.hits
    second = review_case(reviewer, case)  # an identical pod: from the caches
    assert second == first
    if chosen_service(case) is not None:
        assert reviewer.cache.hits > hits, "the second review was not served from the plan cache"
    third = review_case(reviewer, case, uid="uid-2")
    assert third == first.replace(b'"uid":"uid-1"', b'"uid":"uid-2"')


def test_the_table_covers_every_answer() -> None:
    """The cases patch, leave pods alone, warn, and choose among services: they can tell answers apart."""
    answers = {name: planner_answer(case) for name, case in CASES.items()}
    assert len({json.dumps(answer) for answer in answers.values()}) > len(CASES) // 2
    assert [name for name, (ops, _) in answers.items() if not ops]  # unmatched ones
    assert [name for name, (_, warnings) in answers.items() if warnings]  # conflicts reported
    assert len(answers["more-conflicts-than-warnings"][1]) == 10
    owners = {
        (apply_patch(CASES[name].obj(), ops)["metadata"].get("annotations") or {}).get("otelwire.io/monitoredservice")
        for name, (ops, _) in answers.items()
    }
    assert {"order-service", "a-orders", "c-tier"} <= owners


def _orders() -> Iterator[list[str]]:
    names = list(CASES)
    yield names
    yield names[::-1]


def test_one_reviewer_never_hands_a_pod_the_answer_of_another() -> None:
    """Every case through one reviewer, twice and in both orders: its caches must key on all the patch reads."""
    reviewer = new_reviewer()
    for order in _orders():
        for _ in range(2):
            for name in order:
                try:
                    review_case(reviewer, CASES[name])
                except AssertionError as error:
                    raise AssertionError(f"case {name}: {error}") from error
    assert reviewer.cache.hits > reviewer.cache.misses


def test_a_new_generation_of_the_service_is_answered_at_once() -> None:
    services = [service(generation=1)]
    reviewer = Reviewer(lambda namespace: tuple(services) if namespace == NS else ())
    review = request(pod())
    before = decoded(reviewer.review(review))[0]
    services[:] = [service(generation=2, tracing={"sampler": {"type": "always_on"}})]
    after = decoded(reviewer.review(review))[0]
    assert after != before
    plan = plan_for(services[0], review["request"]["object"], owner_of_pod(review["request"]["object"]), NS)
    assert after == json_patch(review["request"]["object"], plan)[0]
    services.clear()
    assert reviewer.review(review)["response"] == {"uid": "uid-1", "allowed": True}


def test_the_namespace_comes_from_the_pod_when_the_request_has_none() -> None:
    reviewer = new_reviewer()
    case = CASES["bare"]
    answer = reviewer.review(request(case.obj(), namespace=None))
    assert decoded(answer) == planner_answer(case)


# ---------------------------------------------------------------- identity and serialisation


@pytest.mark.parametrize("uid", ["705ab4f5-6393-11e8-b7cc-42010a800002", "", 'a"b\\c', "ünïcode", "x" * 300])
@pytest.mark.parametrize("api_version", [DEFAULT_API_VERSION, "admission.k8s.io/v1beta1"])
def test_the_response_names_the_request(uid: str, api_version: str) -> None:
    reviewer = new_reviewer()
    for obj in (pod(), pod(labels={})):  # patched, and unmatched
        review = {**request(obj, uid), "apiVersion": api_version}
        answer = reviewer.review(review)
        assert answer["apiVersion"] == api_version
        assert answer["response"]["uid"] == uid
        assert answer["response"]["allowed"] is True
        assert reviewer.review_json(review) == json.dumps(answer, separators=(",", ":")).encode()
        assert json.loads(reviewer.review_json(review)) == answer


# ---------------------------------------------------------------- malformed requests


def _count(result: str) -> float:
    return metrics.REGISTRY.get_sample_value("otelwire_admissions_total", {"result": result}) or 0.0


def _allowed(uid: str = "", api_version: str = DEFAULT_API_VERSION) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": "AdmissionReview", "response": {"uid": uid, "allowed": True}}


MALFORMED: list[Any] = [
    pytest.param(None, _allowed(), "skipped", id="null"),
    pytest.param("garbage", _allowed(), "skipped", id="string"),
    pytest.param(42, _allowed(), "skipped", id="number"),
    pytest.param([request(pod())], _allowed(), "skipped", id="list"),
    pytest.param({}, _allowed(), "skipped", id="empty-object"),
    pytest.param(
        {"apiVersion": "admission.k8s.io/v1beta1"}, _allowed("", "admission.k8s.io/v1beta1"), "skipped", id="no-request"
    ),
    pytest.param({"request": None}, _allowed(), "skipped", id="request-null"),
    pytest.param({"request": ["x"]}, _allowed(), "skipped", id="request-list"),
    pytest.param({"request": {"uid": "u"}}, _allowed("u"), "skipped", id="no-object"),
    pytest.param(request("pod", "u"), _allowed("u"), "skipped", id="object-string"),
    pytest.param(request(pod(), "u", operation="UPDATE"), _allowed("u"), "skipped", id="update"),
    pytest.param(request(pod(), "u", operation="DELETE"), _allowed("u"), "skipped", id="delete"),
    pytest.param(
        request(pod(), "u", kind={"group": "apps", "version": "v1", "kind": "Deployment"}),
        _allowed("u"),
        "skipped",
        id="not-a-pod",
    ),
    pytest.param(request({**pod(), "metadata": ["x"]}, "u"), _allowed("u"), "skipped", id="metadata-list"),
    pytest.param(request({"metadata": pod()["metadata"]}, "u"), _allowed("u"), "skipped", id="no-spec"),
    pytest.param(request({**pod(), "spec": "x"}, "u"), _allowed("u"), "skipped", id="spec-string"),
    pytest.param(
        request({**pod(), "metadata": {"labels": APP}}, "u", namespace=None),
        _allowed("u"),
        "skipped",
        id="no-namespace",
    ),
    pytest.param(
        request({**pod(), "metadata": {"namespace": NS, "labels": ["app"]}}, "u"),
        _allowed("u"),
        "skipped",
        id="labels-list",
    ),
    pytest.param(request(pod(), "u", namespace="kube-system"), _allowed("u"), "skipped", id="excluded-namespace"),
    pytest.param(request(pod(), "u", namespace="quiet"), _allowed("u"), "unmatched", id="no-service"),
    pytest.param(
        request({**pod(), "spec": {"containers": "junk"}}, "u"), _allowed("u"), "error", id="containers-string"
    ),
    pytest.param(
        request({**pod(), "spec": {"containers": [None, 3, "x"]}}, "u"), _allowed("u"), "error", id="containers-junk"
    ),
]


@pytest.mark.parametrize(("review", "expected", "result"), MALFORMED)
def test_a_malformed_request_is_allowed_unchanged(review: Any, expected: dict[str, Any], result: str) -> None:
    """Allowed, no patch, the request's uid when it has one; counted under ``result`` (an error is logged)."""
    reviewer = new_reviewer(excluded_namespaces=["kube-system"])
    before = {label: _count(label) for label in RESULTS}
    assert reviewer.review(review) == expected
    assert reviewer.review_json(review) == json.dumps(expected, separators=(",", ":")).encode()
    assert {label: _count(label) - before[label] for label in RESULTS} == {
        label: 2.0 if label == result else 0.0 for label in RESULTS
    }


def test_an_exception_in_the_lookup_is_an_allowed_error() -> None:
    def broken(namespace: str) -> tuple[MonitoredService, ...]:
        raise RuntimeError("the index is gone")

    reviewer = Reviewer(broken)
    before = _count("error")
    review = request(pod(), "u")
    assert reviewer.review(review) == _allowed("u")
    assert reviewer.review_json(review) == json.dumps(_allowed("u"), separators=(",", ":")).encode()
    assert _count("error") == before + 2


# ---------------------------------------------------------------- over HTTP (webhook.serving)


@pytest.fixture
async def client() -> AsyncIterator[aiohttp_testing.TestClient[Any, Any]]:
    server = aiohttp_testing.TestServer(build_app(new_reviewer()))
    async with aiohttp_testing.TestClient(server) as found:
        yield found


async def test_a_body_that_is_not_json_is_a_400(client: Any) -> None:
    for body in (b"", b"not json", b"{", b"\xff\xfe"):
        response = await client.post(MUTATE_PATH, data=body, headers={"Content-Type": "application/json"})
        assert response.status == 400
        assert await response.json() == {"error": "body is not JSON"}


@pytest.mark.parametrize("body", [b"null", b"[]", b'"x"', b"{}", b'{"request": 1}'])
async def test_json_that_is_not_a_review_is_allowed_unchanged(client: Any, body: bytes) -> None:
    response = await client.post(MUTATE_PATH, data=body, headers={"Content-Type": "application/json"})
    assert response.status == 200
    assert await response.json() == _allowed()


async def test_a_review_over_http_is_the_reviewers_bytes(client: Any) -> None:
    case = CASES["merge-empty"]
    review = request(case.obj())
    response = await client.post(MUTATE_PATH, data=json.dumps(review).encode())
    assert response.status == 200
    assert response.content_type == "application/json"
    assert decoded(await response.json()) == planner_answer(case)
    assert await response.read() == new_reviewer().review_json(review)
