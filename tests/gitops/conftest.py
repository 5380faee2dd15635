"""Fixtures for the GitOps tests: the MonitoredService samples, generated from the real assessor.

``samples`` (see :mod:`gitops.samples`) is built once per session and written
to ``samples.json`` together with the Flux health-check expressions read from
``manifests/gitops/flux/otelwire.yaml``; the Lua, Go and Python sides all read
that one file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .samples import Sample, samples, write_samples

REPO = Path(__file__).resolve().parents[2]
GITOPS = REPO / "manifests" / "gitops"
FLUX_FILE = GITOPS / "flux" / "otelwire.yaml"


def flux_documents() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(FLUX_FILE.read_text()) if doc]


def monitored_service_exprs() -> dict[str, str]:
    """The healthCheckExprs entry for MonitoredService (the one Kustomization that has it)."""
    found = [
        expr
        for doc in flux_documents()
        if doc.get("kind") == "Kustomization"
        for expr in (doc["spec"].get("healthCheckExprs") or [])
        if expr.get("kind") == "MonitoredService"
    ]
    assert len(found) == 1, found
    return {key: str(found[0].get(key) or "") for key in ("current", "inProgress", "failed")}


@pytest.fixture(scope="session")
def gitops_samples() -> list[Sample]:
    return samples()


@pytest.fixture(scope="session")
def samples_file(tmp_path_factory: pytest.TempPathFactory, gitops_samples: list[Sample]) -> Path:
    path = tmp_path_factory.mktemp("gitops") / "samples.json"
    return write_samples(path, gitops_samples, monitored_service_exprs())
