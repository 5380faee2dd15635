"""Fixtures for the operator's end-to-end tests on the real control plane."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from plane import Plane

from reconcile.harness import Collector, Operator, install_crd


@pytest.fixture(scope="module")
def crd(plane_nodes: Plane) -> Plane:
    install_crd(plane_nodes)
    return plane_nodes


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    found = Collector()
    yield found
    found.close()


@pytest.fixture(scope="module")
def operator(crd: Plane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Operator]:
    running = Operator(crd, Path(tmp_path_factory.mktemp("operator"))).start()
    yield running
    running.stop()
