"""What every plane offers a test, local or external: kubectl, apply, namespaces, kubeconfigs for RBAC tests."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from plane.binaries import REPO_ROOT
from plane.errors import KubectlError
from plane.kubeconfig import write_kubeconfig
from plane.processes import wait_until

NODE_COUNT: Final = 3


class Plane:
    """What tests get: a kubeconfig, the server URL and a kubectl that matches the server.

    Subclasses: :class:`LocalPlane` (started here) and :class:`ExternalPlane` (an existing
    cluster). Both offer the same helpers for RBAC tests.
    """

    kubeconfig: Path
    server: str
    bin_dir: Path
    version: str
    kubectl_path: Path
    workdir: Path
    nodes: list[str]

    def kubectl_env(self) -> dict[str, str]:
        return dict(os.environ)

    def kubectl(
        self,
        *args: str,
        input: str | None = None,  # the name subprocess.run uses
        check: bool = True,
        timeout: float = 120.0,
        kubeconfig: Path | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run this plane's kubectl against it; raise KubectlError (with stderr) on failure if ``check``.

        ``cwd``: where relative paths (``-f``, ``-k``) are read from (default: the repository).
        """
        argv = [str(self.kubectl_path), f"--kubeconfig={kubeconfig or self.kubeconfig}", *args]
        result = subprocess.run(
            argv,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.kubectl_env(),
            cwd=cwd or REPO_ROOT,
        )
        if check and result.returncode != 0:
            stdout = result.stdout
            if args[:2] == ("rollout", "status"):  # a timeout says nothing of why: say what the cluster saw
                stdout += self._namespace_state(args, kubeconfig)
            raise KubectlError(result.returncode, argv, stdout, result.stderr)
        return result

    def _namespace_state(self, args: Sequence[str], kubeconfig: Path | None) -> str:
        """Pods, ReplicaSets and events of the namespace ``args`` name (``-n``), for a failure message."""
        namespace = next((args[i + 1] for i, arg in enumerate(args[:-1]) if arg in ("-n", "--namespace")), "default")
        parts = []
        for what in (("get", "pods,replicasets", "-o", "wide"), ("get", "events", "--sort-by=.lastTimestamp")):
            try:
                found = self.kubectl(*what, "-n", namespace, check=False, timeout=30, kubeconfig=kubeconfig)
                parts.append(f"\n--- kubectl {' '.join(what)} -n {namespace}:\n{found.stdout}{found.stderr}")
            except subprocess.TimeoutExpired:
                parts.append(f"\n--- kubectl {' '.join(what)} -n {namespace}: timed out")
        return "".join(parts)

    def kubectl_json(self, *args: str) -> Any:
        """``kubectl ... -o json``, parsed."""
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def apply(self, manifest: str | Mapping[str, Any] | Sequence[Mapping[str, Any]], *args: str) -> str:
        """``kubectl apply -f -`` of YAML text or of objects; returns kubectl's stdout."""
        if isinstance(manifest, str):
            text = manifest
        elif isinstance(manifest, Mapping):
            text = yaml.safe_dump(dict(manifest))
        else:
            text = yaml.safe_dump_all([dict(obj) for obj in manifest])
        return self.kubectl("apply", "-f", "-", *args, input=text).stdout

    def create_namespace(self, name: str, labels: Mapping[str, str] | None = None, timeout: float = 60.0) -> str:
        """Create a namespace and wait for its ``default`` ServiceAccount (pods need it).

        Without a controller manager (envtest binaries only) the ServiceAccount is
        created here, as the serviceaccount controller would.
        """
        self.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(labels or {})}})
        if not self.has_serviceaccount_controller():
            sa = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}}
            self.apply(sa)
        wait_until(
            f"serviceaccount {name}/default",
            lambda: self.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode == 0,
            timeout,
        )
        return name

    def has_serviceaccount_controller(self) -> bool:
        """Whether a controller manager creates each namespace's ``default`` ServiceAccount."""
        return True

    def _admin_cluster(self) -> tuple[str, bytes]:
        """(server, CA PEM) from the admin kubeconfig's current context."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        context_name = config.get("current-context")
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        if "certificate-authority-data" in cluster:
            ca = base64.b64decode(cluster["certificate-authority-data"])
        else:
            ca = Path(cluster["certificate-authority"]).read_bytes()
        return cluster["server"], ca

    def _admin_user(self) -> dict[str, Any]:
        config = yaml.safe_load(self.kubeconfig.read_text())
        context_name = config.get("current-context")
        context = next(c["context"] for c in config["contexts"] if c["name"] == context_name)
        return dict(next(u["user"] for u in config["users"] if u["name"] == context["user"]))

    def serviceaccount_kubeconfig(
        self, namespace: str, name: str, path: Path | None = None, duration: str = "1h"
    ) -> Path:
        """A kubeconfig that authenticates as ServiceAccount ``namespace/name`` with a bound token.

        For RBAC tests: what the operator can do when it runs under that account.
        """
        token = self.kubectl("create", "token", name, "-n", namespace, f"--duration={duration}").stdout.strip()
        server, ca = self._admin_cluster()
        target = path or self.workdir / f"kubeconfig-sa-{namespace}-{name}"
        return write_kubeconfig(target, server, ca, {"token": token}, name=f"sa-{namespace}-{name}")

    def impersonation_kubeconfig(self, user: str, groups: Sequence[str] = (), path: Path | None = None) -> Path:
        """A kubeconfig that uses the admin credentials to impersonate ``user`` (and ``groups``).

        ``system:serviceaccount:ns:sa`` impersonates a ServiceAccount without a token.
        """
        creds = self._admin_user()
        creds["as"] = user
        if groups:
            creds["as-groups"] = list(groups)
        server, ca = self._admin_cluster()
        safe = user.replace(":", "_").replace("/", "_")
        target = path or self.workdir / f"kubeconfig-as-{safe}"
        return write_kubeconfig(target, server, ca, creds, name=f"as-{safe}")

    def start_nodes(self, count: int = NODE_COUNT) -> list[str]:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError
