"""Smoke tests proving the test control plane is a real Kubernetes, not a lookalike.

Each test checks one property the operator's own tests will lean on: the server
reports its real version (kubectl checks it), RBAC denies what a Role does not grant,
the CRD's structural schema and CEL rules reject bad MonitoredServices at apply
time, controllers + scheduler + kwok turn a Deployment into Running Pods, and a
plane leaves no process behind however it ends. If one of these fails, the tests
built on the plane cannot be trusted either.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from plane import (
    REPO_ROOT,
    KubectlError,
    LocalPlane,
    Plane,
    locate_binaries,
    pid_alive,
    read_versions,
)

CRD_FILE = REPO_ROOT / "crds" / "monitoredservices.otelwire.io.yaml"
PLANE_SCRIPT = REPO_ROOT / "tests" / "plane"  # the package; its __main__.py starts a plane
PROBE_TESTS = Path(__file__).with_name("interrupt_probe.py")


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def namespace(plane: Plane) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards without waiting."""
    name = plane.create_namespace(_unique("smoke"))
    yield name
    plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


# --------------------------------------------------------------------------- version


@pytest.mark.controlplane
def test_server_reports_its_real_version(plane: Plane) -> None:
    versions = plane.kubectl_json("version")
    server = versions["serverVersion"]
    assert server["gitVersion"] == plane.version
    assert not server["gitVersion"].startswith("v0.0.0"), "version ldflags missing from the build"
    major, minor = plane.version.lstrip("v").split(".")[:2]
    assert (server["major"], server["minor"]) == (major, minor)
    # The kubectl the plane hands out is the release that matches the server.
    assert versions["clientVersion"]["gitVersion"] == server["gitVersion"]
    if isinstance(plane, LocalPlane) and not os.environ.get("KUBEBUILDER_ASSETS"):
        assert plane.version == read_versions()["KUBERNETES_VERSION"]


# --------------------------------------------------------------------------- RBAC


@pytest.mark.controlplane
def test_serviceaccount_with_narrow_role_is_denied_the_rest(plane: Plane, namespace: str) -> None:
    sa = "narrow"
    plane.apply(
        [
            {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa, "namespace": namespace}},
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "Role",
                "metadata": {"name": "read-configmaps", "namespace": namespace},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}],
            },
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": "read-configmaps", "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-configmaps"},
                "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}],
            },
        ]
    )
    who = f"--as=system:serviceaccount:{namespace}:{sa}"

    def can_i(*args: str) -> str:
        return plane.kubectl("auth", "can-i", *args, who, "-n", namespace, check=False).stdout.strip()

    assert can_i("list", "configmaps") == "yes"
    assert can_i("create", "configmaps") == "no"
    assert can_i("get", "secrets") == "no"
    assert can_i("patch", "deployments.apps") == "no"
    assert can_i("list", "configmaps", "--all-namespaces") == "no"

    # The same through real credentials: a bound token, and impersonation.
    plane.kubectl("create", "configmap", "visible", "-n", namespace, "--from-literal=k=v")
    token_config = plane.serviceaccount_kubeconfig(namespace, sa)
    assert "visible" in plane.kubectl("get", "configmaps", "-n", namespace, kubeconfig=token_config).stdout
    denied = plane.kubectl("get", "secrets", "-n", namespace, kubeconfig=token_config, check=False)
    assert denied.returncode != 0
    assert "forbidden" in denied.stderr.lower()
    assert f"system:serviceaccount:{namespace}:{sa}" in denied.stderr

    as_config = plane.impersonation_kubeconfig(f"system:serviceaccount:{namespace}:{sa}")
    denied = plane.kubectl("delete", "configmap", "visible", "-n", namespace, kubeconfig=as_config, check=False)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()


# --------------------------------------------------------------------------- CRD validation


def _crd() -> dict[str, Any]:
    # Read, never skip: a missing CRD is a failure of the build (`make crd`), not a reason to pass.
    assert CRD_FILE.is_file(), f"{CRD_FILE.relative_to(REPO_ROOT)} is missing; generate it with `make crd`"
    crd: dict[str, Any] = yaml.safe_load(CRD_FILE.read_text())
    assert crd["kind"] == "CustomResourceDefinition"
    return crd


def _spec_schema(crd: dict[str, Any]) -> dict[str, Any]:
    version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
    return dict(version["schema"]["openAPIV3Schema"]["properties"]["spec"])


@pytest.fixture(scope="module")
def crd_applied(plane: Plane) -> dict[str, Any]:
    crd = _crd()
    plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
    plane.kubectl("wait", "--for=condition=Established", f"crd/{crd['metadata']['name']}", "--timeout=60s")
    return crd


def _msvc(namespace: str, spec: dict[str, Any], name: str = "order-service") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "otelwire.io/v1alpha1",
            "kind": "MonitoredService",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
    )


@pytest.mark.controlplane
def test_crd_accepts_a_valid_monitoredservice(plane: Plane, crd_applied: dict[str, Any], namespace: str) -> None:
    spec = {
        "serviceName": "order-service",
        "selector": {"matchLabels": {"app": "order-service"}},
        "tracing": {"exporter": "otlp", "propagators": ["tracecontext", "baggage"]},
        "aliases": ["order_service"],
    }
    plane.kubectl("create", "-f", "-", input=_msvc(namespace, spec))
    stored = plane.kubectl_json("get", "msvc", "order-service", "-n", namespace)
    assert stored["spec"]["serviceName"] == "order-service"


@pytest.mark.controlplane
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"tracing": {"exporter": "zipkin"}}, 'Unsupported value: "zipkin"', id="enum"),
        pytest.param({"serviceName": "$(FOO)"}, "spec.serviceName: Invalid value", id="pattern"),
    ],
)
def test_crd_schema_rejects(
    plane: Plane, crd_applied: dict[str, Any], namespace: str, spec: dict[str, Any], expected: str
) -> None:
    result = plane.kubectl("create", "-f", "-", input=_msvc(namespace, spec), check=False)
    assert result.returncode != 0, f"the API server accepted an invalid spec: {spec}"
    assert expected in result.stderr
    if "serviceName" in spec:
        assert "should match" in result.stderr


@pytest.mark.controlplane
def test_crd_cel_rule_rejects_alias_equal_to_service_name(
    plane: Plane, crd_applied: dict[str, Any], namespace: str
) -> None:
    # The spec-level x-kubernetes-validations rule about aliases; its message is read
    # from the CRD, so rewording it there does not break this test.
    rules = _spec_schema(crd_applied).get("x-kubernetes-validations", [])
    rule = next((r for r in rules if r.get("fieldPath") == ".aliases"), None)
    assert rule is not None, f"no CEL rule with fieldPath .aliases in {CRD_FILE.name}: {rules}"
    spec = {"serviceName": "order-service", "aliases": ["order_service", "order-service"]}
    result = plane.kubectl("create", "-f", "-", input=_msvc(namespace, spec), check=False)
    assert result.returncode != 0, "the API server accepted aliases that contain serviceName"
    assert rule["message"] in " ".join(result.stderr.split())
    assert "spec.aliases" in result.stderr


def _endpoint_slice(name: str, namespace: str, address: str) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": namespace, "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "ports": [{"name": "https", "port": 9443, "protocol": "TCP"}],
            "endpoints": [{"addresses": [address], "conditions": {"ready": True}}],
        }
    )


@pytest.mark.controlplane
def test_plane_routes_only_to_test_hosts(plane: Plane, namespace: str) -> None:
    """The API server calls a Service's webhook at an EndpointSlice address (endpoint routing), so
    the local plane admits only endpoints in its test-host subnet: nothing it dials leaves the machine."""
    if not isinstance(plane, LocalPlane):
        pytest.skip("the endpoint guard is part of the local plane only")
    inside = str(list(plane.host_subnet.hosts())[9])
    for address in ("10.0.0.7", "192.168.1.10", "8.8.8.8"):  # kwok's pod IPs, a LAN, the internet
        refused = plane.kubectl(
            "create", "-f", "-", input=_endpoint_slice(_unique("out"), namespace, address), check=False
        )
        assert refused.returncode != 0, address
        assert "routes only to test hosts" in refused.stderr, refused.stderr
    plane.kubectl("create", "-f", "-", input=_endpoint_slice(_unique("in"), namespace, inside))
    apiservice = {
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": "v1.guard.otelwire.io"},
        "spec": {
            "group": "guard.otelwire.io",
            "version": "v1",
            "service": {"namespace": namespace, "name": "x"},
            "groupPriorityMinimum": 1000,
            "versionPriority": 15,
            "insecureSkipTLSVerify": True,
        },
    }
    refused = plane.kubectl("create", "-f", "-", input=yaml.safe_dump(apiservice), check=False)
    assert refused.returncode != 0 and "aggregated API server" in " ".join(refused.stderr.split())


# --------------------------------------------------------------------------- nodes


@pytest.mark.nodes
def test_deployment_gets_running_pods_on_kwok_nodes(plane_nodes: Plane, namespace: str) -> None:
    plane = plane_nodes
    labels = {"app": "smoke"}
    plane.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "smoke", "namespace": namespace},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]},
                },
            },
        }
    )
    plane.kubectl(
        "wait", "--for=condition=Available", "deployment/smoke", "-n", namespace, "--timeout=180s", timeout=210
    )
    replicasets = plane.kubectl_json("get", "replicasets", "-n", namespace, "-l", "app=smoke")["items"]
    assert len(replicasets) == 1
    assert replicasets[0]["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
    plane.kubectl(
        "wait",
        "--for=jsonpath={.status.phase}=Running",
        "pods",
        "-l",
        "app=smoke",
        "-n",
        namespace,
        "--timeout=60s",
        timeout=90,
    )
    pods = plane.kubectl_json("get", "pods", "-n", namespace, "-l", "app=smoke")["items"]
    assert len(pods) == 2
    assert {pod["spec"]["nodeName"] for pod in pods} <= set(plane.nodes)


@pytest.mark.nodes
def test_daemonset_is_scheduled_on_every_fake_node(plane_nodes: Plane, namespace: str) -> None:
    plane = plane_nodes
    labels = {"app": "smoke-ds"}
    plane.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "smoke-ds", "namespace": namespace},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "agent", "image": "registry.invalid/agent:1"}]},
                },
            },
        }
    )
    plane.kubectl("rollout", "status", "daemonset/smoke-ds", "-n", namespace, "--timeout=180s", timeout=210)
    pods = plane.kubectl_json("get", "pods", "-n", namespace, "-l", "app=smoke-ds")["items"]
    assert {pod["spec"]["nodeName"] for pod in pods} == set(plane.nodes)
    assert all(pod["status"]["phase"] == "Running" for pod in pods)


@pytest.mark.nodes
def test_every_node_holds_a_lease_that_kwok_renews(plane_nodes: Plane) -> None:
    """Without renewed Leases the node lifecycle controller marks every Node, and every Pod on it,
    NotReady 50 s after the last status heartbeat: a rollout started then never finishes."""
    plane = plane_nodes

    def renewals() -> dict[str, str]:
        leases = plane.kubectl_json("get", "leases", "-n", "kube-node-lease")["items"]
        return {lease["metadata"]["name"]: lease["spec"].get("renewTime", "") for lease in leases}

    first = renewals()
    assert set(plane.nodes) <= set(first), f"no Lease for {sorted(set(plane.nodes) - set(first))}"
    deadline = time.monotonic() + 30  # kwok renews every lease duration / 4 = 10 s
    renewed: set[str] = set()
    while time.monotonic() < deadline and renewed != set(plane.nodes):
        time.sleep(1)
        now = renewals()
        renewed = {name for name in plane.nodes if now.get(name, "") > first[name]}
    assert renewed == set(plane.nodes)
    ready = {
        node["metadata"]["name"]
        for node in plane.kubectl_json("get", "nodes")["items"]
        for cond in node["status"]["conditions"]
        if cond["type"] == "Ready" and cond["status"] == "True"
    }
    assert set(plane.nodes) <= ready


# --------------------------------------------------------------------------- teardown


def _assert_all_gone(pids: dict[str, int], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    alive = dict(pids)
    while alive and time.monotonic() < deadline:
        alive = {name: pid for name, pid in alive.items() if pid_alive(pid)}
        time.sleep(0.1)
    assert not alive, f"processes left behind: {alive}"


@pytest.mark.controlplane
def test_stop_leaves_no_process_and_no_files() -> None:
    # etcd + apiserver only (no controller manager): enough to prove the teardown, half the cost.
    plane = LocalPlane(replace(locate_binaries(), kube_controller_manager=None))
    with plane:
        pids = plane.pids()
        assert set(pids) == {"etcd", "kube-apiserver"}
        assert all(pid_alive(pid) for pid in pids.values())
        assert plane.kubectl("get", "--raw", "/readyz").stdout.strip() == "ok"
    _assert_all_gone(pids)
    assert not plane.workdir.exists()


def _child_plane() -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """A plane started by `python tests/plane` in a child process; returns it and its JSON line.

    Its SIGINT is Python's KeyboardInterrupt, as in a terminal, even when this suite runs where
    SIGINT is ignored (a background job of a non-interactive shell, ``nohup``): a child inherits
    the ignoring, and Python then installs no handler of its own.
    """
    interactive = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", interactive, str(PLANE_SCRIPT), "--no-controllers"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        child.kill()
        _, err = child.communicate(timeout=30)
        pytest.fail(f"child plane did not start:\n{err}")
    return child, json.loads(line)


@pytest.mark.controlplane
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_interrupted_owner_takes_its_plane_down(sig: signal.Signals) -> None:
    """Whatever ends the process that owns a plane, etcd and kube-apiserver go with it.

    SIGTERM runs the signal handler, SIGINT the KeyboardInterrupt path (pytest's
    Ctrl-C), and SIGKILL — which no handler sees — relies on PR_SET_PDEATHSIG.
    """
    child, info = _child_plane()
    try:
        pids: dict[str, int] = info["pids"]
        assert set(pids) == {"etcd", "kube-apiserver"}
        assert all(pid_alive(pid) for pid in pids.values())
        child.send_signal(sig)
        child.wait(timeout=60)
        _assert_all_gone(pids)
        if sig != signal.SIGKILL:  # a killed owner cannot clean its folder
            assert not Path(info["workdir"]).exists()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        subprocess.run(["rm", "-rf", info["workdir"]], check=False)


@pytest.mark.controlplane
def test_failed_then_interrupted_pytest_session_leaves_nothing(tmp_path: Path) -> None:
    """A child pytest whose first test fails and whose second is SIGTERMed (CI's time-out)."""
    probe = tmp_path / "probe.json"
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(PROBE_TESTS)],
        cwd=REPO_ROOT,
        env={**os.environ, "OTELWIRE_PLANE_PROBE_FILE": str(probe), "OTELWIRE_PLANE_KEEP": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        info: dict[str, Any] = {}
        while time.monotonic() < deadline and child.poll() is None:
            if probe.exists():
                info = json.loads(probe.read_text() or "{}")
                if info.get("state") == "waiting":
                    break
            time.sleep(0.2)
        assert info.get("state") == "waiting", f"child pytest never reached the waiting test: {info}"
        pids: dict[str, int] = info["pids"]
        assert all(pid_alive(pid) for pid in pids.values()), "the plane died before the signal"
        child.send_signal(signal.SIGTERM)
        output, _ = child.communicate(timeout=90)
        _assert_all_gone(pids)
        assert not Path(info["workdir"]).exists()
        assert child.returncode != 0
        assert "1 failed" in output, output
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


@pytest.mark.controlplane
def test_a_failed_rollout_status_says_what_the_namespace_holds(plane: Plane, namespace: str) -> None:
    """A rollout that times out in a test prints the namespace's pods, ReplicaSets and events."""
    with pytest.raises(KubectlError) as failed:
        plane.kubectl("rollout", "status", "deployment/absent", "-n", namespace, "--timeout=2s")
    message = str(failed.value)
    assert f"kubectl get pods,replicasets -o wide -n {namespace}" in message
    assert f"kubectl get events --sort-by=.lastTimestamp -n {namespace}" in message
