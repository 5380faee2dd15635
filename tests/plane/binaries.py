"""Where the plane's binaries are: the pinned versions (versions.env) and the lookup of etcd, kube-apiserver, kubectl.

``KUBEBUILDER_ASSETS`` first (etcd, kube-apiserver and kubectl as setup-envtest lays them
out; the node components are then taken from the local build when it has them), else
``.cache/controlplane/$KUBERNETES_VERSION/bin``, which ``tests/controlplane/build.sh``
(``make controlplane``) fills. Also the repository's paths every other module uses.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from plane.errors import PlaneError

REPO_ROOT: Final = Path(__file__).resolve().parents[2]  # tests/plane/binaries.py -> the repository
CONTROLPLANE_DIR: Final = REPO_ROOT / "tests" / "controlplane"
VERSIONS_FILE: Final = CONTROLPLANE_DIR / "versions.env"

ENV_ASSETS: Final = "KUBEBUILDER_ASSETS"


def read_versions(path: Path = VERSIONS_FILE) -> dict[str, str]:
    """The ``KEY=value`` pins of versions.env, the file build.sh sources."""
    versions: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip().strip("\"'")
    return versions


def cache_dir(versions: Mapping[str, str] | None = None) -> Path:
    """Where build.sh puts this version's binaries and kwok stages."""
    pins = versions if versions is not None else read_versions()
    return REPO_ROOT / ".cache" / "controlplane" / pins["KUBERNETES_VERSION"]


@dataclass(frozen=True)
class Binaries:
    """Paths to the executables a plane runs; the node components may be missing."""

    bin_dir: Path
    version: str
    etcd: Path
    kube_apiserver: Path
    kubectl: Path
    kube_controller_manager: Path | None = None
    kube_scheduler: Path | None = None
    kwok: Path | None = None
    kwok_stages: Path | None = None

    def require_nodes(self) -> tuple[Path, Path, Path, Path]:
        """(controller manager, scheduler, kwok, kwok stages), or a PlaneError saying how to get them."""
        kcm, scheduler, kwok, stages = self.kube_controller_manager, self.kube_scheduler, self.kwok, self.kwok_stages
        if kcm is None or scheduler is None or kwok is None or stages is None:
            named = zip(
                ("kube-controller-manager", "kube-scheduler", "kwok", "kwok-stages.yaml"),
                (kcm, scheduler, kwok, stages),
                strict=True,
            )
            missing = ", ".join(name for name, path in named if path is None)
            raise PlaneError(f"nodes need {missing}: run `make controlplane`")
        return kcm, scheduler, kwok, stages


def _executable(directory: Path, name: str) -> Path | None:
    path = directory / name
    return path if path.is_file() and os.access(path, os.X_OK) else None


def locate_binaries(env: Mapping[str, str] | None = None) -> Binaries:
    """Find the binaries: KUBEBUILDER_ASSETS first, then the local build.

    Raises PlaneError with the command to run when neither has them.
    """
    environ = os.environ if env is None else env
    versions = read_versions()
    built = cache_dir(versions) / "bin"
    stages = cache_dir(versions) / "kwok-stages.yaml"
    assets = environ.get(ENV_ASSETS, "").strip()
    primary = Path(assets) if assets else built
    etcd, apiserver, kubectl = (_executable(primary, name) for name in ("etcd", "kube-apiserver", "kubectl"))
    if etcd is None or apiserver is None or kubectl is None:
        named = zip(("etcd", "kube-apiserver", "kubectl"), (etcd, apiserver, kubectl), strict=True)
        missing = ", ".join(name for name, path in named if path is None)
        hint = (
            f"{ENV_ASSETS}={assets} lacks {missing}"
            if assets
            else f"{built} lacks {missing}: run `make controlplane` (tests/controlplane/build.sh)"
        )
        raise PlaneError(f"no control-plane binaries: {hint}")

    def node_part(name: str) -> Path | None:
        # envtest ships no node components: fall back to the local build for those.
        return _executable(primary, name) or _executable(built, name)

    version = versions["KUBERNETES_VERSION"]
    if assets:
        version = _binary_version(apiserver) or version
    return Binaries(
        bin_dir=primary,
        version=version,
        etcd=etcd,
        kube_apiserver=apiserver,
        kubectl=kubectl,
        kube_controller_manager=node_part("kube-controller-manager"),
        kube_scheduler=node_part("kube-scheduler"),
        kwok=node_part("kwok"),
        kwok_stages=stages if stages.is_file() else None,
    )


def _binary_version(apiserver: Path) -> str | None:
    """``Kubernetes v1.36.3`` -> ``v1.36.3``."""
    try:
        out = subprocess.run([apiserver, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    parts = out.split()
    return parts[-1] if parts else None
