"""Every CEL rule, replayed against the real kube-apiserver with the generated CRD.

The same table (tests/cel_cases.py) is judged offline by the pydantic model in
tests/unit/test_spec.py; here the API server must accept each ``valid`` object
and reject each ``invalid`` one with exactly the rule's message -- so
``kubectl apply`` and ``otelwire render`` say the same thing about the same
mistake.  The schema's patterns too (``PATTERN_CASES``): what the model accepts
the API server accepts, and what it refuses the API server refuses at the same
field.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cel_cases import CEL_CASES, NAMESPACE, PATTERN_CASES, CelCase, PatternCase
from plane import Plane

CRD = Path(__file__).resolve().parents[2] / "crds" / "monitoredservices.otelwire.io.yaml"


@pytest.fixture(scope="module")
def cel_plane(plane: Plane) -> Plane:
    plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    plane.kubectl("wait", "--for=condition=Established", "crd/monitoredservices.otelwire.io", "--timeout=60s")
    plane.create_namespace(NAMESPACE)
    return plane


@pytest.mark.parametrize("case", CEL_CASES, ids=[c.id for c in CEL_CASES])
def test_the_api_server_judges_like_the_model(cel_plane: Plane, case: CelCase) -> None:
    accepted = cel_plane.kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(case.valid), check=False)
    assert accepted.returncode == 0, accepted.stderr
    rejected = cel_plane.kubectl(
        "apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(case.invalid), check=False
    )
    assert rejected.returncode != 0, f"{case.id}: the API server accepted the invalid object"
    assert case.rule.message in rejected.stderr, rejected.stderr


@pytest.mark.parametrize("case", PATTERN_CASES, ids=[c.id for c in PATTERN_CASES])
def test_the_api_server_reads_patterns_like_the_model(cel_plane: Plane, case: PatternCase) -> None:
    result = cel_plane.kubectl("apply", "--dry-run=server", "-f", "-", input=yaml.safe_dump(case.object), check=False)
    if case.path is None:
        assert result.returncode == 0, result.stderr
        return
    assert result.returncode != 0, f"{case.id}: the API server accepted what the model refuses"
    assert f"{case.api_path or case.path}: Invalid value" in result.stderr, result.stderr
