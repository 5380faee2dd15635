"""``otelwire render`` as a user runs it, for tests that take what they run from its output."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

OPERATOR = Path(__file__).resolve().parents[2] / "operator"


@dataclass(frozen=True)
class Rendered:
    documents: list[dict[str, Any]]  # every non-empty document printed, in order
    warnings: str  # what render wrote to stderr

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [doc for doc in self.documents if doc.get("kind") == kind]


def render(objects: Sequence[Mapping[str, Any]], *flags: str, cwd: Path | None = None) -> Rendered:
    """``otelwire render -f - *flags`` on ``objects`` (a MonitoredService and workloads), in a fresh process.

    The caller's ``OTELWIRE_*`` variables are left out, so the output is the defaults' and the
    flags'; a non-zero exit fails the test with render's message.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTELWIRE_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(OPERATOR), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "otelwire.cli.main", "render", "-f", "-", *flags],
        input=yaml.safe_dump_all([dict(o) for o in objects], sort_keys=False),
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"otelwire render exited {done.returncode}: {done.stderr}"
    return Rendered([doc for doc in yaml.safe_load_all(done.stdout) if doc], done.stderr)
