"""The shipped manifests and Dockerfiles, checked structurally.

No image can be built on these machines, so the Dockerfiles are linted for the
properties that matter (pinned bases, non-root, exec-form entrypoint); the
kustomize base is rendered with the kubectl built for the test plane and its
security posture asserted; the webhook configuration must equal what
``otelwire.webhook.registering`` generates.

The kustomize tests are marked ``binaries`` (they need ``make controlplane``'s kubectl), so
``make unit`` leaves them out; ``make test`` runs them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from otelwire.options import CHRONY_NAMESPACE, OPERATOR_NAMESPACE
from otelwire.webhook import registering
from plane import locate_binaries

ROOT = Path(__file__).resolve().parents[2]


def _instructions(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text().replace("\\\n", " ").splitlines()
    out = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "images/chrony/Dockerfile"])
def test_dockerfiles_pin_their_bases_and_use_exec_form(dockerfile: str) -> None:
    instructions = _instructions(ROOT / dockerfile)
    stages = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert stages
    for base in stages:
        image = base.split()[0]
        assert ":" in image and not image.endswith(":latest"), f"unpinned base {image}"
        assert re.search(r":\d+(\.\d+)+", image), f"base {image} is not pinned to a version"
    assert not any(k == "ADD" and "://" in rest for k, rest in instructions), "ADD from a URL"
    entrypoints = [rest for keyword, rest in instructions if keyword == "ENTRYPOINT"]
    assert entrypoints and all(e.startswith("[") for e in entrypoints), "ENTRYPOINT must be exec form"


def test_the_operator_image_runs_as_non_root_and_ships_no_build_tools() -> None:
    instructions = _instructions(ROOT / "Dockerfile")
    final_stage = instructions[max(i for i, (k, _) in enumerate(instructions) if k == "FROM") :]
    users = [rest for keyword, rest in final_stage if keyword == "USER"]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert not any(k == "RUN" and ("pip install" in rest or "apt-get" in rest) for k, rest in final_stage)
    assert any(k == "COPY" and "--from=build" in rest for k, rest in final_stage)


def _kustomize(path: str) -> list[dict[str, Any]]:
    kubectl = locate_binaries().kubectl
    out = subprocess.run([str(kubectl), "kustomize", str(ROOT / path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.mark.binaries  # the plane's kubectl (make controlplane)
def test_the_default_base_installs_everything() -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in _kustomize("manifests/default")}
    for expected in [
        ("Namespace", "otelwire-system"),
        ("Namespace", "otelwire-chrony"),
        ("CustomResourceDefinition", "monitoredservices.otelwire.io"),
        ("ServiceAccount", "otelwire"),
        ("ClusterRole", "otelwire"),
        ("ClusterRoleBinding", "otelwire"),
        ("Role", "otelwire"),
        ("Deployment", "otelwire"),
        ("Service", "otelwire-webhook"),
        ("Service", "otelwire-metrics"),
        ("MutatingWebhookConfiguration", "otelwire"),
        ("PodDisruptionBudget", "otelwire"),
        ("Certificate", "otelwire-webhook"),
    ]:
        assert expected in kinds, f"{expected} missing from manifests/default"


@pytest.mark.binaries  # the plane's kubectl (make controlplane)
def test_the_operator_deployment_is_locked_down() -> None:
    (deployment,) = [d for d in _kustomize("manifests/default") if d["kind"] == "Deployment"]
    spec = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2
    assert "--peering=otelwire" in spec["containers"][0]["args"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = spec["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert container["livenessProbe"] and container["readinessProbe"]


@pytest.mark.binaries  # the plane's kubectl (make controlplane)
def test_each_namespace_gets_the_pod_security_level_it_needs() -> None:
    """The operator's namespace stays restricted; chrony's CAP_SYS_TIME is admitted only at privileged."""
    docs = _kustomize("manifests/default")
    levels = {
        d["metadata"]["name"]: d["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        for d in docs
        if d["kind"] == "Namespace"
    }
    assert levels == {OPERATOR_NAMESPACE: "restricted", CHRONY_NAMESPACE: "privileged"}
    chrony_objects = [d for d in docs if d["metadata"].get("namespace") == CHRONY_NAMESPACE]
    assert {(d["kind"], d["metadata"]["name"]) for d in chrony_objects} == {
        ("Role", "otelwire"),
        ("RoleBinding", "otelwire"),
    }
    (binding,) = [d for d in chrony_objects if d["kind"] == "RoleBinding"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "otelwire", "namespace": OPERATOR_NAMESPACE}]
    # Nothing else may land in the privileged namespace, nor anything of the operator outside its own.
    namespaced = {d["metadata"]["namespace"] for d in docs if "namespace" in d["metadata"]}
    assert namespaced == {OPERATOR_NAMESPACE, CHRONY_NAMESPACE}


@pytest.mark.binaries  # the plane's kubectl (make controlplane)
def test_rbac_has_no_wildcards_secrets_or_exec() -> None:
    roles = [
        d for d in _kustomize("manifests/rbac") + _kustomize("manifests/chrony") if d["kind"] in ("ClusterRole", "Role")
    ]
    for role in roles:
        for rule in role["rules"]:
            assert "*" not in rule["verbs"] and "*" not in rule["resources"] and "*" not in rule.get("apiGroups", [])
            assert "secrets" not in rule["resources"]
            assert not any(r.startswith("pods/") for r in rule["resources"])
            if "pods" in rule["resources"]:
                assert not set(rule["verbs"]) & {"create", "update", "patch", "delete"}


def test_the_shipped_webhook_configuration_is_the_generated_one() -> None:
    shipped = yaml.safe_load((ROOT / "manifests" / "operator" / "webhook.yaml").read_text())
    assert shipped == registering.in_cluster_manifest(), (
        "run: python -m otelwire.webhook.registering > manifests/operator/webhook.yaml"
    )
    (hook,) = shipped["webhooks"]
    assert hook["failurePolicy"] == "Ignore"
    assert hook["sideEffects"] == "None"
    assert hook["reinvocationPolicy"] == "IfNeeded"
    assert hook["timeoutSeconds"] <= 10
    assert {"kube-system", "otelwire-system"} <= set(hook["namespaceSelector"]["matchExpressions"][0]["values"])
