"""Where a benchmark's result goes: one reference file per benchmark, ``bench/results/<name>.json``.

A full run replaces its benchmark's reference (git keeps the ones before it,
and ``docs/benchmarks.md`` quotes the one checked in).  A ``--quick`` run checks
the machinery, not the numbers, so it never replaces a reference: without
``--output`` it writes into the system's temporary directory.  The same holds for
a benchmark's figure: only the run that writes the reference redraws the one in
``docs/``; any other run draws its figure beside its JSON.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def destination(name: str, *, quick: bool = False, output: str | Path | None = None) -> Path:
    """The file a run of benchmark ``name`` writes: ``output`` if given, else its reference (full runs)
    or a file in the temporary directory (quick runs)."""
    if output is not None:
        return Path(output)
    if quick:
        return Path(tempfile.gettempdir()) / f"otelwire-bench-{name}-quick.json"
    return RESULTS / f"{name}.json"


def record(name: str, report: dict[str, Any], *, quick: bool = False, output: str | Path | None = None) -> Path:
    """Write ``report`` as JSON to :func:`destination` and return the path."""
    path = destination(name, quick=quick, output=output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1) + "\n")
    return path


def figure(name: str, written: Path, reference: Path) -> Path:
    """Where the run that wrote ``written`` draws its figure: ``reference`` (the one in ``docs/``) only
    if ``written`` is benchmark ``name``'s reference result, else beside ``written``."""
    if written.resolve() == (RESULTS / f"{name}.json").resolve():
        return reference
    return written.with_suffix(".png")
