"""Run only by test_plane_smoke.py, in a child pytest: a session that fails, then is interrupted.

Not named ``test_*.py``, so a normal run never collects it. The first test records
the plane's pids and fails; the second waits to be SIGTERMed. The parent then checks
that neither the failure nor the interruption left a plane process behind — the
path a developer's Ctrl-C or CI's time-out takes.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from plane import LocalPlane, Plane

PROBE_FILE_ENV = "OTELWIRE_PLANE_PROBE_FILE"


def _record(plane: Plane, state: str) -> None:
    assert isinstance(plane, LocalPlane)
    payload = {"state": state, "pids": plane.pids(), "workdir": str(plane.workdir)}
    Path(os.environ[PROBE_FILE_ENV]).write_text(json.dumps(payload))


def test_fails_with_the_plane_up(plane: Plane) -> None:
    _record(plane, "failing")
    raise AssertionError("deliberate failure: the plane must still be torn down")


def test_waits_to_be_interrupted(plane: Plane) -> None:
    _record(plane, "waiting")
    time.sleep(300)
