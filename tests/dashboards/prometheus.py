"""A real Prometheus server for the dashboard tests: Debian's ``prometheus``, on loopback, in a temp dir.

Started with a generated config (``scrape_interval: 1s``, one job per target,
the job name chosen by the test -- the service name, as otelwire's PodMonitor
does), its TSDB under the test's temporary directory, and its web API on a free
127.0.0.1 port.  :meth:`Prometheus.stop` always terminates it (then kills it),
so a failing test never leaves a server behind.  ``scripts/system-deps.sh``
installs the binary; without it the tests fail and say so.  Others give a binary
(Debian's has no Kubernetes discovery: tests/partners/prometheus builds one that
has) and a whole configuration of their own.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrometheusError(RuntimeError):
    pass


class Prometheus:
    """One prometheus process scraping ``jobs`` (job name -> ``host:port``)."""

    def __init__(
        self,
        workdir: Path,
        jobs: Mapping[str, str],
        scrape_interval: str = "1s",
        *,
        binary: Path | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        """``config``, when given, is the whole configuration (``jobs`` and ``scrape_interval`` unused)."""
        found = str(binary) if binary is not None else shutil.which("prometheus")
        if found is None:
            raise PrometheusError(
                "the prometheus binary is not installed: run scripts/system-deps.sh (make system-deps)"
            )
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if config is None:
            config = {
                "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
                "scrape_configs": [
                    {"job_name": name, "scrape_timeout": scrape_interval, "static_configs": [{"targets": [target]}]}
                    for name, target in jobs.items()
                ],
            }
        config_path = workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(dict(config)))
        self.log_path = workdir / "prometheus.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                found,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:  # 400/422: a bad query; the body says why
            return json.loads(error.read())

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PrometheusError(f"prometheus exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise PrometheusError(f"prometheus not ready after {timeout}s:\n{self.log()}")

    def targets(self) -> dict[str, str]:
        """Scrape health per job: "up", "down" or "unknown"."""
        data = self._get("/api/v1/targets")["data"]["activeTargets"]
        return {str(t["labels"]["job"]): str(t["health"]) for t in data}

    def discovery(self) -> dict[str, Any]:
        """``/api/v1/targets?state=any``: ``activeTargets`` and the ``droppedTargets`` relabeling dropped."""
        data: dict[str, Any] = self._get("/api/v1/targets", {"state": "any"})["data"]
        return data

    def query(self, expr: str) -> dict[str, Any]:
        """``/api/v1/query`` at now: the whole answer (``status``, ``data`` or ``error``)."""
        answer: dict[str, Any] = self._get("/api/v1/query", {"query": expr})
        return answer

    def label_values(self, label: str, match: str) -> list[str]:
        answer = self._get(f"/api/v1/label/{label}/values", {"match[]": match})
        return [str(v) for v in answer.get("data") or []]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()
