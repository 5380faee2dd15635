"""Real cert-manager (v1.21.2) running against the test plane: its CRDs, its controller, its cainjector.

Why: otelwire's install gets the webhook's serving certificate from cert-manager
(manifests/certificates: a self-signed Issuer and the Certificate
``otelwire-webhook``) and the webhook configuration's ``caBundle`` from
cert-manager's cainjector (manifests/operator/webhook.yaml). Only the real
programs can say whether those manifests work, so ``tests/partners/certmanager``
builds them from cert-manager's Go module (``make partners``) -- the controllers
for Issuers, CertificateRequests (approver, self-signed issuer) and
Certificates, and the cainjector for MutatingWebhookConfigurations -- and this
module runs them as processes against a plane, with the plane's admin
kubeconfig, their logs in files.

How to use it:

* the session fixture :func:`cert_manager` (a plugin of tests/conftest.py) installs the CRDs and starts both programs once per
  session, and yields a :class:`CertManager`; one cert-manager per plane, as in
  a cluster: two controllers would both act on every Certificate;
* :meth:`CertManager.wait_ready` waits for a cert-manager object's ``Ready``
  condition and fails with the object, the events and both programs' log tails;
* for a plane of one's own, ``with running(plane, logs_dir) as manager:`` does
  the same (CRDs via :func:`install_crds`, both programs started, stopped on
  exit).

Missing binaries or CRD files fail the test with the command that builds them
(``partners.binary`` / ``partners.files``); nothing is skipped. Both programs
talk only to the plane's API server; they serve nothing (no metrics, healthz
or pprof listeners: see the mains in tests/partners/certmanager/cmd/).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from plane import Component, Plane

from partners import binary, files

PARTNER: Final = "certmanager"
VERSION: Final = "v1.21.2"
CRD_GLOB: Final = "deploy/crds/*.yaml"
READY_TIMEOUT: Final = 120.0  # seconds; a 2-core machine shared with other builds
# Helm's default for both programs (deploy/charts/cert-manager/values.yaml: --v=2): what each
# controller starts, syncs and issues, without the debug noise.
VERBOSITY: Final = "--v=2"


def crd_files() -> list[Path]:
    """The CRD files cert-manager's module ships (``deploy/crds/``), as the partner build copied them."""
    found = sorted(files(PARTNER).glob(CRD_GLOB))
    if not found:
        pytest.fail(f"no {CRD_GLOB} in {files(PARTNER)}: run `tests/partners/build.sh {PARTNER}`", pytrace=False)
    return found


def install_crds(plane: Plane, timeout: float = 60.0) -> tuple[str, ...]:
    """Server-side apply cert-manager's CRDs and wait until each is Established; their names."""
    paths = crd_files()
    names = [str(yaml.safe_load(path.read_text())["metadata"]["name"]) for path in paths]
    # Server-side, as the README applies CRDs: no last-applied-configuration annotation (kubectl's
    # client-side apply would store a 146 KB copy of the Issuer and ClusterIssuer schemas in each).
    plane.kubectl("apply", "--server-side", "--field-manager=cert-manager-install", *(f"--filename={p}" for p in paths))
    plane.kubectl("wait", "--for=condition=Established", f"--timeout={timeout:.0f}s", *(f"crd/{n}" for n in names))
    return tuple(names)


@dataclass
class CertManager:
    """cert-manager's controller and cainjector, running against ``plane``."""

    plane: Plane
    controller: Component
    cainjector: Component
    crds: tuple[str, ...]

    @property
    def components(self) -> tuple[Component, Component]:
        return (self.controller, self.cainjector)

    def logs(self, lines: int = 40) -> str:
        """The last ``lines`` of each program's log, headed by its log file."""
        return "\n".join(f"--- {c.name} ({c.log_path}):\n{c.log_tail(lines)}" for c in self.components)

    def check(self) -> None:
        """Fail the test, with the logs, when either program has exited."""
        dead = [c for c in self.components if not c.running()]
        if dead:
            codes = ", ".join(f"{c.name} exited with {c.popen.returncode if c.popen else None}" for c in dead)
            pytest.fail(f"cert-manager is not running: {codes}\n{self.logs()}", pytrace=False)

    def wait_for(
        self, what: str, check: Callable[[], bool], timeout: float = READY_TIMEOUT, context: Callable[[], str] = str
    ) -> None:
        """Poll ``check`` until true; fail with ``context()`` and the logs on timeout or when a program exits."""
        deadline = time.monotonic() + timeout
        while not check():
            self.check()
            if time.monotonic() > deadline:
                pytest.fail(
                    f"timed out after {timeout:.0f}s waiting for {what}\n{context()}\n{self.logs()}", pytrace=False
                )
            time.sleep(0.5)

    def wait_ready(self, resource: str, name: str, namespace: str, timeout: float = READY_TIMEOUT) -> dict[str, Any]:
        """Wait for ``resource`` (e.g. ``certificate``) ``name`` to have condition ``Ready=True``; the object."""
        seen: dict[str, Any] = {}

        def ready() -> bool:
            got = self.plane.kubectl("get", resource, name, "-n", namespace, "-o", "json", check=False)
            if got.returncode != 0:
                return False
            seen.clear()
            seen.update(json.loads(got.stdout))
            conditions = seen.get("status", {}).get("conditions", [])
            return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

        def context() -> str:
            events = self.plane.kubectl("get", "events", "-n", namespace, "--sort-by=.lastTimestamp", check=False)
            return f"--- {resource} {namespace}/{name}:\n{yaml.safe_dump(seen)}--- events:\n{events.stdout}"

        self.wait_for(f"{resource} {namespace}/{name} Ready", ready, timeout, context)
        return seen

    def stop(self) -> None:
        for component in reversed(self.components):
            component.stop()


def _program(plane: Plane, name: str, logs: Path) -> Component:
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig)}
    argv = [str(binary(PARTNER, name)), f"--kubeconfig={plane.kubeconfig}", VERBOSITY]
    return Component(f"cert-manager-{name}", argv, logs / f"{name}.log", env=env)


@contextlib.contextmanager
def running(plane: Plane, logs: Path) -> Iterator[CertManager]:
    """Install the CRDs, start the controller and the cainjector (logs in ``logs``), stop them on exit."""
    controller, cainjector = _program(plane, "controller", logs), _program(plane, "cainjector", logs)
    crds = install_crds(plane)
    manager = CertManager(plane, controller, cainjector, crds)
    try:
        controller.start()
        cainjector.start()
        time.sleep(1.0)  # a wrong flag or kubeconfig ends a program at once: say so here, not at a later wait
        manager.check()
        yield manager
    finally:
        manager.stop()


@pytest.fixture(scope="session")
def cert_manager(plane: Plane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CertManager]:
    """cert-manager v1.21.2 on the session's plane: CRDs installed, controller and cainjector running."""
    with running(plane, tmp_path_factory.mktemp("cert-manager")) as manager:
        yield manager
