"""The Argo CD health check, run by two Lua engines over the assessor's own statuses.

``manifests/gitops/argocd/health.lua`` runs in :mod:`harness.lua <gitops>`'s
sandbox -- only what Argo CD's gopher-lua VM offers (base, table, a safe os; no
string library) -- under lupa's Lua 5.1 (gopher-lua's dialect) and under the
``lua5.4`` binary (``scripts/system-deps.sh``), over every sample of
:mod:`gitops.samples`.  Both must give the expected status, and the same
message.  The embedded copy in the argocd-cm patch must equal health.lua, and
the kustomize Component must patch it into an argocd-cm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import argocd_cm
from .luadata import lua_literal
from .samples import Sample

HERE = Path(__file__).resolve().parent
HARNESS = HERE / "harness.lua"
HEALTH_LUA = argocd_cm.HEALTH_LUA
ARGO_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
Outcome = tuple[str, str]  # (status, message); status "ERROR" with the error as message


@pytest.fixture(scope="module")
def lupa_outcomes(gitops_samples: list[Sample]) -> dict[str, Outcome]:
    from lupa import lua51

    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)
    harness = runtime.execute(HARNESS.read_text())
    source = HEALTH_LUA.read_text()
    out: dict[str, Outcome] = {}
    for sample in gitops_samples:
        obj = runtime.table_from(sample.object, recursive=True)
        ok, hs = harness.run(source, obj)
        line = harness.line(sample.name, ok, hs)
        name, status, message = _split(line)
        out[name] = (status, message)
    return out


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")


def _split(line: str) -> tuple[str, str, str]:
    name, status, message = line.split("\t", 2)
    return name, status, _unescape(message)


def run_lua54(cases: list[dict[str, Any]], tmp: Path, script: Path = HEALTH_LUA) -> dict[str, Outcome]:
    lua = shutil.which("lua5.4")
    if lua is None:
        pytest.fail("lua5.4 is not installed: run scripts/system-deps.sh (make system-deps)")
    cases_file = tmp / "cases.lua"
    cases_file.write_text("return " + lua_literal(cases) + "\n")
    result = subprocess.run(
        [lua, str(HARNESS), str(script), str(cases_file)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    out: dict[str, Outcome] = {}
    for line in result.stdout.splitlines():
        name, status, message = _split(line)
        out[name] = (status, message)
    return out


@pytest.fixture(scope="module")
def lua54_outcomes(gitops_samples: list[Sample], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    cases = [{"name": s.name, "obj": s.object} for s in gitops_samples]
    return run_lua54(cases, tmp_path_factory.mktemp("lua54"))


def _check(sample: Sample, outcome: Outcome) -> None:
    status, message = outcome
    assert status != "ERROR", f"health.lua failed on {sample.name}: {message}"
    assert status in ARGO_STATUSES
    assert (status, sample.argo_message in message) == (sample.argo, True), (
        f"{sample.name}: got {status} {message!r}, want {sample.argo} with {sample.argo_message!r}"
    )


def test_lupa_lua51(gitops_samples: list[Sample], lupa_outcomes: dict[str, Outcome]) -> None:
    assert set(lupa_outcomes) == {s.name for s in gitops_samples}
    for sample in gitops_samples:
        _check(sample, lupa_outcomes[sample.name])


def test_lua54_binary(gitops_samples: list[Sample], lua54_outcomes: dict[str, Outcome]) -> None:
    assert set(lua54_outcomes) == {s.name for s in gitops_samples}
    for sample in gitops_samples:
        _check(sample, lua54_outcomes[sample.name])


def test_both_engines_say_the_same(lupa_outcomes: dict[str, Outcome], lua54_outcomes: dict[str, Outcome]) -> None:
    assert lupa_outcomes == lua54_outcomes


def test_every_argo_outcome_is_covered(gitops_samples: list[Sample]) -> None:
    assert {s.argo for s in gitops_samples} == {"Healthy", "Progressing", "Degraded"}


def test_the_sandbox_is_argos(tmp_path: Path) -> None:
    """A script using the string library, as Argo CD would reject it, fails here too."""
    for body in ('return {status = string.upper("healthy")}', 'return {status = ("x"):upper()}', "return io"):
        script = tmp_path / "bad.lua"
        script.write_text(body + "\n")
        outcome = run_lua54([{"name": "bad", "obj": {}}], tmp_path, script)["bad"]
        assert outcome[0] == "ERROR", (body, outcome)


def test_a_wrong_expectation_fails(gitops_samples: list[Sample], lupa_outcomes: dict[str, Outcome]) -> None:
    wrong = Sample("ready", {}, "Degraded", "", "", "")
    with pytest.raises(AssertionError):
        _check(wrong, lupa_outcomes["ready"])


# ----------------------------------------------------------------- the argocd-cm patch


def test_embedded_copy_is_health_lua() -> None:
    assert argocd_cm.PATCH.read_text() == argocd_cm.render(HEALTH_LUA.read_text()), (
        "argocd-cm-patch.yaml is stale: run .venv/bin/python tests/gitops/argocd_cm.py"
    )
    patch = yaml.safe_load(argocd_cm.PATCH.read_text())
    assert patch["data"][argocd_cm.KEY] == HEALTH_LUA.read_text()


def _kubectl() -> str:
    found = shutil.which("kubectl") or next(
        iter(sorted(argocd_cm.REPO.glob(".cache/controlplane/*/bin/kubectl"))), None
    )
    if found is None:
        pytest.fail("no kubectl for `kubectl kustomize`: run `make controlplane` (it builds one into .cache/)")
    return str(found)


def test_component_patches_argocd_cm(tmp_path: Path) -> None:
    """Include the Component next to a stand-in for Argo CD's install.yaml, as a user would."""
    (tmp_path / "install.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: argocd-cm\n"
        "  labels: {app.kubernetes.io/name: argocd-cm, app.kubernetes.io/part-of: argocd}\n"
        "data:\n  url: https://argocd.example.com\n"
    )
    component = os.path.relpath(argocd_cm.PATCH.parent, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        f"namespace: argocd\nresources:\n  - install.yaml\ncomponents:\n  - {component}\n"
    )
    result = subprocess.run([_kubectl(), "kustomize", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    cm = yaml.safe_load(result.stdout)
    assert cm["metadata"]["namespace"] == "argocd"
    assert cm["data"]["url"] == "https://argocd.example.com"  # merged, not replaced
    assert cm["data"][argocd_cm.KEY] == HEALTH_LUA.read_text()
