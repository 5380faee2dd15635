"""otelwire's requests without the ``kubernetes`` package, against the real API server.

The admin kubeconfig (a client certificate), a service account's bound token as a
pod has it mounted, and the fallback for a kubeconfig that needs a plugin.
"""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
import textwrap
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from otelwire.handlers.connection import HttpTransport, in_cluster
from otelwire.handlers.kube import ClientTransport, Kube, KubeError, connect
from plane import Plane


def test_the_operators_requests_with_the_admin_kubeconfig_import_no_kubernetes(plane: Plane) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from otelwire.cli.run import import_operator
        import_operator()  # as ``otelwire run`` does: kopf imported without the kubernetes client
        from otelwire.handlers.kube import Kube, connect
        kube = Kube(connect({str(plane.kubeconfig)!r}))
        print(kube.get("/api/v1/namespaces/default")["metadata"]["name"], type(kube.transport).__name__)
        print(sorted({{name.split(".")[0] for name in sys.modules}} & {{"kubernetes", "requests"}}))
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["default HttpTransport", "[]"]


def test_concurrent_reconciles_share_kept_alive_connections(plane: Plane, caplog: pytest.LogCaptureFixture) -> None:
    """kopf's handler threads and the re-assessment threads (12) at once: no connection is
    closed for want of room in the pool, which urllib3 would log as a warning each time."""
    kube = Kube(connect(str(plane.kubeconfig)))
    with caplog.at_level(logging.WARNING, logger="urllib3"), ThreadPoolExecutor(12) as threads:
        names = set(threads.map(lambda _: kube.get("/api/v1/namespaces/default")["metadata"]["name"], range(240)))
    assert names == {"default"}
    assert [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()] == []


def test_in_a_pod_the_mounted_token_is_who_otelwire_is(plane: Plane, tmp_path: Path) -> None:
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
    env = {"KUBERNETES_SERVICE_HOST": str(server.hostname), "KUBERNETES_SERVICE_PORT": str(server.port)}
    found = in_cluster(env, mounted)
    assert found is not None and found.info.default_namespace == namespace
    kube = Kube(HttpTransport(found), attempts=1)
    with pytest.raises(KubeError) as denied:  # authenticated (not 401) as the account, which may not list
        kube.get(f"/api/v1/namespaces/{namespace}/secrets")
    assert denied.value.status == 403
    assert f"system:serviceaccount:{namespace}:{account}" in str(denied.value)
    (mounted / "token").write_text("rotated-but-wrong")  # read again for each request
    with pytest.raises(KubeError) as refused:
        kube.get(f"/api/v1/namespaces/{namespace}/secrets")
    assert refused.value.status == 401


def test_a_kubeconfig_with_an_exec_plugin_goes_through_the_kubernetes_client(plane: Plane, tmp_path: Path) -> None:
    config = yaml.safe_load(plane.kubeconfig.read_text())
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
    kube = Kube(connect(str(path)), attempts=1)
    assert isinstance(kube.transport, ClientTransport)
    with pytest.raises(KubeError) as denied:  # the plugin's token: the default account may not list
        kube.get("/api/v1/namespaces/default/secrets")
    assert "system:serviceaccount:default:default" in str(denied.value)
