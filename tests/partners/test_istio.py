"""Istio's real injector and otelwire, in every order a cluster runs them.

otelwire promises that the mesh's spans carry the app's ``OTEL_SERVICE_NAME``
(``service.istio.io/canonical-name`` plus ``tracingServiceName:
CANONICAL_NAME_ONLY``), that the mesh's revision is the app's
``service.version``, that Istio's containers get nothing from otelwire but the
app's scrape settings in the metrics merge, and that patch mode converges when
Istio injects a whole namespace.  Here the other side is Istio itself, built
from its Go module (``tests/partners/istio``):

* ``istioctl manifest generate`` (the default profile, and the same with Istio
  CNI) gives the sidecar injector's ConfigMap (``config``, ``values``) and the
  mesh config;
* ``istioctl kube-inject --revision default`` with those files is the injector,
  offline (``KUBECONFIG`` points nowhere), fed the pod the API server hands to
  mutating webhooks -- classic sidecars, and native ones
  (``ENABLE_NATIVE_SIDECARS=true``, the injector's own switch);
* ``agentview`` (``tests/partners/istio/cmd/agentview``) runs pilot-agent's
  steps on the stored pod with Istio's code: the effective ProxyConfig, the
  Envoy bootstrap's node cluster (the span service name istiod configures) and
  the app URL the status server's metrics merge scrapes.

otelwire's side is the production code: the webhook's ``Reviewer`` on the
AdmissionReview the API server sends, and ``otelwire render`` (the CLI) for the
template paths.  The orders:

* ``istio-first``: Istio's webhook sorts before otelwire's and is not re-invoked;
* ``otelwire-first``: otelwire, Istio, otelwire again (``reinvocationPolicy: IfNeeded``);
* ``istio-render``: ``otelwire render`` on a Deployment ``istioctl kube-inject`` wrote;
* ``patch-namespace``: patch mode in a namespace labelled ``istio-injection=enabled``:
  ``otelwire render`` of the Deployment with its Namespace, then Istio injects the pod.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonpatch import apply_patch
from otelwire.plan import attributes, owner_of_pod, plan_for
from otelwire.spec import MonitoredService, parse_monitored_service
from otelwire.webhook.reviewing import Reviewer
from support.rendering import render as render_objects

from partners import binary, files

NS = "shop"
SERVICE = "payments"  # the MonitoredService's service name; the pods' `app` label says otherwise
APP_LABEL = "payments-app"
TEMPLATE_HASH = "6d5f7c9b8"
METRICS = ("9464", "/metrics")  # the MonitoredService's Prometheus port and path
ISTIO_CONTAINERS = frozenset({"istio-proxy", "istio-init", "istio-validation"})
MERGE_ENV = "ISTIO_PROMETHEUS_ANNOTATIONS"
ORDERS = ("istio-first", "otelwire-first", "istio-render", "patch-namespace")


@dataclass(frozen=True)
class Case:
    """A pod template as a user writes it, and what the mesh and the app must then agree on."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    version: str | None = None  # service.version and canonical-revision ("latest" when None)
    scrape: tuple[str, str] = METRICS  # the app endpoint the metrics merge must scrape
    proxy_config: Mapping[str, Any] = field(default_factory=dict)  # user's keys that must survive

    @property
    def deployment(self) -> str:
        """Each case is its own Deployment, so render's warnings name it."""
        return f"{SERVICE}-{self.name}"

    @property
    def replicaset(self) -> str:
        return f"{self.deployment}-{TEMPLATE_HASH}"


CASES = (
    Case("no-prometheus-annotations"),
    Case(
        "users-prometheus-annotations",
        annotations={"prometheus.io/scrape": "true", "prometheus.io/port": "8080", "prometheus.io/path": "/custom"},
        scrape=("8080", "/custom"),  # the user's settings are kept (no overrideExisting), and reported
    ),
    Case("version-only", labels={"version": "v2"}, version="v2"),
    Case("recommended-version-only", labels={"app.kubernetes.io/version": "1.4.2"}, version="1.4.2"),
    Case(
        "versions-disagree",
        labels={"app.kubernetes.io/version": "1.4.2", "version": "v2"},
        version="1.4.2",  # app.kubernetes.io/version first, as Istio reads it
    ),
    Case("recommended-name-differs", labels={"app.kubernetes.io/name": "payments-web"}),
    # otelwire sees the Istio signal before Istio does: its labels and proxy config are there at injection.
    Case("pod-asks-for-the-sidecar", labels={"sidecar.istio.io/inject": "true"}),
    Case(
        "users-proxy-config",
        annotations={
            "proxy.istio.io/config": "concurrency: 3\nholdApplicationUntilProxyStarts: true\n"
            "proxyMetadata:\n  OTELWIRE_PROBE: kept\n"
        },
        proxy_config={
            "concurrency": 3,
            "holdApplicationUntilProxyStarts": True,
            "proxyMetadata": {"OTELWIRE_PROBE": "kept"},
        },
    ),
)


@dataclass(frozen=True)
class Variant:
    """How Istio is installed: classic or native sidecars, iptables in istio-init or Istio CNI."""

    native: bool
    cni: bool

    @property
    def id(self) -> str:
        return f"{'native' if self.native else 'classic'}-{'cni' if self.cni else 'init'}"


VARIANTS = tuple(Variant(native, cni) for native in (False, True) for cni in (False, True))


def monitored_service(mode: str) -> dict[str, Any]:
    return {
        "apiVersion": "otelwire.io/v1alpha1",
        "kind": "MonitoredService",
        "metadata": {"name": SERVICE, "namespace": NS, "generation": 1, "uid": f"uid-{mode}"},
        "spec": {
            "selector": {"matchLabels": {"app": APP_LABEL}},
            "injection": {"mode": mode},
            "tracing": {"otlp": {"endpoint": "http://otel-collector.observability.svc:4318"}},
            "metrics": {"exporter": "prometheus", "prometheus": {"port": int(METRICS[0]), "path": METRICS[1]}},
        },
    }


def template_of(case: Case) -> dict[str, Any]:
    return {
        "metadata": {
            "labels": {"app": APP_LABEL, **case.labels},
            **({"annotations": dict(case.annotations)} if case.annotations else {}),
        },
        "spec": {
            "containers": [
                {"name": "app", "image": "example.com/payments:1", "ports": [{"containerPort": 8080}]},
            ]
        },
    }


def deployment(case: Case, template: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": case.deployment, "namespace": NS, "annotations": {"otelwire.test/case": case.name}},
        "spec": {
            "selector": {"matchLabels": {"app": APP_LABEL}},
            "template": copy.deepcopy(dict(template or template_of(case))),
        },
    }


def pod_of(template: Mapping[str, Any], case: Case) -> dict[str, Any]:
    """The pod the ReplicaSet controller asks the API server to create: what mutating webhooks see."""
    meta = copy.deepcopy(dict(template.get("metadata") or {}))
    meta["labels"] = {**(meta.get("labels") or {}), "pod-template-hash": TEMPLATE_HASH}
    meta["annotations"] = {**(meta.get("annotations") or {}), "otelwire.test/case": case.name}
    meta.update(
        generateName=f"{case.replicaset}-",
        namespace=NS,
        ownerReferences=[
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": case.replicaset,
                "uid": "7c4b1f0e-0000-4000-8000-000000000001",
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    )
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(template["spec"])}


def case_of(obj: Mapping[str, Any]) -> str:
    return str(((obj.get("metadata") or {}).get("annotations") or {})["otelwire.test/case"])


# ---------------------------------------------------------------- Istio's side


@dataclass(frozen=True)
class Injector:
    """The sidecar injector's ConfigMap and the mesh config, as ``istioctl manifest generate`` wrote them."""

    config: Path
    values: Path
    mesh: Path


def _offline_env(home: Path, **extra: str) -> dict[str, str]:
    """istioctl's environment: no kubeconfig that could reach a cluster, a scratch HOME."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "KUBECONFIG": str(home / "none"),
        **extra,
    }


def run(argv: Sequence[str | Path], *, stdin: str = "", env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in argv], input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, argv))} exited {done.returncode}:\n{done.stderr}", pytrace=False)
    return done.stdout


@pytest.fixture(scope="module")
def istioctl() -> Path:
    return binary("istio", "istioctl")


def generate_injector(istioctl: Path, home: Path, *settings: str) -> Injector:
    """``istioctl manifest generate --set ...``: the sidecar injector's ConfigMap and the mesh config, as files."""
    argv: list[str | Path] = [istioctl, "manifest", "generate"]
    for setting in settings:
        argv += ["--set", setting]
    configmaps = {
        d["metadata"]["name"]: d["data"]
        for d in yaml.safe_load_all(run(argv, env=_offline_env(home)))
        if isinstance(d, dict) and d.get("kind") == "ConfigMap"
    }
    injector = Injector(home / "inject-config.yaml", home / "inject-values.json", home / "mesh.yaml")
    injector.config.write_text(configmaps["istio-sidecar-injector"]["config"])
    injector.values.write_text(configmaps["istio-sidecar-injector"]["values"])
    injector.mesh.write_text(configmaps["istio"]["mesh"])
    return injector


@pytest.fixture(scope="module")
def injectors(istioctl: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Injector]:
    """The default profile's injector, without and with Istio CNI (keyed by ``cni``)."""
    out: dict[bool, Injector] = {}
    for cni in (False, True):
        home = tmp_path_factory.mktemp("istioctl-cni" if cni else "istioctl")
        out[cni] = generate_injector(istioctl, home, *(["components.cni.enabled=true"] if cni else []))
        assert json.loads(out[cni].values.read_text())["pilot"]["cni"]["enabled"] is cni
        assert yaml.safe_load(out[cni].mesh.read_text())["enablePrometheusMerge"] is True
    return out


@dataclass
class Istio:
    """``istioctl kube-inject`` as the injector of one installation variant."""

    istioctl: Path
    injector: Injector
    variant: Variant
    home: Path

    def inject(self, objects: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        argv: list[str | Path] = [
            self.istioctl,
            "kube-inject",
            "-f",
            "-",
            "--injectConfigFile",
            self.injector.config,
            "--valuesFile",
            self.injector.values,
            "--meshConfigFile",
            self.injector.mesh,
            "--revision",
            "default",
        ]
        env = _offline_env(self.home, ENABLE_NATIVE_SIDECARS="true" if self.variant.native else "false")
        out = run(argv, stdin=yaml.safe_dump_all(objects, sort_keys=False), env=env)
        injected = [d for d in yaml.safe_load_all(out) if d]
        assert len(injected) == len(objects)
        return injected


def agent_view(pod: Mapping[str, Any], home: Path) -> dict[str, Any]:
    """What pilot-agent makes of the stored pod (see ``tests/partners/istio/cmd/agentview``)."""
    stored = copy.deepcopy(dict(pod))
    stored["metadata"].setdefault("name", f"{stored['metadata']['generateName']}x2x9z")  # as the API server names it
    template = files("istio") / "tools" / "packaging" / "common" / "envoy_bootstrap.json"
    out = run(
        [binary("istio", "agentview"), "-bootstrap-template", template, "-"],
        stdin=json.dumps(stored),
        env=_offline_env(home),
    )
    view: dict[str, Any] = json.loads(out)
    return view


# ---------------------------------------------------------------- otelwire's side


def services(mode: str) -> list[MonitoredService]:
    return [parse_monitored_service(monitored_service(mode))]


def webhook(reviewer: Reviewer, pod: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """otelwire's webhook on ``pod``: the AdmissionReview answer, applied as the API server applies it."""
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-4000-8000-000000000000",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE",
            "namespace": NS,
            "object": copy.deepcopy(dict(pod)),
        },
    }
    response = reviewer.review(review)["response"]
    assert response["allowed"] is True
    ops = json.loads(base64.b64decode(response["patch"])) if response.get("patch") else []
    return apply_patch(pod, ops), list(response.get("warnings") or [])


def render(objects: Sequence[Mapping[str, Any]], home: Path) -> tuple[list[dict[str, Any]], str]:
    """``otelwire render -f -`` as a user runs it: the rendered workloads and the warnings."""
    rendered = render_objects(objects, cwd=home)
    return rendered.documents, rendered.warnings


# ---------------------------------------------------------------- the orders


@dataclass
class Outcome:
    """One case through one order: the stored pod, the pod right after Istio's injector, what otelwire said."""

    pod: dict[str, Any]
    after_istio: dict[str, Any]
    warnings: list[str]
    template_digest: str | None = None  # patch mode: the digest the rendered template carries


def istio_first(istio: Istio, home: Path) -> dict[str, Outcome]:
    reviewer = Reviewer(lambda ns: services("webhook") if ns == NS else ())
    injected = istio.inject([pod_of(template_of(c), c) for c in CASES])
    out = {}
    for pod in injected:
        final, warnings = webhook(reviewer, pod)
        out[case_of(pod)] = Outcome(final, pod, warnings)
    return out


def otelwire_first(istio: Istio, home: Path) -> dict[str, Outcome]:
    reviewer = Reviewer(lambda ns: services("webhook") if ns == NS else ())
    first = {c.name: webhook(reviewer, pod_of(template_of(c), c)) for c in CASES}
    injected = istio.inject([pod for pod, _ in first.values()])
    out = {}
    for pod in injected:
        final, warnings = webhook(reviewer, pod)  # re-invoked: Istio changed the pod
        out[case_of(pod)] = Outcome(final, pod, [*first[case_of(pod)][1], *warnings])
    return out


def istio_render(istio: Istio, home: Path) -> dict[str, Outcome]:
    injected = istio.inject([deployment(c) for c in CASES])
    rendered, warnings = render([monitored_service("webhook"), *injected], home)
    out = {}
    for before, after in zip(injected, rendered, strict=True):
        case = next(c for c in CASES if c.name == case_of(after))
        mine = [w for w in warnings.splitlines() if f"Deployment {NS}/{case.deployment}:" in w]
        out[case.name] = Outcome(
            pod_of(after["spec"]["template"], case), pod_of(before["spec"]["template"], case), mine
        )
    return out


def patch_namespace(istio: Istio, home: Path) -> dict[str, Outcome]:
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NS, "labels": {"istio-injection": "enabled"}},
    }
    rendered, warnings = render([namespace, monitored_service("patch"), *(deployment(c) for c in CASES)], home)
    cases = {c.name: c for c in CASES}
    templates = {case_of(d): d["spec"]["template"] for d in rendered}
    injected = istio.inject([pod_of(templates[name], cases[name]) for name in templates])
    out = {}
    for pod in injected:
        case = cases[case_of(pod)]
        mine = [w for w in warnings.splitlines() if f"Deployment {NS}/{case.deployment}:" in w]
        digest = templates[case.name]["metadata"]["annotations"]["otelwire.io/injected"]
        out[case.name] = Outcome(pod, pod, mine, digest)
    return out


RUNS: dict[str, Callable[[Istio, Path], dict[str, Outcome]]] = {
    "istio-first": istio_first,
    "otelwire-first": otelwire_first,
    "istio-render": istio_render,
    "patch-namespace": patch_namespace,
}


@pytest.fixture(scope="module")
def outcomes(
    istioctl: Path, injectors: dict[bool, Injector], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, Variant], dict[str, Outcome]]:
    """Every case of one (order, variant), computed once: one kube-inject call for all cases."""

    @functools.cache
    def of(order: str, variant: Variant) -> dict[str, Outcome]:
        home = tmp_path_factory.mktemp(f"{order}-{variant.id}")
        return RUNS[order](Istio(istioctl, injectors[variant.cni], variant, home), home)

    return of


# ---------------------------------------------------------------- the checks


def containers(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = pod["spec"]
    return [*(spec.get("initContainers") or []), *spec["containers"]]


def env_of(pod: Mapping[str, Any], name: str) -> dict[str, Any]:
    container = next(c for c in containers(pod) if c["name"] == name)
    return {e["name"]: e.get("value") for e in container.get("env") or []}


def istio_containers(pod: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in containers(pod) if c["name"] in ISTIO_CONTAINERS}


def without_merge_env(container: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(dict(container))
    out["env"] = [e for e in out.get("env") or [] if e["name"] != MERGE_ENV]
    return out


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.id)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_mesh_and_app_agree(
    case: Case,
    order: str,
    variant: Variant,
    outcomes: Callable[[str, Variant], dict[str, Outcome]],
    tmp_path: Path,
) -> None:
    outcome = outcomes(order, variant)[case.name]
    pod = outcome.pod
    labels = pod["metadata"]["labels"]
    annotations = pod["metadata"]["annotations"]

    # Istio really injected, in the variant asked for.
    sidecars = istio_containers(pod)
    assert "istio-proxy" in sidecars, sorted(sidecars)
    assert ("istio-validation" if variant.cni else "istio-init") in sidecars, sorted(sidecars)
    init_names = [c["name"] for c in pod["spec"].get("initContainers") or []]
    assert ("istio-proxy" in init_names) is variant.native
    if variant.native:
        assert sidecars["istio-proxy"]["restartPolicy"] == "Always"

    # One name: the mesh's spans (pilot-agent's bootstrap), the app's SDK, the MonitoredService.
    view = agent_view(pod, tmp_path)
    app = env_of(pod, "app")
    assert app["OTEL_SERVICE_NAME"] == SERVICE
    assert view["serviceCluster"] == SERVICE, view
    assert view["tracingServiceName"] == "CANONICAL_NAME_ONLY"
    assert view["canonicalService"] == labels["service.istio.io/canonical-name"] == SERVICE

    # One version: canonical-revision is service.version ("latest" when no label names one).
    resource = attributes.decoded(app["OTEL_RESOURCE_ATTRIBUTES"])
    assert resource.get("service.version") == case.version
    assert labels["service.istio.io/canonical-revision"] == view["canonicalRevision"] == (case.version or "latest")

    # A user's other ProxyConfig keys survive, in what pilot-agent runs with.
    for key, value in case.proxy_config.items():
        assert view["proxyConfig"][key] == value, (key, view["proxyConfig"])

    # Metrics merge: Prometheus scrapes the sidecar, which scrapes the app's endpoint.
    assert {k: v for k, v in annotations.items() if k.startswith("prometheus.io/")} == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "15020",
        "prometheus.io/path": "/stats/prometheus",
    }
    port, path = case.scrape
    assert view["metrics"].get("refused") is None, view["metrics"]
    assert view["metrics"]["scraped"] == [f"http://localhost:{port}{path}"]
    assert view["metrics"]["merged"] is True

    # Istio's containers: nothing of otelwire's but, where Istio ran first, the app's scrape settings.
    before = istio_containers(outcome.after_istio)
    assert sorted(before) == sorted(sidecars)
    for name, container in sidecars.items():
        assert not [e["name"] for e in container.get("env") or [] if e["name"].startswith("OTEL_")], name
        if order in ("istio-first", "istio-render"):
            assert without_merge_env(container) == without_merge_env(before[name]), name
        else:
            assert container == before[name], name

    # The pod carries the current plan: assessed as instrumented, never outdated (no restart loop).
    owner = owner_of_pod(pod)
    digest = plan_for(services("patch" if order == "patch-namespace" else "webhook")[0], pod, owner, NS).digest
    assert annotations["otelwire.io/injected"] == digest
    if outcome.template_digest is not None:
        assert outcome.template_digest == digest

    # The user's own scrape settings win (no overrideExisting), and otelwire says so.
    if case.scrape != METRICS:
        assert [w for w in outcome.warnings if "'8080' kept instead of '9464'" in w], outcome.warnings

    # otelwire never calls Istio's canonical labels the user's.
    assert not [w for w in outcome.warnings if "service.istio.io/" in w], outcome.warnings


@pytest.mark.parametrize("order", ["istio-first", "otelwire-first"])
def test_without_istios_metrics_merge_prometheus_scrapes_the_app(order: str, istioctl: Path, tmp_path: Path) -> None:
    """A mesh with ``enablePrometheusMerge: false``: the scrape annotations are otelwire's, the merge stays empty."""
    injector = generate_injector(istioctl, tmp_path, "meshConfig.enablePrometheusMerge=false")
    assert yaml.safe_load(injector.mesh.read_text())["enablePrometheusMerge"] is False
    outcome = RUNS[order](Istio(istioctl, injector, Variant(native=False, cni=False), tmp_path), tmp_path)
    for case in CASES:
        pod = outcome[case.name].pod
        port, path = case.scrape
        annotations = pod["metadata"]["annotations"]
        assert (annotations["prometheus.io/port"], annotations["prometheus.io/path"]) == (port, path), case.name
        assert MERGE_ENV not in env_of(pod, "istio-proxy"), case.name
        view = agent_view(pod, tmp_path)
        assert view["metrics"] == {"scraped": [], "merged": False}, case.name
        assert view["serviceCluster"] == SERVICE, case.name
