"""An existing cluster instead of a local plane (``OTELWIRE_E2E_KUBECONFIG``), and the choice between the two."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Final

from plane.base import NODE_COUNT, Plane
from plane.binaries import locate_binaries
from plane.errors import PlaneError
from plane.local import LocalPlane

ENV_EXTERNAL: Final = "OTELWIRE_E2E_KUBECONFIG"


class ExternalPlane(Plane):
    """An existing cluster (kind, a CI cluster) named by ``OTELWIRE_E2E_KUBECONFIG``; starts nothing."""

    def __init__(self, kubeconfig: Path, kubectl: Path | None = None) -> None:
        if not kubeconfig.is_file():
            raise PlaneError(f"{ENV_EXTERNAL}={kubeconfig}: no such file")
        self.kubeconfig = kubeconfig
        self.kubectl_path = kubectl or _external_kubectl()
        self.bin_dir = self.kubectl_path.parent
        self.workdir = Path(tempfile.mkdtemp(prefix="otelwire-external-"))
        self.server, _ = self._admin_cluster()
        self.version = self.kubectl_json("version")["serverVersion"]["gitVersion"]
        self.nodes = []

    def start_nodes(self, count: int = NODE_COUNT) -> list[str]:
        """The cluster's Ready nodes; it must have at least one."""
        items = self.kubectl_json("get", "nodes")["items"]
        self.nodes = [
            item["metadata"]["name"]
            for item in items
            if any(c["type"] == "Ready" and c["status"] == "True" for c in item["status"].get("conditions", []))
        ]
        if not self.nodes:
            raise PlaneError(f"{ENV_EXTERNAL}: the cluster has no Ready node")
        return self.nodes

    def stop(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def _external_kubectl() -> Path:
    """kubectl for an external cluster: the one built here, else envtest's, else PATH's."""
    with contextlib.suppress(PlaneError, KeyError, OSError):
        return locate_binaries().kubectl
    found = shutil.which("kubectl")
    if found is None:
        raise PlaneError("no kubectl: run `make controlplane` or put kubectl on PATH")
    return Path(found)


def plane_from_environment() -> Plane:
    """The plane the environment asks for: an existing cluster or a freshly started local one."""
    external = os.environ.get(ENV_EXTERNAL, "").strip()
    if external:
        return ExternalPlane(Path(external).expanduser())
    return LocalPlane().start()
