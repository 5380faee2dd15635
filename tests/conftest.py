"""Suite-wide fixtures: the real Kubernetes control plane, started once per session.

Why session scope: starting etcd + kube-apiserver costs seconds of CPU on a 2-core
machine, and the whole suite must stay under 30 minutes, so every test shares one
plane and isolates itself with its own namespace (``plane.create_namespace``).

* ``plane`` — etcd, kube-apiserver and a housekeeping controller manager
  (:class:`plane.LocalPlane`), or the cluster named by ``OTELWIRE_E2E_KUBECONFIG``
  (:class:`plane.ExternalPlane`). Attributes: ``kubeconfig``, ``server``,
  ``version``, ``bin_dir``, ``kubectl(*args, input=None, check=True)``.
* ``plane_nodes`` — the same plane, plus the full controller manager, kube-scheduler
  and kwok with three fake Nodes, started the first time a test asks for it.

A test that uses either fixture is marked ``controlplane`` (and ``nodes`` for
``plane_nodes``) automatically, so ``-m 'not controlplane'`` always leaves out the
tests that need the plane. Missing binaries fail those tests with the command to run
(``make controlplane``); they are never skipped silently.

The plane code lives in the package ``tests/plane/`` (imported as ``plane``: this file puts
``tests/`` on ``sys.path``); docs/testing.md is the how-to.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plane import Plane, PlaneError, plane_from_environment

# The real cert-manager's session fixture (partners/cert_manager.py), loaded here so that pytest
# rewrites its asserts before tests/install's conftest imports the module.
pytest_plugins = ("partners.cert_manager",)

_PLANE_FIXTURES = {"plane": ("controlplane",), "plane_nodes": ("controlplane", "nodes")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by the plane fixtures they use, so marker selection never misses one."""
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, markers in _PLANE_FIXTURES.items():
            if fixture in names:
                for marker in markers:
                    if item.get_closest_marker(marker) is None:
                        item.add_marker(marker)


@pytest.fixture(scope="session")
def plane() -> Iterator[Plane]:
    """The session's control plane: etcd + kube-apiserver (RBAC, real admission), admin kubeconfig."""
    try:
        started = plane_from_environment()
    except PlaneError as exc:
        pytest.fail(f"control plane unavailable: {exc}", pytrace=False)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
def installed_package() -> Iterator[Path]:
    """A venv outside the checkout holding only the built wheel and its dependencies (the image's content)."""
    from support.package import PackageError, install_wheel

    # Not under /tmp: a container of the install test gets an emptyDir there, over the image.
    base = Path(tempfile.mkdtemp(prefix="otelwire-wheel-", dir="/var/tmp"))
    try:
        yield install_wheel(base)
    except PackageError as error:
        pytest.fail(str(error), pytrace=False)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def plane_nodes(plane: Plane) -> Plane:
    """The session's plane with controller manager, scheduler and kwok's three fake Nodes."""
    try:
        plane.start_nodes()
    except PlaneError as exc:
        pytest.fail(f"control plane nodes unavailable: {exc}", pytrace=False)
    return plane
