"""The real programs otelwire's integrations meet in the suite, built by ``tests/partners/build.sh``.

Each partner is a Go module folder here; ``make partners`` builds it into
``.cache/partners/<name>/`` (``bin/`` for programs, ``files/`` for files taken
from a module, such as CRDs).  A test asks for what it needs with :func:`binary`
or :func:`files`, which fail -- never skip -- with the command to run when the
build is missing.

Partners that Debian packages (chronyd, in test_chrony.py) are installed by
``scripts/system-deps.sh`` (``make system-deps``) instead; ``sandbox.py`` runs a
rendered pod's container with them as the kubelet would.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "partners"


def binary(partner: str, name: str) -> Path:
    """``.cache/partners/<partner>/bin/<name>``, or a failure saying how to build it."""
    path = CACHE / partner / "bin" / name
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make partners` (tests/partners/build.sh {partner})", pytrace=False)
    return path


def files(partner: str) -> Path:
    """``.cache/partners/<partner>/files``, or a failure saying how to build it."""
    path = CACHE / partner / "files"
    if not path.is_dir() or not any(path.iterdir()):
        pytest.fail(f"{path} is missing: run `make partners` (tests/partners/build.sh {partner})", pytrace=False)
    return path
