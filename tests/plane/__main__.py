"""``python tests/plane [--nodes | --no-controllers]``: start a plane by hand, print it as JSON, wait for Ctrl-C.

Run from the repository root as ``.venv/bin/python tests/plane`` (or, from ``tests/``,
as ``python -m plane``). The teardown tests (tests/cluster/test_plane_smoke.py) run
it in a child process too.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:
    # Run as `python tests/plane`: Python put this folder first on sys.path. Put tests/ there
    # instead, so that the package imports as `plane` (and its modules never as top-level ones).
    _HERE = Path(__file__).resolve().parent
    if sys.path and Path(sys.path[0] or ".").resolve() == _HERE:
        sys.path[0] = str(_HERE.parent)
    else:
        sys.path.insert(0, str(_HERE.parent))

import contextlib
import json
import time
from collections.abc import Sequence
from dataclasses import replace

from plane.binaries import locate_binaries
from plane.local import running_plane


def main(argv: Sequence[str] | None = None) -> int:
    """Start a plane, print it as JSON, wait.

    Handy for poking at the plane by hand (``KUBECONFIG=<kubeconfig> kubectl ...``, with
    the kubectl in ``bin_dir``) until Ctrl-C; also what the teardown tests run in a
    child process. ``--no-controllers`` starts etcd and kube-apiserver only.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    binaries = locate_binaries()
    if "--no-controllers" in args:
        binaries = replace(binaries, kube_controller_manager=None)
    with running_plane(binaries) as plane:
        if "--nodes" in args:
            plane.start_nodes()
        print(
            json.dumps(
                {
                    "kubeconfig": str(plane.kubeconfig),
                    "server": plane.server,
                    "bin_dir": str(plane.bin_dir),
                    "version": plane.version,
                    "workdir": str(plane.workdir),
                    "pids": plane.pids(),
                    "startup_seconds": plane.startup_seconds,
                }
            ),
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
