"""The plane's processes and their reaping: nothing the plane starts may outlive it.

Each :class:`Component` runs in a new session (its own process group) and is stopped group
by group (SIGTERM, then SIGKILL). As a safety net, an ``atexit`` hook and SIGTERM/SIGHUP
handlers stop every tracked plane and component, and on Linux each child gets
``PR_SET_PDEATHSIG`` so that even a SIGKILLed pytest takes them down with it.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final, Protocol

from plane.errors import PlaneError

STOP_TIMEOUT: Final = 15.0


class _Stoppable(Protocol):
    def stop(self) -> None: ...


_LIVE: set[Component] = set()
_LIVE_PLANES: set[_Stoppable] = set()
_LIVE_LOCK = threading.Lock()
_REAPER_INSTALLED = False
_PREVIOUS_HANDLERS: dict[int, Any] = {}
_PR_SET_PDEATHSIG: Final = 1


def track_plane(plane: _Stoppable) -> None:
    """Have the reaper stop ``plane`` at exit or on SIGTERM/SIGHUP, until :func:`untrack_plane`."""
    install_reaper()
    with _LIVE_LOCK:
        _LIVE_PLANES.add(plane)


def untrack_plane(plane: _Stoppable) -> None:
    with _LIVE_LOCK:
        _LIVE_PLANES.discard(plane)


def _reap_all() -> None:
    """Stop every plane and component still running: the atexit / signal safety net."""
    with _LIVE_LOCK:
        planes = list(_LIVE_PLANES)
    for plane in planes:
        plane.stop()
    with _LIVE_LOCK:
        strays = sorted(_LIVE, key=lambda c: c.started_at, reverse=True)
    for component in strays:
        component.stop(timeout=5.0)


def _on_fatal_signal(signum: int, frame: FrameType | None) -> None:
    """SIGTERM/SIGHUP: stop the planes, then end the program the way Ctrl-C does.

    A previous Python handler is called instead. Where the default (die at once) was
    in force, KeyboardInterrupt is raised: pytest then stops the session and runs
    fixture teardown — SystemExit would only fail the current test and carry on with
    the plane gone — and a plain script unwinds its finally-blocks and atexit hooks.
    """
    _reap_all()
    previous = _PREVIOUS_HANDLERS.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def install_reaper() -> None:
    """Register the atexit hook and the SIGTERM/SIGHUP handlers, once.

    SIGINT is left alone: pytest turns it into KeyboardInterrupt, which runs fixture
    teardown and then atexit.
    """
    global _REAPER_INSTALLED
    if _REAPER_INSTALLED:
        return
    _REAPER_INSTALLED = True
    atexit.register(_reap_all)
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            _PREVIOUS_HANDLERS[signum] = signal.getsignal(signum)
            signal.signal(signum, _on_fatal_signal)


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn that makes the child get SIGKILL when this process dies (Linux only).

    Only from the main thread: the kernel ties PDEATHSIG to the thread that forked,
    so a child forked from a short-lived thread would die with that thread.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return hook


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # killpg succeeds while zombies remain; ask /proc whether a live member is left.
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@dataclass(eq=False)
class Component:
    """One process of the plane, in its own session (process group), logging to a file."""

    name: str
    argv: list[str]
    log_path: Path
    env: Mapping[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = field(default=None, init=False)
    started_at: float = field(default=0.0, init=False)

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was not started"
        return self.popen.pid

    def start(self) -> Component:
        install_reaper()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: Ctrl-C reaches us, not them
                preexec_fn=_die_with_parent_hook(),  # only prctl; main thread only
                env=dict(self.env) if self.env is not None else None,
            )
        self.started_at = time.monotonic()
        with _LIVE_LOCK:
            _LIVE.add(self)
        return self

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the whole process group, SIGKILL it after ``timeout``; reap the child."""
        popen = self.popen
        if popen is None:
            return
        pgid = popen.pid  # start_new_session: the group id is the child's pid
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    popen.wait(timeout=0.1)
                if popen.poll() is not None and not _group_alive(pgid):
                    break
            else:
                continue
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=5.0)
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    what: str, check: Callable[[], bool], timeout: float, component: Component | None = None, interval: float = 0.2
) -> None:
    """Poll ``check`` until it is true; PlaneError on timeout or when ``component`` exits first."""
    deadline = time.monotonic() + timeout
    while True:
        if component is not None and not component.running():
            raise PlaneError(f"{component.name} exited while waiting for {what}:\n{component.log_tail()}")
        try:
            if check():
                return
        except (OSError, urllib.error.URLError, subprocess.SubprocessError, ValueError):
            pass
        if time.monotonic() > deadline:
            tail = f":\n{component.log_tail()}" if component is not None else ""
            raise PlaneError(f"timed out after {timeout:.0f}s waiting for {what}{tail}")
        time.sleep(interval)
