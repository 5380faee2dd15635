"""Credentials without the ``kubernetes`` package (``handlers/connection.py``): kubeconfigs and in-cluster."""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from otelwire.handlers.connection import ConfigError, NeedsClient, find, from_kubeconfig, in_cluster

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def kubeconfig(
    path: Path,
    user: dict[str, Any],
    *,
    cluster: dict[str, Any] | None = None,
    current: str | None = "dev",
    namespace: str | None = None,
    name: str = "dev",
) -> Path:
    context: dict[str, Any] = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster or {"server": f"https://{name}.example:6443/"}}],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": context}],
    }
    if current:
        config["current-context"] = current
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(
    ("user", "headers"),
    [
        ({"token": "abc"}, {"Authorization": "Bearer abc"}),
        ({"username": "ann", "password": "pw"}, {"Authorization": "Basic " + base64.b64encode(b"ann:pw").decode()}),
        ({}, {}),  # a client certificate, or no credentials at all: no header
    ],
)
def test_a_users_credentials_become_its_headers(tmp_path: Path, user: dict[str, Any], headers: dict[str, str]) -> None:
    found = from_kubeconfig(str(kubeconfig(tmp_path / "config", user, namespace="shop")))
    assert found.info.server == "https://dev.example:6443"  # no trailing slash: paths are appended
    assert found.info.default_namespace == "shop"
    assert found.headers() == headers


def test_file_names_are_relative_to_the_kubeconfig_that_names_them(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    path = kubeconfig(
        tmp_path / "config",
        {"client-certificate": "certs/me.crt", "client-key": "/abs/me.key"},
        cluster={"server": "https://x:6443", "certificate-authority": "certs/ca.crt"},
    )
    info = from_kubeconfig(str(path)).info
    assert info.ca_path == str(tmp_path / "certs" / "ca.crt")
    assert info.certificate_path == str(tmp_path / "certs" / "me.crt")
    assert info.private_key_path == "/abs/me.key"


def test_a_token_file_is_read_for_every_request(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    found = from_kubeconfig(str(kubeconfig(tmp_path / "config", {"tokenFile": "token", "token": "ignored"})))
    assert found.headers() == {"Authorization": "Bearer first"}
    token.write_text("rotated")
    assert found.headers() == {"Authorization": "Bearer rotated"}
    assert found.current().token == "rotated"  # what kopf gets when it logs in again


@pytest.mark.parametrize(
    "user",
    [
        {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "aws"}},
        {"auth-provider": {"name": "oidc", "config": {"id-token": "x"}}},
        {"token": "abc", "as": "system:serviceaccount:shop:app", "as-groups": ["g"]},
    ],
)
def test_a_user_with_a_plugin_is_left_to_the_kubernetes_client(tmp_path: Path, user: dict[str, Any]) -> None:
    path = str(kubeconfig(tmp_path / "config", user))
    with pytest.raises(NeedsClient):
        from_kubeconfig(path)
    assert find(path) is None


def test_kubeconfig_files_merge_as_kubectl_merges_them(tmp_path: Path) -> None:
    first = kubeconfig(tmp_path / "a", {"token": "from-a"}, name="dev")
    second = kubeconfig(tmp_path / "b", {"token": "from-b"}, name="dev", current="other")
    listed = os.pathsep.join([str(first), str(tmp_path / "absent"), str(second)])
    assert from_kubeconfig(None, {"KUBECONFIG": listed}).headers() == {"Authorization": "Bearer from-a"}
    assert from_kubeconfig(listed).headers() == {"Authorization": "Bearer from-a"}
    no_current = kubeconfig(tmp_path / "c", {"token": "from-c"}, name="dev", current=None)
    merged = os.pathsep.join([str(no_current), str(second)])  # the current context may come from a later file
    with pytest.raises(ConfigError, match="context 'other'"):
        from_kubeconfig(merged)


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (None, "does not exist"),
        ("clusters: []\n", "no current-context"),
        ("- a list\n", "not a mapping"),
        ("current-context: [\n", "kubeconfig"),
        ("current-context: dev\ncontexts: [{name: dev, context: {cluster: gone, user: u}}]\n", "cluster 'gone'"),
        (
            "current-context: dev\ncontexts: [{name: dev, context: {cluster: c}}]\nclusters: [{name: c, cluster: {}}]\n",
            "has no server",
        ),
        (
            "current-context: dev\ncontexts: [{name: dev, context: {cluster: c}}]\n"
            "clusters: [{name: c, cluster: {server: 'https://x', certificate-authority: /ca, "
            "certificate-authority-data: QQ==}}]\n",
            "Both CA path & data",
        ),
    ],
)
def test_an_unusable_kubeconfig_says_why(tmp_path: Path, write: str | None, message: str) -> None:
    path = tmp_path / "config"
    if write is not None:
        path.write_text(write)
    with pytest.raises(ConfigError, match=message):
        from_kubeconfig(str(path))


def _service_account(root: Path, namespace: str | None = "otelwire-system") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "token").write_text("sa-token")
    (root / "ca.crt").write_text(CA)
    if namespace:
        (root / "namespace").write_text(namespace)
    return root


@pytest.mark.parametrize(
    ("host", "server"),
    [("10.96.0.1", "https://10.96.0.1:443"), ("fd00::1", "https://[fd00::1]:443")],
)
def test_in_a_pod_the_service_account_and_the_kubelets_address(tmp_path: Path, host: str, server: str) -> None:
    root = _service_account(tmp_path / "sa")
    found = in_cluster({"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": "443"}, root)
    assert found is not None
    assert found.info.server == server
    assert found.info.ca_path == str(root / "ca.crt")
    assert found.info.default_namespace == "otelwire-system"
    assert found.headers() == {"Authorization": "Bearer sa-token"}


@pytest.mark.parametrize(
    ("environ", "token"),
    [
        ({}, True),  # not in a pod: no service host
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, True),  # no port
        ({"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}, False),  # no token mounted
    ],
)
def test_outside_a_pod_no_in_cluster_connection(tmp_path: Path, environ: dict[str, str], token: bool) -> None:
    root = _service_account(tmp_path / "sa") if token else tmp_path / "empty"
    assert in_cluster(environ, root) is None


def test_a_named_kubeconfig_comes_before_the_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setattr("otelwire.handlers.connection.SERVICE_ACCOUNT", _service_account(tmp_path / "sa"))
    path = str(kubeconfig(tmp_path / "config", {"token": "mine"}))
    named = find(path)
    assert named is not None and named.headers() == {"Authorization": "Bearer mine"}
    pod = find(None)
    assert pod is not None and pod.headers() == {"Authorization": "Bearer sa-token"}
