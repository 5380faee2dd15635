"""The install test's world: a fresh plane, test hosts, real cert-manager, a real collector.

One module, in order, on a plane of its own (a fresh cluster, as the README's user
has): the README's install lines, then what the installed operator does, then its
RBAC judged by the API server's audit log, then the uninstall.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from partners import binary, cert_manager
from partners.cert_manager import CertManager
from plane import LocalPlane, PlaneError
from support.network import TestNetwork
from support.pods import Endpoints, PodProcess, container_from_template, https_ready

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = "otelwire-system"
COLLECTOR_NAMES = ("otel-collector.observability.svc", "otel-collector.observability.svc.cluster.local")
OTLP_HTTP = 4318


@pytest.fixture(scope="module")
def install_plane() -> Iterator[LocalPlane]:
    """A cluster of its own: nothing another test applied, and nothing of this one left for others."""
    plane = LocalPlane()
    try:
        plane.start()
        plane.start_nodes()
    except PlaneError as error:
        plane.stop()
        pytest.fail(f"control plane unavailable: {error}", pytrace=False)
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="module")
def network(install_plane: LocalPlane) -> Iterator[TestNetwork]:
    port = int(install_plane.server.rsplit(":", 1)[1])
    found = TestNetwork(install_plane.host_subnet, port)
    try:
        yield found
    finally:
        found.close()


@dataclass
class RealCollector:
    """An OpenTelemetry Collector (tests/partners/otelcol) on the gateway: cluster DNS names resolve to it."""

    process: subprocess.Popen[bytes]
    address: str
    log: Path

    @property
    def endpoint(self) -> str:
        return f"http://{self.address}:{OTLP_HTTP}"


@pytest.fixture(scope="module")
def collector(network: TestNetwork, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCollector]:
    workdir = tmp_path_factory.mktemp("collector")
    config = {
        "receivers": {"otlp": {"protocols": {"http": {"endpoint": f"{network.gateway}:{OTLP_HTTP}"}}}},
        "exporters": {"file": {"path": str(workdir / "out.json")}},
        "service": {
            "pipelines": {
                signal: {"receivers": ["otlp"], "exporters": ["file"]} for signal in ("traces", "metrics", "logs")
            },
            "telemetry": {"metrics": {"level": "none"}},
        },
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    log = workdir / "collector.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(binary("otelcol", "otelcol")), f"--config={workdir / 'config.yaml'}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    found = RealCollector(process, str(network.gateway), log)
    try:
        deadline = time.monotonic() + 60
        while "Everything is ready" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the collector did not start:\n{log.read_text(errors='replace')}", pytrace=False)
            time.sleep(0.2)
        yield found
    finally:
        process.terminate()
        process.wait(30)


def image_of(dockerfile: Path) -> tuple[list[str], dict[str, str], str]:
    """The final stage's ENTRYPOINT, ENV and USER, as the image would run them."""
    stage = dockerfile.read_text().split("\nFROM ")[-1]
    entrypoint: list[str] = []
    env: dict[str, str] = {}
    user = ""
    for line in stage.replace("\\\n", " ").splitlines():
        words = line.split(maxsplit=1)
        if not words:
            continue
        if words[0] == "ENTRYPOINT":
            entrypoint = json.loads(words[1])
        elif words[0] == "ENV":
            for pair in words[1].split():
                key, _, value = pair.partition("=")
                env[key] = value
        elif words[0] == "USER":
            user = words[1].strip()
    return entrypoint, env, user


@dataclass
class Installation:
    """What the test installed and runs: the plane, the test hosts, the operator's pods and their endpoints."""

    plane: LocalPlane
    network: TestNetwork
    collector: RealCollector
    workdir: Path
    venv: Path
    started: float = field(default_factory=time.time)  # the audit log is read from here on
    pods: list[PodProcess] = field(default_factory=list)
    endpoints: Endpoints | None = None
    ran: list[str] = field(default_factory=list)  # README lines run, in order
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def start_cert_manager(self) -> CertManager:
        """What the README's cert-manager line installs, from cert-manager's Go module (v1.21.2):
        its CRDs, then its controller and cainjector against the plane."""
        logs = self.workdir / "cert-manager"
        logs.mkdir(exist_ok=True)
        return self.stack.enter_context(cert_manager.running(self.plane, logs))

    def secret_folder(self, name: str, namespace: str = SYSTEM) -> Path:
        """A Secret's keys as files, as the kubelet mounts a secret volume (0644)."""
        secret = self.plane.kubectl_json("get", "secret", name, "-n", namespace)
        folder = Path(tempfile.mkdtemp(prefix=f"secret-{name}-", dir=self.workdir))
        folder.chmod(0o755)
        for key, value in (secret.get("data") or {}).items():
            (folder / key).write_bytes(base64.b64decode(value))
            (folder / key).chmod(0o644)
        return folder

    def service_account_folder(self, account: str = "otelwire", namespace: str = SYSTEM) -> Path:
        """The projected service-account volume: a TokenRequest token, the cluster's CA, the namespace."""
        token = self.plane.kubectl("create", "token", account, "-n", namespace, "--duration=2h").stdout.strip()
        ca = self.plane.kubectl_json("get", "configmap", "kube-root-ca.crt", "-n", namespace)["data"]["ca.crt"]
        folder = Path(tempfile.mkdtemp(prefix="serviceaccount-", dir=self.workdir))
        folder.chmod(0o755)
        for name, text in (("token", token), ("ca.crt", ca), ("namespace", namespace)):
            (folder / name).write_text(text)
            (folder / name).chmod(0o644)
        return folder

    def start_operator_pods(self) -> None:
        """The shipped Deployment's pods, one per replica, each on a test host of its own."""
        deployment = self.plane.kubectl_json("get", "deployment", "otelwire", "-n", SYSTEM)
        template = deployment["spec"]["template"]
        entrypoint, image_env, _ = image_of(ROOT / "Dockerfile")
        image_env = {
            **image_env,
            "PATH": f"{self.venv / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": "/",
            **self.network.api_env,
        }
        secret = deployment_secret(template)
        volumes = {volume: self.secret_folder(name) for volume, name in secret.items()}
        account = self.service_account_folder(template["spec"].get("serviceAccountName", "default"))
        self.endpoints = Endpoints(
            "otelwire-webhook",
            SYSTEM,
            "webhook",
            container_port(template, "webhook"),
            apply=lambda text: self.plane.kubectl("apply", "-f", "-", input=text),
            probe=https_ready(container_port(template, "webhook")),
        ).start()
        hosts = dict.fromkeys(COLLECTOR_NAMES, self.collector.address)
        for index in range(int(deployment["spec"]["replicas"])):
            name = f"otelwire-{index}"
            container = container_from_template(
                template,
                pod_name=name,
                namespace=SYSTEM,
                volumes=volumes,
                entrypoint=entrypoint,
                image_env=image_env,
                image=self.venv,
            )
            container.read_only["/var/run/secrets/kubernetes.io/serviceaccount"] = account
            pod = PodProcess(name, self.network.add_host(), container, self.workdir, hosts).start()
            self.pods.append(pod)
            self.endpoints.add(pod)
        self.endpoints.wait_ready([pod.name for pod in self.pods], 120)

    def logs(self, lines: int = 30) -> str:
        return "\n".join(f"--- {pod.name}:\n{pod.tail(lines)}" for pod in self.pods)

    def stop(self) -> None:
        if self.endpoints is not None:
            self.endpoints.stop()
        for pod in self.pods:
            pod.stop()
        self.stack.close()


def deployment_secret(template: dict[str, Any]) -> dict[str, str]:
    """Secret volumes of a pod template: volume name -> Secret name."""
    return {v["name"]: v["secret"]["secretName"] for v in template["spec"].get("volumes") or [] if "secret" in v}


def container_port(template: dict[str, Any], name: str) -> int:
    for container in template["spec"]["containers"]:
        for port in container.get("ports") or []:
            if port.get("name") == name:
                return int(port["containerPort"])
    raise KeyError(name)


@pytest.fixture(scope="module")
def installation(
    install_plane: LocalPlane,
    network: TestNetwork,
    collector: RealCollector,
    installed_package: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Installation]:
    workdir = Path(tempfile.mkdtemp(prefix="otelwire-install-"))
    workdir.chmod(0o755)  # the pods' user reads its mounted files from here
    found = Installation(install_plane, network, collector, workdir, installed_package)
    try:
        yield found
    finally:
        found.stop()
        keep = tmp_path_factory.mktemp("install-logs")
        for pod in found.pods:
            shutil.copy(pod.log_path, keep / f"{pod.name}.log")
        shutil.rmtree(workdir, ignore_errors=True)
