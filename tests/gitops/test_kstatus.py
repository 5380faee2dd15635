"""kstatus (the real sigs.k8s.io/cli-utils library) and Flux's healthCheckExprs over the same samples.

The Go test in ``tests/gitops/kstatus`` computes, for every sample of
:mod:`gitops.samples`, ``status.Compute`` (what ``kubectl wait``, cli-utils'
appliers and a plain Flux ``wait`` see) and the status Flux derives from the
``healthCheckExprs`` in ``manifests/gitops/flux/otelwire.yaml``, and fails on
any difference from the expectations.  The test binary is built once into the
gitignored ``.cache/gitops`` with the flags ``tests/controlplane`` builds with,
so Go's build cache shares the Kubernetes packages (a cold build takes minutes).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .gobuild import go_build
from .samples import Sample

pytestmark = pytest.mark.go

MODULE = Path(__file__).resolve().parent / "kstatus"


@pytest.fixture(scope="session")
def kstatus_binary() -> Path:
    return go_build(MODULE, "kstatus.test", test=True)


def run(binary: Path, samples: Path, results: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), "-test.v", "-test.count=1", "-test.run", "^TestMonitoredServiceStatus$"],
        env={**os.environ, "OTELWIRE_GITOPS_SAMPLES": str(samples), "OTELWIRE_GITOPS_RESULTS": str(results)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_kstatus_and_flux_health(
    kstatus_binary: Path, samples_file: Path, gitops_samples: list[Sample], tmp_path: Path
) -> None:
    results_file = tmp_path / "results.json"
    result = run(kstatus_binary, samples_file, results_file)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"checked {len(gitops_samples)} samples" in result.stdout
    results: dict[str, dict[str, Any]] = json.loads(results_file.read_text())
    assert {name: (r["kstatus"], r["flux"]) for name, r in results.items()} == {
        s.name: (s.kstatus, s.flux) for s in gitops_samples
    }


def test_flux_cannot_evaluate_before_the_first_status(kstatus_binary: Path, samples_file: Path, tmp_path: Path) -> None:
    """Before otelwire writes status, the expressions have no ``status`` to read: Flux keeps waiting."""
    results_file = tmp_path / "results.json"
    assert run(kstatus_binary, samples_file, results_file).returncode == 0
    fresh = json.loads(results_file.read_text())["no-status-yet"]
    assert "no such attribute" in fresh["fluxError"], fresh
    assert fresh["kstatus"] == "Current"  # plain kstatus would not wait for the operator at all


def test_a_wrong_expectation_fails(kstatus_binary: Path, samples_file: Path, tmp_path: Path) -> None:
    data = json.loads(samples_file.read_text())
    ready = next(s for s in data["samples"] if s["name"] == "ready")
    ready["kstatus"] = "Failed"
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(data))
    result = run(kstatus_binary, wrong, tmp_path / "results.json")
    assert result.returncode != 0
    assert "--- FAIL: TestMonitoredServiceStatus/ready" in result.stdout, result.stdout
