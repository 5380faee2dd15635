"""The package as it ships: the wheel ``pip wheel`` builds, in a venv that never sees this checkout.

The image (``Dockerfile``) is a Python base plus ``pip install`` of the project; no
image can be built on these machines, so tests run what it would hold: the wheel,
installed with the system's Python (as a base image has it; the suite's own
interpreter may live where another user cannot read it, e.g. pyenv under /root).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")


class PackageError(RuntimeError):
    """The wheel could not be built or installed; the message says why."""


def install_wheel(base: Path) -> Path:
    """Build the wheel into ``base/wheels``, install it into the venv ``base/venv``; that venv.

    Everything under ``base`` is made readable (not writable) by every user: the image runs
    the operator as uid 65532.
    """
    wheels = base / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        timeout=600,
        cwd=base,
    )
    (wheel,) = wheels.glob("otelwire-*.whl")
    probe = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sys, venv, ensurepip; print(sys.version_info >= (3, 11))"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.stdout.strip() != "True":
        raise PackageError(f"{SYSTEM_PYTHON} (>= 3.11, with venv and ensurepip) is needed: {probe.stderr.strip()}")
    venv = base / "venv"
    subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=900,
        cwd=base,
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
    )
    for path in (base, *base.rglob("*")):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    return venv
