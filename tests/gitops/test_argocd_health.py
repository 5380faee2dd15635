"""The Argo CD health check, run by three Lua engines over the assessor's own statuses.

``manifests/gitops/argocd/health.lua`` runs

* in Argo CD's own engine: gopher-lua v1.1.2 with the library set, timeout, ``obj``
  decoding and result validation of Argo CD v3.5.1's application controller
  (``tests/gitops/gopherlua``, a Go program built into ``.cache/gitops``), reading
  the script from the argocd-cm patch under the key Argo CD looks up;
* in :mod:`harness.lua <gitops>`'s sandbox -- only what Argo CD's VM offers (base,
  table, ``require("os")``; no string library) -- under lupa's Lua 5.1 and under the
  ``lua5.4`` binary (``scripts/system-deps.sh``),

over every sample of :mod:`gitops.samples`.  All three must give the expected
status and the same message; the sandbox must fail where Argo CD's VM fails.  The
embedded copy in the argocd-cm patch must equal health.lua, and the kustomize
Component must patch it into an argocd-cm.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from . import argocd_cm
from .gobuild import go_build
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


# ----------------------------------------------------------------- Argo CD's own engine

GOPHERLUA = HERE / "gopherlua"
SANDBOX_PROBES = {  # script -> whether Argo CD's VM runs it without an error
    'return {status = "Healthy", message = "plain"}': True,
    'return {status = string.upper("healthy")}': False,
    'return {status = ("healthy"):upper()}': False,
    'return {status = "Healthy", message = tostring(os.time())}': False,
    'local os = require("os"); return {status = "Healthy", message = tostring(os.time() > 0)}': True,
    'return {status = "Healthy", message = io.read()}': False,
    'return {status = "Healthy", message = table.concat({"a", "b"}, ",")}': True,
}


@pytest.fixture(scope="session")
def argocd_health() -> Path:
    return go_build(GOPHERLUA, "argocd-health")


def argocd_cm_data() -> dict[str, str]:
    """The data of the argocd-cm patch a user deploys (the script under the key Argo CD reads)."""
    data: dict[str, str] = yaml.safe_load(argocd_cm.PATCH.read_text())["data"]
    return data


def run_argocd(binary: Path, data: dict[str, str], samples: Path, tmp: Path) -> dict[str, dict[str, Any]]:
    """Argo CD's outcome per sample: ``lua`` (the script's health), ``luaError``, ``argocd`` (what it shows)."""
    cm = tmp / "argocd-cm.json"
    cm.write_text(json.dumps(data))
    result = subprocess.run(
        [str(binary), "-argocd-cm", str(cm), "-samples", str(samples)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found: dict[str, dict[str, Any]] = json.loads(result.stdout)
    return found


def _lua_outcome(found: dict[str, Any]) -> Outcome:
    if found.get("luaError"):
        return ("ERROR", str(found["luaError"]))
    health = found["lua"] or {}
    return (str(health.get("status", "")), str(health.get("message", "")))


@pytest.fixture(scope="module")
def argocd_results(
    argocd_health: Path, samples_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    return run_argocd(argocd_health, argocd_cm_data(), samples_file, tmp_path_factory.mktemp("argocd"))


@pytest.mark.go
def test_gopherlua_as_argo_cd_runs_it(gitops_samples: list[Sample], argocd_results: dict[str, dict[str, Any]]) -> None:
    assert set(argocd_results) == {s.name for s in gitops_samples}
    for sample in gitops_samples:
        _check(sample, _lua_outcome(argocd_results[sample.name]))


@pytest.mark.go
def test_all_three_engines_say_the_same(
    argocd_results: dict[str, dict[str, Any]],
    lupa_outcomes: dict[str, Outcome],
    lua54_outcomes: dict[str, Outcome],
) -> None:
    gopherlua = {name: _lua_outcome(found) for name, found in argocd_results.items()}
    assert gopherlua == lupa_outcomes
    assert gopherlua == lua54_outcomes


@pytest.mark.go
def test_argo_cd_shows_the_scripts_health_but_its_own_while_deleting(
    gitops_samples: list[Sample], argocd_results: dict[str, dict[str, Any]]
) -> None:
    """gitops-engine answers for an object being deleted before any health check runs."""
    for sample in gitops_samples:
        shown = argocd_results[sample.name]["argocd"]
        if sample.object["metadata"].get("deletionTimestamp"):
            assert shown == {"status": "Progressing", "message": "Pending deletion"}, sample.name
        else:
            assert shown == argocd_results[sample.name]["lua"], sample.name
    assert any(s.object["metadata"].get("deletionTimestamp") for s in gitops_samples)


def _probe_samples(tmp: Path, gitops_samples: list[Sample]) -> Path:
    ready = next(s for s in gitops_samples if s.name == "ready")
    path = tmp / "probe-samples.json"
    path.write_text(json.dumps({"samples": [{"name": "probe", "object": ready.object}]}))
    return path


@pytest.mark.go
def test_the_sandbox_fails_where_argo_cds_vm_fails(
    argocd_health: Path, gitops_samples: list[Sample], tmp_path: Path
) -> None:
    samples = _probe_samples(tmp_path, gitops_samples)
    ready = next(s for s in gitops_samples if s.name == "ready")
    for script, runs in SANDBOX_PROBES.items():
        data = {argocd_cm.KEY: script}
        argo = _lua_outcome(run_argocd(argocd_health, data, samples, tmp_path)["probe"])
        script_file = tmp_path / "probe.lua"
        script_file.write_text(script + "\n")
        sandbox = run_lua54([{"name": "probe", "obj": ready.object}], tmp_path, script_file)["probe"]
        assert ((argo[0] != "ERROR"), (sandbox[0] != "ERROR")) == (runs, runs), (script, argo, sandbox)


@pytest.mark.go
def test_argo_cds_limits_hold(argocd_health: Path, gitops_samples: list[Sample], tmp_path: Path) -> None:
    """The 1 s timeout, status validation, and a table as the only result."""
    samples = _probe_samples(tmp_path, gitops_samples)
    for script, shown in (
        ("while true do end", ("Unknown", "context deadline exceeded")),
        ('return {status = "Fine"}', ("Unknown", "Lua returned an invalid health status")),
        ('return "Healthy"', ("Unknown", "expect table output from Lua script, not string")),
    ):
        found = run_argocd(argocd_health, {argocd_cm.KEY: script}, samples, tmp_path)["probe"]["argocd"]
        assert (found["status"], shown[1] in found["message"]) == (shown[0], True), (script, found)


@pytest.mark.go
def test_argo_cd_finds_no_check_under_another_key(argocd_health: Path, samples_file: Path, tmp_path: Path) -> None:
    """The key is what makes Argo CD run the script: misspelled, the MonitoredService gets none."""
    cm = tmp_path / "argocd-cm.json"
    wrong_key = argocd_cm.KEY.replace("otelwire.io_MonitoredService", "otelwire.io_MonitoredServices")
    cm.write_text(json.dumps({wrong_key: argocd_cm.HEALTH_LUA.read_text()}))
    result = subprocess.run(
        [str(argocd_health), "-argocd-cm", str(cm), "-samples", str(samples_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert 'no health check for "otelwire.io/MonitoredService"' in result.stderr, result.stderr


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
