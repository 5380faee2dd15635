"""The package as it ships: the wheel in a clean venv, run as the image runs it, against the real plane.

The image (``Dockerfile``) is a Python base plus ``pip install`` of this project,
run as uid 65532 with a read-only root filesystem and a writable ``/tmp``.  No
image can be built on these machines, so its content is proven this way: the
wheel ``pip wheel`` builds, installed into a venv that never sees this checkout,
started as that non-root user from a read-only working directory, must run the
operator -- webhook, reconciles, status -- with nothing from the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from plane import Plane

from reconcile.harness import (
    Collector,
    Operator,
    apply_services_first,
    deployment,
    env_of,
    monitored_service,
    msvc,
    pods,
)

USER = 65532  # the Dockerfile's USER and the Deployment's runAsUser


def test_the_wheel_holds_the_whole_operator_and_nothing_of_the_checkout(installed_package: Path) -> None:
    python = installed_package / "bin" / "python"
    code = "import otelwire, otelwire.cli.main, otelwire.handlers; print(otelwire.__file__)"
    found = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, check=True, cwd="/", env={"PATH": "/usr/bin:/bin"}
    ).stdout.strip()
    assert found.startswith(str(installed_package)), found
    assert (installed_package / "bin" / "otelwire").is_file()
    typed = list(installed_package.glob("lib/python*/site-packages/otelwire/py.typed"))
    assert typed, "py.typed ships with the package"


def test_the_installed_operator_runs_as_a_non_root_user_from_a_read_only_directory(
    installed_package: Path, crd: Plane, collector: Collector, tmp_path: Path
) -> None:
    home = Path(tempfile.mkdtemp(prefix="otelwire-run-"))  # pytest's own folders are root's alone
    readonly = home / "workdir"
    readonly.mkdir()
    writable = home / "tmp"  # the Deployment's emptyDir at /tmp
    writable.mkdir()
    kubeconfig = home / "kubeconfig"
    shutil.copy(crd.kubeconfig, kubeconfig)
    for path, mode in ((home, 0o755), (readonly, 0o555), (kubeconfig, 0o644)):
        path.chmod(mode)
    os.chown(writable, USER, USER)
    env = {
        "PATH": f"{installed_package / 'bin'}:/usr/bin:/bin",
        "HOME": str(readonly),
        "TMPDIR": str(writable),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    operator = Operator(
        crd,
        tmp_path,
        kubeconfig=kubeconfig,
        config_name="otelwire-wheel",
        command=(str(installed_package / "bin" / "otelwire"),),
        user=USER,
        cwd=readonly,
        env=env,
    )
    operator.start()
    try:
        ns = crd.create_namespace("wheel")
        apply_services_first(
            crd, [monitored_service("wheel", ns, collector.endpoint), deployment("wheel", ns, replicas=1)]
        )
        crd.kubectl("wait", "--for=condition=Ready", "msvc/wheel", "-n", ns, "--timeout=90s")
        (pod,) = pods(crd, ns, "app=wheel")
        assert env_of(pod["spec"]["containers"][0])["OTEL_SERVICE_NAME"]["value"] == "wheel"
        assert msvc(crd, ns, "wheel")["status"]["workloads"]["instrumented"] == 1
        assert list(readonly.iterdir()) == []
        owner = subprocess.run(
            ["ps", "-o", "uid=", "-p", str(operator.process.pid if operator.process else 0)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert owner == str(USER)
    finally:
        operator.stop()
        shutil.rmtree(home, ignore_errors=True)
