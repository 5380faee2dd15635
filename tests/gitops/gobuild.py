"""Building the Go programs of ``tests/gitops`` into the gitignored ``.cache/gitops``.

Each is its own Go module (``kstatus``, ``gopherlua``), built with the flags
``tests/controlplane`` builds with (``CGO_ENABLED=0``, ``-trimpath``), so Go's
build cache shares the Kubernetes packages: a warm build is a relink of a few
seconds, a cold one minutes.  The Go toolchain is required -- a missing ``go``
fails the test, it never skips it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_DIR = REPO / ".cache" / "gitops"
GO_ENV = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false -trimpath"}


def go_build(module: Path, name: str, *, test: bool = False) -> Path:
    """``go build`` (``go test -c`` when ``test``) of ``module`` into ``.cache/gitops/<name>``."""
    go = shutil.which("go")
    if go is None:
        pytest.fail("the Go toolchain ('go') is not on PATH")
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    binary = BUILD_DIR / name
    partial = BUILD_DIR / f"{name}.{os.getpid()}.partial"
    command = [go, "test", "-c"] if test else [go, "build"]
    result = subprocess.run(
        [*command, "-o", str(partial), "."],
        cwd=module,
        env={**os.environ, **GO_ENV},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"building {module.name} failed:\n{result.stdout}\n{result.stderr}"
    os.replace(partial, binary)
    return binary
