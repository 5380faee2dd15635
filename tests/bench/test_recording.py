"""Where a benchmark run writes: only the run that writes the reference result redraws the figure in docs/."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import recording  # noqa: E402

DOCS_FIGURE = BENCH.parent / "docs" / "convergence.png"


@pytest.mark.parametrize(
    ("quick", "output", "expected"),
    [
        (False, None, DOCS_FIGURE),
        (True, None, "beside"),
        (False, "/tmp/otelwire-trial.json", Path("/tmp/otelwire-trial.png")),
        (True, "/tmp/otelwire-trial.json", Path("/tmp/otelwire-trial.png")),
    ],
)
def test_only_the_reference_run_redraws_the_docs_figure(quick: bool, output: str | None, expected: object) -> None:
    written = recording.destination("convergence", quick=quick, output=output)
    drawn = recording.figure("convergence", written, DOCS_FIGURE)
    if expected == "beside":
        assert drawn == written.with_suffix(".png") and drawn.parent != DOCS_FIGURE.parent
    else:
        assert drawn == expected


def test_a_relative_output_naming_the_reference_counts_as_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BENCH.parent)
    written = recording.destination("convergence", output="bench/results/convergence.json")
    assert recording.figure("convergence", written, DOCS_FIGURE) == DOCS_FIGURE
