"""Where the API server is and who otelwire is (``kube/config.py``): kubeconfigs and in-cluster.

Loaded by the ``kubernetes`` package's own loaders; otelwire's part is kubectl's
rule for the current context of merged files, the refusal of impersonation, and
which source wins.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.config import incluster_config
from otelwire.kube import config as kube_config
from otelwire.kube.config import ApiConfig, ConfigError, in_cluster, load

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


def headers(found: ApiConfig) -> dict[str, str]:
    """The Authorization header the configuration's client sends."""
    configuration = found.refreshed()
    token = configuration.get_api_key_with_prefix("BearerToken")
    if token:
        return {"Authorization": token}
    basic = configuration.get_basic_auth_token() if configuration.username else None
    return {"Authorization": basic} if basic else {}


@pytest.fixture(autouse=True)
def _outside_a_pod(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"token": "abc"}, {"Authorization": "Bearer abc"}),
        ({"username": "ann", "password": "pw"}, {"Authorization": "Basic " + base64.b64encode(b"ann:pw").decode()}),
        ({}, {}),  # a client certificate, or no credentials at all: no header
    ],
)
def test_a_users_credentials_become_its_headers(tmp_path: Path, user: dict[str, Any], expected: dict[str, str]) -> None:
    found = load(str(kubeconfig(tmp_path / "config", user, namespace="shop")))
    assert found.server == "https://dev.example:6443"  # no trailing slash: paths are appended
    assert found.default_namespace == "shop"
    assert headers(found) == expected


def test_file_names_are_relative_to_the_kubeconfig_that_names_them(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    for name in ("ca.crt", "me.crt"):
        (tmp_path / "certs" / name).write_text(CA)
    key = tmp_path / "me.key"
    key.write_text("key")
    path = kubeconfig(
        tmp_path / "config",
        {"client-certificate": "certs/me.crt", "client-key": str(key)},
        cluster={"server": "https://x:6443", "certificate-authority": "certs/ca.crt"},
    )
    configuration = load(str(path)).configuration
    assert configuration.ssl_ca_cert == str(tmp_path / "certs" / "ca.crt")
    assert configuration.cert_file == str(tmp_path / "certs" / "me.crt")
    assert configuration.key_file == str(key)


def test_a_token_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("from-file")
    found = load(str(kubeconfig(tmp_path / "config", {"tokenFile": str(tmp_path / "token")})))
    assert headers(found) == {"Authorization": "Bearer from-file"}


def test_tls_server_name_is_what_the_certificate_is_checked_against(tmp_path: Path) -> None:
    cluster = {"server": "https://10.0.0.1:6443", "tls-server-name": "kubernetes.default.svc"}
    found = load(str(kubeconfig(tmp_path / "config", {"token": "t"}, cluster=cluster)))
    assert found.configuration.tls_server_name == "kubernetes.default.svc"
    pool = found.api_client().rest_client.pool_manager
    assert pool.connection_pool_kw["server_hostname"] == "kubernetes.default.svc"


@pytest.mark.parametrize(
    "user",
    [
        {"token": "abc", "as": "system:serviceaccount:shop:app", "as-groups": ["g"]},
        {"token": "abc", "as-uid": "1234"},
    ],
)
def test_a_user_that_impersonates_another_is_refused_with_a_clear_error(tmp_path: Path, user: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match=r"impersonates another .*use a kubeconfig whose user is the identity"):
        load(str(kubeconfig(tmp_path / "config", user)))


def test_an_exec_plugin_is_run_for_its_token(tmp_path: Path) -> None:
    plugin = tmp_path / "plugin"
    plugin.write_text(
        "#!/bin/sh\n"
        'echo \'{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",'
        ' "status": {"token": "from-plugin"}}\'\n'
    )
    plugin.chmod(0o755)
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}}
    assert headers(load(str(kubeconfig(tmp_path / "config", user)))) == {"Authorization": "Bearer from-plugin"}


def test_kubeconfig_files_merge_as_kubectl_merges_them(tmp_path: Path) -> None:
    """The first file to set current-context wins (the kubernetes package alone would take the last)."""
    first = kubeconfig(tmp_path / "a", {"token": "from-a"}, name="dev")
    second = kubeconfig(tmp_path / "b", {"token": "from-b"}, name="other", current="other")
    listed = os.pathsep.join([str(first), str(tmp_path / "absent"), str(second)])
    assert headers(load(None, {"KUBECONFIG": listed})) == {"Authorization": "Bearer from-a"}
    assert headers(load(listed)) == {"Authorization": "Bearer from-a"}
    no_current = kubeconfig(tmp_path / "c", {"token": "from-c"}, name="dev", current=None)
    merged = os.pathsep.join([str(no_current), str(second)])  # the current context may come from a later file
    assert headers(load(merged)) == {"Authorization": "Bearer from-b"}


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (None, "does not exist"),
        ("clusters: []\n", "no current-context"),
        ("- a list\n", "not a mapping"),
        ("current-context: [\n", "kubeconfig"),
        ("current-context: dev\ncontexts: []\n", "context 'dev', which it does not define"),
        ("current-context: dev\ncontexts: [{name: dev, context: {cluster: gone, user: u}}]\n", "gone"),
    ],
)
def test_an_unusable_kubeconfig_says_why(tmp_path: Path, write: str | None, message: str) -> None:
    path = tmp_path / "config"
    if write is not None:
        path.write_text(write)
    with pytest.raises(ConfigError, match=message):
        load(str(path))


def _service_account(root: Path, namespace: str | None = "otelwire-system") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "token").write_text("sa-token")
    (root / "ca.crt").write_text(CA)
    if namespace:
        (root / "namespace").write_text(namespace)
    return root


def _in_a_pod(monkeypatch: pytest.MonkeyPatch, root: Path, host: str = "10.96.0.1") -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setattr(kube_config, "SERVICE_ACCOUNT", root)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(root / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(root / "ca.crt"))


@pytest.mark.parametrize(
    ("host", "server"),
    [("10.96.0.1", "https://10.96.0.1:443"), ("fd00::1", "https://[fd00::1]:443")],
)
def test_in_a_pod_the_service_account_and_the_kubelets_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, host: str, server: str
) -> None:
    root = _service_account(tmp_path / "sa")
    _in_a_pod(monkeypatch, root, host)
    found = load()
    assert found.source == "in-cluster"
    assert found.server == server
    assert found.configuration.ssl_ca_cert == str(root / "ca.crt")
    assert found.default_namespace == "otelwire-system"
    assert headers(found) == {"Authorization": "bearer sa-token"}


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
    assert not in_cluster(environ, root)


def test_a_named_kubeconfig_comes_before_the_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _in_a_pod(monkeypatch, _service_account(tmp_path / "sa"))
    path = str(kubeconfig(tmp_path / "config", {"token": "mine"}))
    assert headers(load(path)) == {"Authorization": "Bearer mine"}
    assert headers(load(None)) == {"Authorization": "bearer sa-token"}
