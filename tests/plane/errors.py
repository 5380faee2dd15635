"""The plane's two exceptions: one for "cannot find, start or use it", one for a failed kubectl."""

from __future__ import annotations

import subprocess


class PlaneError(RuntimeError):
    """The control plane could not be found, started or used; the message says what to do."""


class KubectlError(subprocess.CalledProcessError):
    """kubectl exited non-zero; unlike CalledProcessError, str() includes its stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr:\n{self.stderr}\nstdout:\n{self.output}"
