"""One way for a test to wait for the cluster or a program: poll until true, and on timeout say what was seen."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    what: str,
    check: Callable[[], Any],
    timeout: float = 60.0,
    interval: float = 0.3,
    explain: Callable[[], Any] | None = None,
) -> Any:
    """Poll ``check`` until truthy and return what it returned; on timeout fail with the last value
    and ``explain()`` (a log, the objects seen), printed as text."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    context = f"\n{explain()}" if explain is not None else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r}){context}")
