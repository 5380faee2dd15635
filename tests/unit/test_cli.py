"""The ``otelwire`` command line, run as a subprocess: golden outputs, exit codes, and never a traceback.

Golden files live in ``tests/golden/<case>/``: the case's input manifests next
to the expected ``<name>.stdout`` and ``<name>.stderr`` (no ``.yaml`` suffix,
so a directory given to ``-f`` does not read them back). After an intended
change of output, regenerate them with::

    OTELWIRE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_cli.py

and review the diff before committing it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from otelwire.crd import crd_yaml

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden"
EXAMPLE = "manifests/examples/order-service.yaml"
UPDATE = os.environ.get("OTELWIRE_UPDATE_GOLDEN") == "1"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def otelwire(*args: str, stdin: bytes | None = None) -> Run:
    """Run the CLI as a user would, from the repository root, with a plain environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTELWIRE_")}
    env["PYTHONPATH"] = str(REPO / "operator")
    done = subprocess.run(
        [sys.executable, "-m", "otelwire.cli.main", *args],
        cwd=REPO,
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    run = Run(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))
    assert "Traceback" not in run.stderr, run.stderr
    return run


# ---------------------------------------------------------------- golden files


@dataclass(frozen=True)
class Golden:
    case: str
    name: str
    args: tuple[str, ...]
    code: int


def _input(case: str, file: str = "input.yaml") -> str:
    return f"tests/golden/{case}/{file}"


GOLDENS: list[Golden] = [
    Golden("order-service", "render", ("render", "-f", EXAMPLE), 0),
    Golden("order-service", "render-all", ("render", "--all", "-f", EXAMPLE), 0),
    Golden("order-service", "doctor", ("doctor", "-f", EXAMPLE), 0),
    Golden("statefulset", "render", ("render", "-f", _input("statefulset")), 0),
    Golden("cronjob", "render", ("render", "-f", _input("cronjob")), 0),
    Golden("pod-owner", "render", ("render", "-f", _input("pod-owner")), 0),
    Golden("two-namespaces", "render", ("render", "-f", _input("two-namespaces")), 0),
    Golden("override-existing", "render", ("render", "-f", _input("override-existing")), 0),
    Golden("override-existing", "doctor", ("doctor", "-f", _input("override-existing")), 0),
    Golden("jaeger", "render", ("render", "-f", _input("jaeger")), 0),
    Golden("jaeger", "doctor", ("doctor", "-f", _input("jaeger")), 1),
    Golden("conflicts", "render", ("render", "-f", _input("conflicts")), 0),
    Golden("conflicts", "doctor", ("doctor", "-f", _input("conflicts")), 1),
    Golden("invalid", "render", ("render", "-f", _input("invalid")), 2),
    Golden("invalid", "doctor", ("doctor", "-f", _input("invalid")), 1),
    Golden("doctor-problems", "doctor", ("doctor", "-f", _input("doctor-problems")), 1),
    Golden("doctor-problems", "doctor-json", ("doctor", "-o", "json", "-f", _input("doctor-problems")), 1),
    Golden("directory", "render", ("render", "-f", "tests/golden/directory"), 0),
]


@pytest.mark.parametrize("golden", GOLDENS, ids=[f"{g.case}-{g.name}" for g in GOLDENS])
def test_golden(golden: Golden) -> None:
    run = otelwire(*golden.args)
    folder = GOLDEN / golden.case
    expected_out = folder / f"{golden.name}.stdout"
    expected_err = folder / f"{golden.name}.stderr"
    if UPDATE:
        folder.mkdir(parents=True, exist_ok=True)
        expected_out.write_text(run.stdout, encoding="utf-8")
        expected_err.write_text(run.stderr, encoding="utf-8")
    assert run.code == golden.code, run.stderr
    assert run.stdout == expected_out.read_text(encoding="utf-8"), (
        f"regenerate with OTELWIRE_UPDATE_GOLDEN=1 ({golden})"
    )
    assert run.stderr == expected_err.read_text(encoding="utf-8"), (
        f"regenerate with OTELWIRE_UPDATE_GOLDEN=1 ({golden})"
    )


def test_golden_render_outputs_are_kubernetes_documents() -> None:
    for golden in GOLDENS:
        if golden.args[0] != "render" or golden.code != 0:
            continue
        text = (GOLDEN / golden.case / f"{golden.name}.stdout").read_text(encoding="utf-8")
        for document in yaml.safe_load_all(text):
            assert isinstance(document, dict) and document.get("kind") and document.get("metadata"), golden


def test_every_golden_input_is_used() -> None:
    used = {arg for g in GOLDENS for arg in g.args if arg.startswith("tests/golden/")}
    for folder in GOLDEN.iterdir():
        if folder.is_dir() and (folder / "input.yaml").exists():
            assert _input(folder.name) in used, folder


# ---------------------------------------------------------------- render


def test_render_example_applies_the_plan() -> None:
    run = otelwire("render", "-f", EXAMPLE)
    assert (run.code, run.stderr) == (0, "")
    (deployment,) = list(yaml.safe_load_all(run.stdout))
    pod = deployment["spec"]["template"]
    env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
    assert env["OTEL_SERVICE_NAME"] == "order-service"
    assert env["OTEL_TRACES_SAMPLER_ARG"] == "0.25"
    assert pod["metadata"]["annotations"]["otelwire.io/injected"]


def test_render_reads_stdin_and_several_files() -> None:
    example = (REPO / EXAMPLE).read_bytes()
    from_stdin = otelwire("render", "-f", "-", stdin=example)
    from_file = otelwire("render", "-f", EXAMPLE)
    assert from_stdin == from_file
    both = otelwire("render", "-f", _input("jaeger"), "-f", "-", stdin=example)
    assert both.code == 0
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(both.stdout)] == ["billing", "order-service"]


def test_render_of_nothing_selected_prints_workloads_unchanged() -> None:
    text = (REPO / EXAMPLE).read_text(encoding="utf-8").rsplit("---\n", 1)[1]  # the Deployment alone
    run = otelwire("render", "-f", "-", stdin=text.encode())
    assert (run.code, run.stderr) == (0, "")
    assert list(yaml.safe_load_all(run.stdout)) == [yaml.safe_load(text)]


def test_render_namespace_flag_applies_to_objects_without_one() -> None:
    text = (REPO / EXAMPLE).read_text(encoding="utf-8").replace("  namespace: shop\n", "")
    default = otelwire("render", "-f", "-", stdin=text.encode())
    other = otelwire("render", "-n", "shop", "-f", "-", stdin=text.encode())
    assert default.code == other.code == 0
    env = yaml.safe_load(other.stdout)["spec"]["template"]["spec"]["containers"][0]["env"]
    assert any(e["name"] == "OTEL_RESOURCE_ATTRIBUTES" and "service.namespace=shop" in e["value"] for e in env)
    assert "service.namespace=default" in default.stdout


def test_invalid_monitored_service_one_line_per_problem() -> None:
    run = otelwire("render", "-f", _input("invalid"))
    assert run.code == 2
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 8
    for line in lines:
        assert line.startswith("error: MonitoredService shop/"), line
    fields = [line.split(": ")[2] for line in lines]
    assert fields == [
        "spec.serviceName",
        "spec.tracing.otlp.endpoint",
        "spec.tracing.propagators[1]",
        "spec.tracing.sampler.ratio",
        "spec.metrics.exporter",
        "spec.tracing.jaeger.agent.host",
        "spec.tracing.jaeger.agent.port",
        "spec.serviceName",
    ]


# ---------------------------------------------------------------- doctor


def test_doctor_json_is_machine_readable() -> None:
    run = otelwire("doctor", "-o", "json", "-f", _input("doctor-problems"))
    assert run.code == 1
    payload = json.loads(run.stdout)
    checks = {(f["resource"], f["check"]) for f in payload["findings"]}
    for expected in [
        ("Deployment shop/checkout", "service-name-from-variable"),
        ("Deployment shop/checkout", "endpoint-loopback"),
        ("Deployment shop/checkout", "otlp-port-protocol"),
        ("Deployment shop/checkout", "jaeger-agent-collector"),
        ("Deployment shop/checkout", "no-propagators"),
        ("Deployment shop/checkout", "double-metrics"),
        ("Deployment shop/payments", "name-mismatch"),
    ]:
        assert expected in checks
    assert payload["summary"] == {
        "errors": sum(f["severity"] == "error" for f in payload["findings"]),
        "warnings": sum(f["severity"] == "warning" for f in payload["findings"]),
        "info": sum(f["severity"] == "info" for f in payload["findings"]),
    }
    assert set(payload["findings"][0]) == {"resource", "container", "check", "severity", "message", "fix"}


def test_doctor_clean_workload_exits_zero() -> None:
    run = otelwire("doctor", "-f", EXAMPLE)
    assert run.code == 0
    assert run.stdout.strip().endswith("0 error(s), 0 warning(s), 0 note(s)")


DOCTOR_CHECKS: list[tuple[str, str, str]] = [
    ("OTEL_EXPORTER_OTLP_ENDPOINT: http://otel:4318", "no-service-name", "error"),
    ("OTEL_SERVICE_NAME: $(POD_NAME)", "service-name-from-variable", "error"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT: http://127.0.0.1:4318", "endpoint-loopback", "error"),
    ("OTEL_EXPORTER_JAEGER_AGENT_HOST: http://jaeger:14268/api/traces", "jaeger-agent-collector", "error"),
    ("OTEL_EXPORTER_JAEGER_AGENT_PORT: '14268'", "jaeger-agent-collector", "error"),
    ("OTEL_EXPORTER_JAEGER_ENDPOINT: jaeger:6831", "jaeger-agent-collector", "error"),
    ("OTEL_SERVICE_NAME: x", "no-propagators", "warning"),
    ("OTEL_METRICS_EXPORTER: otlp,prometheus", "double-metrics", "warning"),
    ("OTEL_SERVICE_NAME: not-the-workload", "name-mismatch", "warning"),
    ("OTEL_SERVICE_NAME: w", "no-exporter", "error"),
]


@pytest.mark.parametrize(
    ("env", "check", "severity"), DOCTOR_CHECKS, ids=[c[1] + "-" + str(i) for i, c in enumerate(DOCTOR_CHECKS)]
)
def test_doctor_checks(env: str, check: str, severity: str) -> None:
    name, _, raw = env.partition(": ")
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "w", "namespace": "n"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "w"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "example/w", "env": [{"name": name, "value": yaml.safe_load(raw)}]}
                    ]
                },
            }
        },
    }
    run = otelwire("doctor", "-o", "json", "-f", "-", stdin=yaml.safe_dump(body).encode())
    assert run.code == 1
    found = {(f["check"], f["severity"]) for f in json.loads(run.stdout)["findings"]}
    assert (check, severity) in found


SHARED_PORT: list[Any] = [
    # (MonitoredService spec, the pod's containers, the containers named in the finding, or None)
    pytest.param({}, ["app", "worker"], "app, worker", id="two-instrumented"),
    pytest.param({}, ["app", "worker", "istio-proxy"], "app, worker", id="sidecars-not-counted"),
    pytest.param({"injection": {"containers": ["worker"]}}, ["app", "worker"], None, id="one-named"),
    pytest.param({"metrics": {"exporter": "otlp"}}, ["app", "worker"], None, id="otlp"),
    pytest.param({}, ["app"], None, id="one-container"),
]


@pytest.mark.parametrize(("spec", "containers", "named"), SHARED_PORT)
def test_doctor_warns_when_two_exporters_want_the_pods_prometheus_port(
    spec: dict[str, Any], containers: list[str], named: str | None
) -> None:
    """Every instrumented container gets the same OTEL_EXPORTER_PROMETHEUS_PORT, in one pod network."""
    service = {
        "apiVersion": "otelwire.io/v1alpha1",
        "kind": "MonitoredService",
        "metadata": {"name": "w", "namespace": "n"},
        "spec": {"selector": {"matchLabels": {"app": "w"}}, **spec},
    }
    workload = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "w", "namespace": "n"},
        "spec": {
            "template": {
                "metadata": {"labels": {"app": "w"}},
                "spec": {"containers": [{"name": c, "image": f"example/{c}"} for c in containers]},
            }
        },
    }
    run = otelwire("doctor", "-o", "json", "-f", "-", stdin=yaml.safe_dump_all([service, workload]).encode())
    found = [f for f in json.loads(run.stdout)["findings"] if f["check"] == "prometheus-port-shared"]
    if named is None:
        assert found == []
        return
    (finding,) = found
    assert finding["severity"] == "warning" and finding["resource"] == "Deployment n/w"
    assert f"containers {named} all serve Prometheus metrics on port 9464" in finding["message"]
    assert "spec.injection.containers" in finding["fix"] and "otlp" in finding["fix"]


# ---------------------------------------------------------------- crd


def test_crd_prints_the_generated_crd() -> None:
    run = otelwire("crd")
    assert (run.code, run.stderr) == (0, "")
    assert run.stdout == crd_yaml()
    assert run.stdout == (REPO / "crds" / "monitoredservices.otelwire.io.yaml").read_text(encoding="utf-8")


# ---------------------------------------------------------------- errors a person makes: one line, exit 2, no traceback

BAD_INPUTS: list[tuple[str, bytes, str]] = [
    ("yaml-syntax", b"kind: Deployment\nmetadata: {name: x\n", "invalid YAML"),
    ("yaml-tab", b"kind: Pod\n\tmetadata: {}\n", "invalid YAML"),
    ("yaml-python-tag", b"!!python/object/apply:os.system ['true']\n", "invalid YAML"),
    ("not-utf8", b"\xff\xfe\x00k", "cannot read"),
    ("control-char", b'kind: "\x01"\n', "invalid YAML"),
    ("scalar-document", b"just a string\n", "not a Kubernetes object"),
    ("list-document", b"- a\n- b\n", "not a Kubernetes object"),
    ("metadata-string", b"kind: Deployment\nmetadata: x\n", "metadata must be a mapping"),
    (
        "labels-list",
        b"kind: Pod\nmetadata: {name: p, labels: [a]}\nspec: {containers: [{name: a}]}\n",
        "labels must be a mapping",
    ),
    ("label-int", b"kind: Pod\nmetadata: {name: p, labels: {a: 1}}\nspec: {containers: []}\n", "strings to strings"),
    ("name-int", b"kind: Pod\nmetadata: {name: 5}\n", "metadata.name must be a string"),
    ("owner-refs-map", b"kind: Pod\nmetadata: {name: p, ownerReferences: {a: b}}\n", "ownerReferences"),
    (
        "containers-map",
        b"kind: Deployment\nmetadata: {name: d}\nspec: {template: {spec: {containers: {a: b}}}}\n",
        "containers must be a list",
    ),
    (
        "container-string",
        b"kind: Pod\nmetadata: {name: p}\nspec: {containers: [x]}\n",
        "containers[0] must be a mapping",
    ),
    ("container-no-name", b"kind: Pod\nmetadata: {name: p}\nspec: {containers: [{image: x}]}\n", "containers[0].name"),
    ("env-strings", b"kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, env: [X=1]}]}\n", "env[0]"),
    (
        "env-value-int",
        b"kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, env: [{name: X, value: 1}]}]}\n",
        "quote it",
    ),
    (
        "template-string",
        b"kind: Deployment\nmetadata: {name: d}\nspec: {template: x}\n",
        "spec.template must be a mapping",
    ),
    (
        "cronjob-init-env",
        b"kind: CronJob\nmetadata: {name: c}\nspec: {jobTemplate: {spec: {template: {spec: {initContainers: [{name: i, env: 3}]}}}}}\n",
        "env must be a list",
    ),
    ("list-items-int", b"kind: List\nitems: 5\n", "items of a List must be a list"),
    (
        "ms-metadata-list",
        b"apiVersion: otelwire.io/v1alpha1\nkind: MonitoredService\nmetadata: [x]\n",
        "metadata must be a mapping",
    ),
]


DOCTOR_SPOT_CHECKS = ("yaml-syntax", "not-utf8", "metadata-string", "env-strings", "list-items-int")


@pytest.mark.parametrize(("name", "data", "fragment"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2(name: str, data: bytes, fragment: str) -> None:
    # render and doctor read input the same way (otelwire.cli.reading); doctor is spot-checked below
    run = otelwire("render", "-f", "-", stdin=data)
    assert run.code == 2, (name, run)
    assert run.stdout == ""
    assert len(run.stderr.splitlines()) == 1, run.stderr
    assert run.stderr.startswith("error: <stdin>")
    assert fragment in run.stderr


@pytest.mark.parametrize(
    ("name", "data", "fragment"), [b for b in BAD_INPUTS if b[0] in DOCTOR_SPOT_CHECKS], ids=DOCTOR_SPOT_CHECKS
)
def test_doctor_bad_input_is_one_line_exit_2(name: str, data: bytes, fragment: str) -> None:
    run = otelwire("doctor", "-f", "-", stdin=data)
    assert (run.code, run.stdout, len(run.stderr.splitlines())) == (2, "", 1), (name, run)
    assert fragment in run.stderr


@pytest.mark.parametrize("command", ["render", "doctor"])
def test_missing_file(command: str) -> None:
    run = otelwire(command, "-f", "no/such/file.yaml")
    assert (run.code, run.stdout, run.stderr) == (2, "", "error: no/such/file.yaml: no such file\n")


@pytest.mark.parametrize("command", ["render", "doctor"])
def test_empty_directory(command: str, tmp_path: Path) -> None:
    run = otelwire(command, "-f", str(tmp_path))
    assert run.code == 2
    assert run.stderr == f"error: {tmp_path}: directory holds no .yaml, .yml or .json files\n"


def test_directory_skips_folders_and_names_a_bad_file(tmp_path: Path) -> None:
    (tmp_path / "nested.yaml").mkdir()
    (tmp_path / "ok.yaml").write_text((REPO / EXAMPLE).read_text(encoding="utf-8"), encoding="utf-8")
    assert otelwire("render", "-f", str(tmp_path)).stdout == otelwire("render", "-f", EXAMPLE).stdout
    (tmp_path / "z.yml").write_bytes(b"\xff\xfe")
    run = otelwire("render", "-f", str(tmp_path))
    assert (run.code, run.stdout) == (2, "")
    assert run.stderr.startswith(f"error: {tmp_path / 'z.yml'}: cannot read:")


def test_bad_file_is_named_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Pod\nmetadata:\n  name: [x\n", encoding="utf-8")
    run = otelwire("render", "-f", str(bad))
    assert run.code == 2
    assert run.stderr.startswith(f"error: {bad}:")
    assert "invalid YAML" in run.stderr
    assert len(run.stderr.splitlines()) == 1


def test_empty_input_is_fine() -> None:
    assert otelwire("render", "-f", "-", stdin=b"") == Run(0, "", "")
    assert otelwire("render", "-f", "-", stdin=b"---\n---\n# only comments\n") == Run(0, "", "")


def test_json_input(tmp_path: Path) -> None:
    example = list(yaml.safe_load_all((REPO / EXAMPLE).read_text(encoding="utf-8")))
    path = tmp_path / "list.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": example}), encoding="utf-8")
    assert otelwire("render", "-f", str(path)).stdout == otelwire("render", "-f", EXAMPLE).stdout


@pytest.mark.parametrize(
    "args",
    [
        pytest.param((), id="no-command"),
        pytest.param(("render",), id="render-without-file"),
        pytest.param(("frobnicate",), id="unknown-command"),
        pytest.param(("doctor", "-o", "xml", "-f", EXAMPLE), id="unknown-format"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    run = otelwire(*args)
    assert run.code == 2
    assert "usage: otelwire" in run.stderr


def test_version_and_help() -> None:
    version = otelwire("--version")
    assert version.code == 0 and version.stdout.startswith("otelwire ")
    for command in ("render", "doctor", "crd"):
        helped = otelwire(command, "--help")
        assert helped.code == 0 and f"usage: otelwire {command}" in helped.stdout


def test_console_script_entry_point() -> None:
    script = Path(sys.executable).parent / "otelwire"
    if not script.exists():
        pytest.skip("otelwire is not installed as a console script in this environment")
    done = subprocess.run([str(script), "crd"], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0
    assert done.stdout == crd_yaml()


@pytest.mark.parametrize(
    "argv",
    [
        ["render", "-f", EXAMPLE],
        ["doctor", "-f", EXAMPLE],
        ["doctor", "--kubeconfig", "/nonexistent/kubeconfig"],  # cluster mode, up to the configuration's error
        ["crd"],
    ],
    ids=["render", "doctor-files", "doctor-cluster", "crd"],
)
def test_no_command_but_run_imports_kopf(argv: list[str]) -> None:
    """kopf registers handlers on import: only ``otelwire run`` may bring it in."""
    code = (
        "import sys\n"
        "from otelwire.cli.main import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('kopf' in sys.modules, 'otelwire.handlers' in sys.modules, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.stderr.strip().splitlines()[-1] == "False False", result.stderr
