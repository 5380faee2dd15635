"""Fixtures for the end-to-end tests: the built Go sample, an OTLP receiver, a process reaper.

The Go binary is built once per session into the gitignored ``.cache/e2e``;
the receiver and the process set are per test, so a failing test can neither
leak spans into the next one nor leave a service running.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .harness import Processes, build_go_service
from .otlp_receiver import OtlpReceiver


@pytest.fixture(scope="session")
def go_service() -> list[str]:
    """Command line of the freshly built Go sample service."""
    return [str(build_go_service())]


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as r:
        yield r


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[Processes]:
    processes = Processes(tmp_path)
    try:
        yield processes
    finally:
        processes.close()
