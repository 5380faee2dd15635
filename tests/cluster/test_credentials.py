"""Who otelwire is to the real API server: one configuration, for its own client and kopf's session alike.

The admin kubeconfig (a client certificate), a service account's bound token as a
pod has it mounted, an exec credential plugin, and ``tls-server-name`` -- each
through ``kube.config`` into both the client otelwire's requests use and the
aiohttp session kopf gets (``handlers.login``).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.config import incluster_config
from otelwire.handlers.login import session
from otelwire.kube import config as kube_config
from otelwire.kube.client import Kube, KubeError, connect
from otelwire.kube.config import load
from otelwire.options import Options
from plane import Plane


def _who(plane: Plane, kubeconfig: Path) -> tuple[str, str]:
    """(otelwire's client, kopf's session): the user each is, by a SelfSubjectReview."""
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    path = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
    mine = connect(str(kubeconfig), attempts=1).request("POST", path, review)["status"]["userInfo"]["username"]

    async def kopfs() -> str:
        found = session(load(str(kubeconfig)), Options())
        client = found.aiohttp_session
        try:
            async with client.post(f"{found.server}{path}", json=review) as response:
                return str((await response.json())["status"]["userInfo"]["username"])
        finally:
            await client.close()

    return str(mine), asyncio.run(kopfs())


def test_the_admin_kubeconfig_is_one_identity_for_otelwire_and_kopf(plane: Plane) -> None:
    assert _who(plane, plane.kubeconfig) == ("otelwire-test-admin", "otelwire-test-admin")


def test_concurrent_reconciles_share_kept_alive_connections(plane: Plane, caplog: pytest.LogCaptureFixture) -> None:
    """kopf's handler threads and the re-assessment threads (12) at once: no connection is
    closed for want of room in the pool, which urllib3 would log as a warning each time."""
    kube = connect(str(plane.kubeconfig))
    with caplog.at_level(logging.WARNING, logger="urllib3"), ThreadPoolExecutor(12) as threads:
        names = set(threads.map(lambda _: kube.get("/api/v1/namespaces/default")["metadata"]["name"], range(240)))
    assert names == {"default"}
    assert [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()] == []


def test_in_a_pod_the_mounted_token_is_who_otelwire_is(
    plane: Plane, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace, account = "credentials-test", "operator"
    plane.kubectl("create", "namespace", namespace, check=False)
    plane.kubectl("create", "serviceaccount", account, "-n", namespace, check=False)
    config = yaml.safe_load(plane.serviceaccount_kubeconfig(namespace, account).read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    mounted = tmp_path / "serviceaccount"  # what the kubelet mounts into a pod
    mounted.mkdir()
    (mounted / "token").write_text(user["token"])
    (mounted / "namespace").write_text(namespace)
    (mounted / "ca.crt").write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    server = urllib.parse.urlsplit(cluster["server"])
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", str(server.hostname))
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
    monkeypatch.setattr(kube_config, "SERVICE_ACCOUNT", mounted)
    monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(mounted / "token"))
    monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(mounted / "ca.crt"))
    found = load()
    assert found.source == "in-cluster" and found.default_namespace == namespace
    kube = Kube(found.api_client(), attempts=1)
    with pytest.raises(KubeError) as denied:  # authenticated (not 401) as the account, which may not list
        kube.get(f"/api/v1/namespaces/{namespace}/secrets")
    assert denied.value.status == 403
    assert f"system:serviceaccount:{namespace}:{account}" in str(denied.value)
    (mounted / "token").write_text("not-a-token")
    with pytest.raises(KubeError) as refused:
        Kube(load().api_client(), attempts=1).get(f"/api/v1/namespaces/{namespace}/secrets")
    assert refused.value.status == 401


def _plugin(plane: Plane, tmp_path: Path) -> Path:
    """The admin kubeconfig with its user replaced by an exec plugin that prints a bound token."""
    config: dict[str, Any] = yaml.safe_load(plane.kubeconfig.read_text())
    token = yaml.safe_load(plane.serviceaccount_kubeconfig("default", "default").read_text())["users"][0]["user"]
    plugin = tmp_path / "credential-plugin"
    plugin.write_text(
        "#!/bin/sh\n"
        'echo \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'
        f'"status":{{"token":"{token["token"]}"}}}}\'\n'
    )
    plugin.chmod(0o755)
    config["users"] = [
        {
            "name": user["name"],
            "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}},
        }
        for user in config["users"]
    ]
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_an_exec_plugin_is_who_otelwire_and_kopf_are(plane: Plane, tmp_path: Path) -> None:
    assert _who(plane, _plugin(plane, tmp_path)) == ("system:serviceaccount:default:default",) * 2


def _named(plane: Plane, tmp_path: Path, server_name: str) -> Path:
    """The admin kubeconfig with ``tls-server-name``: the certificate is checked against that name."""
    config: dict[str, Any] = yaml.safe_load(plane.kubeconfig.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["tls-server-name"] = server_name
    path = tmp_path / f"kubeconfig-{server_name}"
    path.write_text(yaml.safe_dump(config))
    return path


def test_tls_server_name_is_honoured_by_otelwire_and_kopf(plane: Plane, tmp_path: Path) -> None:
    # The API server's certificate names kubernetes.default.svc: reached at 127.0.0.1 with that name, both
    # connect; with a name the certificate does not carry, both refuse the server.
    assert _who(plane, _named(plane, tmp_path, "kubernetes.default.svc"))[0] == "otelwire-test-admin"
    assert _who(plane, _named(plane, tmp_path, "kubernetes.default.svc"))[1] == "otelwire-test-admin"
    wrong = _named(plane, tmp_path, "wrong.example")
    with pytest.raises(KubeError, match=r"certificate is not valid for 'wrong\.example'"):
        connect(str(wrong), attempts=1).get("/api/v1/namespaces/default")

    async def kopfs() -> None:
        found = session(load(str(wrong)), Options())
        try:
            async with found.aiohttp_session.get(f"{found.server}/version"):
                pass
        finally:
            await found.aiohttp_session.close()

    with pytest.raises((ssl.SSLError, OSError), match=r"certificate is not valid for 'wrong\.example'"):
        asyncio.run(kopfs())
